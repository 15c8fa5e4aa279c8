/**
 * Shadows synthesised from the subject's alpha. Pure.
 *
 * Three parts, combined as 1 − (1 − ground)(1 − contact)(1 − cast):
 *   ground   the ambient occlusion of the floor under the subject: an ellipse over the footprint
 *            (the span of the columns whose bottom touches the ground line), spreading `spread`
 *            beyond it, darkest in its middle and fading smoothly to its rim, centred a little
 *            behind the ground line (the floor recedes upward in the picture). One soft shadow for
 *            the whole subject, as a softbox gives, rather than a smudge per foot.
 *   contact  tight darkening where parts touch the ground: under each column whose bottom lies
 *            within a few band heights of the lowest point, fading exponentially downward over
 *            half a band and softened by a small blur.
 *   cast     the silhouette moved by `distance` in direction `angle`, blurred by `softness`,
 *            times `opacity`: a drop shadow.
 * The ground and contact parts never reach above the subject's lower half. Computed on a block
 * grid of ≤ 512 px on the long side (shadows are soft), upsampled bilinearly. All lengths are px at
 * a 1024-px long side, scaled to the image. The result is a shadow alpha (0..1 on the grid, 0..255
 * full size) to darken the background with (`applyShadow`, or fused into the composite with
 * `compositeWithShadow`) before the subject is composited over it.
 */
import { boxMean } from './guided-filter.js';
import { scaledPx, upsampleGridTo8 } from './resample.js';
import type { RGB } from './color.js';

export interface ContactShadowOptions {
  /** Band height, px at 1024 (default 10). */
  height?: number;
  /** Darkness 0..1 at the contact line (default 0.5). */
  opacity?: number;
  /** Darkness 0..1 in the middle of the ground shadow (default 0.6 × opacity; 0 = none). */
  ground?: number;
  /** How far the ground shadow reaches beyond the footprint, px at 1024 (default 2.5 × height). */
  spread?: number;
}

export interface ShadowOptions {
  /** Direction the cast shadow falls, degrees: 0 = right, 90 = down (default 90). */
  angle?: number;
  /** Offset of the cast shadow, px at 1024 (default 12). */
  distance?: number;
  /** Blur radius of the cast shadow, px at 1024 (default 16). */
  softness?: number;
  /** Darkness 0..1 of the cast shadow (default 0.3; 0 = no cast shadow). */
  opacity?: number;
  /** The contact and ground shadow; false for none (default on). */
  contact?: ContactShadowOptions | false;
}

/** A shadow on a block grid: values 0..1, gw×gh cells of s×s px. */
export interface ShadowGrid {
  grid: Float32Array;
  gw: number;
  gh: number;
  s: number;
}

/** Cells per long side of the shadow grid, at most. */
const GRID_LONG_SIDE = 512;

function blur3(p: Float32Array, gw: number, gh: number, r: number): Float32Array {
  if (r < 1) return p;
  const t = boxMean(p, gw, gh, r);
  boxMean(t, gw, gh, r, p);
  return boxMean(p, gw, gh, r, t);
}

const clamp01 = (v: number) => Math.min(Math.max(v, 0), 1);

/** Coverage of each s×s block, 0..1 (partial blocks at the sides average what they hold). */
function coverage(alpha: Uint8Array, width: number, height: number, s: number, gw: number, gh: number): Float32Array {
  const cov = new Float32Array(gw * gh);
  const words =
    width % 4 === 0 && s % 4 === 0 && alpha.byteOffset % 4 === 0
      ? new Uint32Array(alpha.buffer, alpha.byteOffset, alpha.length >> 2)
      : undefined;
  for (let y = 0; y < height; y++) {
    const gy = ((y / s) | 0) * gw;
    if (words) {
      // Whole words lie in one block (s and the row length are multiples of 4); most are 0.
      const q0 = (y * width) >> 2;
      for (let q = 0, w4 = width >> 2; q < w4; q++) {
        const w = words[q0 + q]!;
        if (w === 0) continue;
        const g = gy + (((q * 4) / s) | 0);
        cov[g]! += w === 0xffffffff ? 1020 : (w & 255) + ((w >>> 8) & 255) + ((w >>> 16) & 255) + (w >>> 24);
      }
    } else {
      for (let x = 0, i = y * width; x < width; x++, i++) {
        const a = alpha[i]!;
        if (a) cov[gy + ((x / s) | 0)]! += a;
      }
    }
  }
  for (let gy = 0; gy < gh; gy++) {
    const rows = Math.min(s, height - gy * s);
    for (let gx = 0; gx < gw; gx++) {
      const cols = Math.min(s, width - gx * s);
      cov[gy * gw + gx]! /= 255 * rows * cols;
    }
  }
  return cov;
}

/** The shadow alpha on a block grid (0..1); see `synthesizeShadow`. */
export function shadowGrid(alpha: Uint8Array, width: number, height: number, options: ShadowOptions = {}): ShadowGrid {
  const n = width * height;
  if (alpha.length !== n) throw new RangeError('synthesizeShadow: sizes do not match');
  const s = Math.max(1, Math.ceil(Math.max(width, height) / GRID_LONG_SIDE));
  const gw = Math.ceil(width / s);
  const gh = Math.ceil(height / s);
  const gn = gw * gh;
  const cov = coverage(alpha, width, height, s, gw, gh);
  const toGrid = (px: number) => scaledPx(px, width, height) / s;
  const total = new Float32Array(gn);

  // Each column's lowest covered cell, the subject's top and its lowest point.
  const bottom = new Int32Array(gw).fill(-1);
  let lowest = -1;
  let top = gh;
  for (let gy = 0; gy < gh; gy++) {
    for (let gx = 0; gx < gw; gx++) {
      if (cov[gy * gw + gx]! >= 0.5) {
        bottom[gx] = gy;
        if (gy > lowest) lowest = gy;
        if (gy < top) top = gy;
      }
    }
  }
  // Cast shadow: the silhouette shifted and blurred; one falling downward fades in over its blur
  // radius from the subject's top, so its blur never shows above the subject.
  const opacity = clamp01(options.opacity ?? 0.3);
  if (opacity > 0) {
    const angle = ((options.angle ?? 90) * Math.PI) / 180;
    const dist = toGrid(options.distance ?? 12);
    const dx = Math.round(Math.cos(angle) * dist);
    const dy = Math.round(Math.sin(angle) * dist);
    let cast: Float32Array = new Float32Array(gn);
    for (let gy = 0; gy < gh; gy++) {
      const sy = gy - dy;
      if (sy < 0 || sy >= gh) continue;
      for (let gx = 0; gx < gw; gx++) {
        const sx = gx - dx;
        if (sx >= 0 && sx < gw) cast[gy * gw + gx] = cov[sy * gw + sx]! * opacity;
      }
    }
    const rr = Math.round(toGrid(options.softness ?? 16) / 2);
    cast = blur3(cast, gw, gh, rr);
    if (dy > 0 && lowest >= 0) {
      const ramp = Math.max(1, 3 * rr);
      for (let gy = 0; gy < Math.min(gh, top + ramp); gy++) {
        const f = gy < top ? 0 : (gy - top + 1) / (ramp + 1);
        for (let gx = 0, i = gy * gw; gx < gw; gx++, i++) cast[i]! *= f;
      }
    }
    total.set(cast);
  }

  if (options.contact !== false) {
    const c = options.contact ?? {};
    const band = Math.max(1, toGrid(c.height ?? 10));
    const cOpacity = clamp01(c.opacity ?? 0.5);
    const gOpacity = clamp01(c.ground ?? 0.6 * cOpacity);
    if (lowest >= 0) {
      // Columns touching the ground: bottom within `reach` of the lowest point.
      const reach = 3 * band;
      let fx0 = gw;
      let fx1 = -1;
      for (let gx = 0; gx < gw; gx++) {
        const b = bottom[gx]!;
        if (b >= 0 && lowest - b <= reach) {
          if (gx < fx0) fx0 = gx;
          fx1 = gx;
        }
      }
      // Nothing above the middle of the subject's height (and never above its top).
      const ceiling = top + (lowest - top) / 2;
      const part = new Float32Array(gn);
      if (gOpacity > 0) {
        // Ground: a rounded capsule over the footprint (flat across its inner 80 %, then an
        // elliptic falloff over the rest and the spread), behind the ground line, softened by a
        // blur of half the spread.
        const spread = Math.max(1, toGrid(c.spread ?? 2.5 * (c.height ?? 10)));
        const cx = (fx0 + fx1 + 1) / 2;
        const half = (fx1 + 1 - fx0) / 2;
        const inner = 0.8 * half;
        const ra = half + spread;
        const rb = Math.max(1, Math.min(Math.max(2 * band, 0.15 * ra), (lowest + 1 - ceiling) / 1.25));
        const cy = lowest + 1 - 0.25 * rb;
        const yTop = Math.max(0, Math.floor(cy - rb));
        const yEnd = Math.min(gh - 1, Math.ceil(cy + rb));
        const xTop = Math.max(0, Math.floor(cx - ra));
        const xEnd = Math.min(gw - 1, Math.ceil(cx + ra));
        const ground = new Float32Array(gn);
        for (let gy = yTop; gy <= yEnd; gy++) {
          const v = (gy + 0.5 - cy) / rb;
          for (let gx = xTop; gx <= xEnd; gx++) {
            const du = Math.abs(gx + 0.5 - cx) - inner;
            const u = du > 0 ? du / (ra - inner) : 0;
            const q = 1 - u * u - v * v;
            if (q > 0) ground[gy * gw + gx] = gOpacity * Math.sqrt(q) * q;
          }
        }
        const soft = blur3(ground, gw, gh, Math.max(1, Math.round(spread / 2)));
        for (let i = 0; i < gn; i++) part[i] = soft[i]!;
      }
      if (cOpacity > 0) {
        // Contact: under each touching column, fading downward over half a band.
        const fall = band / 2;
        const depth = Math.ceil(4 * fall);
        for (let gx = fx0; gx <= fx1; gx++) {
          const b = bottom[gx]!;
          if (b < 0 || lowest - b > reach) continue;
          const w = cOpacity * (1 - (lowest - b) / reach);
          for (let gy = Math.max(0, Math.floor(b - fall)); gy < gh && gy <= b + depth; gy++) {
            const v = gy <= b ? w : w * Math.exp(-(gy - b) / fall);
            const i = gy * gw + gx;
            part[i] = 1 - (1 - part[i]!) * (1 - v);
          }
        }
      }
      const soft = blur3(part, gw, gh, Math.max(1, Math.round(band / 3)));
      for (let gy = Math.max(0, Math.ceil(ceiling)); gy < gh; gy++) {
        for (let gx = 0, i = gy * gw; gx < gw; gx++, i++) total[i] = 1 - (1 - total[i]!) * (1 - soft[i]!);
      }
    }
  }
  return { grid: total, gw, gh, s };
}

/** Shadow alpha, width*height bytes (0 = no shadow). */
export function synthesizeShadow(
  alpha: Uint8Array,
  width: number,
  height: number,
  options: ShadowOptions = {},
): Uint8Array {
  const g = shadowGrid(alpha, width, height, options);
  return upsampleGridTo8(g.grid, g.gw, g.gh, width, height, g.s);
}

/** Background darkened by a shadow alpha toward `color` (default black): bg·(1−σ) + color·σ. */
export function applyShadow(bg: Uint8Array, shadow: Uint8Array, color: RGB = { r: 0, g: 0, b: 0 }): Uint8Array {
  const n = shadow.length;
  if (bg.length !== n * 3) throw new RangeError('applyShadow: sizes do not match');
  const out = new Uint8Array(n * 3);
  const col = [color.r, color.g, color.b];
  for (let i = 0, s = 0; i < n; i++, s += 3) {
    const a = shadow[i]!;
    const ia = 255 - a;
    for (let c = 0; c < 3; c++) out[s + c] = ((bg[s + c]! * ia + col[c]! * a + 128) * 257) >>> 16;
  }
  return out;
}
