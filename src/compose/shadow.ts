/**
 * Shadows synthesised from the subject's alpha. Pure.
 *
 * Two parts, combined as 1 − (1 − contact)(1 − cast):
 *   contact  a short dark band under the subject's lowest points (the columns whose bottom lies
 *            within a few band heights of the lowest one), fading exponentially downward over
 *            `contact.height` and softened by a small blur: the subject standing on the ground.
 *   cast     the silhouette moved by `distance` in direction `angle`, blurred by `softness`,
 *            times `opacity`: a drop shadow.
 * Computed on a block grid of ≤ 1024 px on the long side (shadows are soft), upsampled
 * bilinearly. All lengths are px at a 1024-px long side, scaled to the image. The result is a
 * shadow alpha (0..255) to darken the background with (`applyShadow`) before the subject is
 * composited over it.
 */
import { boxMean } from './guided-filter.js';
import { REFERENCE_LONG_SIDE, scaledPx, upsampleGridTo8 } from './resample.js';
import type { RGB } from './color.js';

export interface ContactShadowOptions {
  /** Band height, px at 1024 (default 10). */
  height?: number;
  /** Darkness 0..1 at the contact line (default 0.5). */
  opacity?: number;
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
  /** The contact shadow; false for none (default on). */
  contact?: ContactShadowOptions | false;
}

function blur3(p: Float32Array, gw: number, gh: number, r: number): Float32Array {
  if (r < 1) return p;
  const t = boxMean(p, gw, gh, r);
  boxMean(t, gw, gh, r, p);
  return boxMean(p, gw, gh, r, t);
}

/** Shadow alpha, width*height bytes (0 = no shadow). */
export function synthesizeShadow(alpha: Uint8Array, width: number, height: number, options: ShadowOptions = {}): Uint8Array {
  const n = width * height;
  if (alpha.length !== n) throw new RangeError('synthesizeShadow: sizes do not match');
  const s = Math.max(1, Math.ceil(Math.max(width, height) / REFERENCE_LONG_SIDE));
  const gw = Math.ceil(width / s);
  const gh = Math.ceil(height / s);
  const gn = gw * gh;
  // Coverage of each grid block, 0..1.
  const cov = new Float32Array(gn);
  for (let y = 0; y < height; y++) {
    const gy = ((y / s) | 0) * gw;
    for (let x = 0, i = y * width; x < width; x++, i++) cov[gy + ((x / s) | 0)]! += alpha[i]!;
  }
  for (let gy = 0; gy < gh; gy++) {
    const rows = Math.min(s, height - gy * s);
    for (let gx = 0; gx < gw; gx++) {
      const cols = Math.min(s, width - gx * s);
      cov[gy * gw + gx]! /= 255 * rows * cols;
    }
  }
  const toGrid = (px: number) => scaledPx(px, width, height) / s;

  // Cast shadow: the silhouette shifted and blurred.
  const opacity = Math.min(1, Math.max(0, options.opacity ?? 0.3));
  let cast: Float32Array | undefined;
  if (opacity > 0) {
    const angle = ((options.angle ?? 90) * Math.PI) / 180;
    const dist = toGrid(options.distance ?? 12);
    const dx = Math.round(Math.cos(angle) * dist);
    const dy = Math.round(Math.sin(angle) * dist);
    cast = new Float32Array(gn);
    for (let gy = 0; gy < gh; gy++) {
      const sy = gy - dy;
      if (sy < 0 || sy >= gh) continue;
      for (let gx = 0; gx < gw; gx++) {
        const sx = gx - dx;
        if (sx >= 0 && sx < gw) cast[gy * gw + gx] = cov[sy * gw + sx]! * opacity;
      }
    }
    cast = blur3(cast, gw, gh, Math.round(toGrid(options.softness ?? 16) / 2));
  }

  // Contact shadow: a band under the lowest points.
  let contact: Float32Array | undefined;
  if (options.contact !== false) {
    const c = options.contact ?? {};
    const band = Math.max(1, toGrid(c.height ?? 10));
    const cOpacity = Math.min(1, Math.max(0, c.opacity ?? 0.5));
    const bottom = new Int32Array(gw).fill(-1);
    let lowest = -1;
    for (let gy = 0; gy < gh; gy++) {
      for (let gx = 0; gx < gw; gx++) {
        if (cov[gy * gw + gx]! >= 0.5) {
          bottom[gx] = gy;
          if (gy > lowest) lowest = gy;
        }
      }
    }
    if (lowest >= 0 && cOpacity > 0) {
      contact = new Float32Array(gn);
      const reach = 3 * band;
      const depth = Math.ceil(4 * band);
      for (let gx = 0; gx < gw; gx++) {
        const b = bottom[gx]!;
        if (b < 0 || lowest - b > reach) continue;
        const w = cOpacity * (1 - (lowest - b) / reach);
        // Under the subject's edge (hidden except at soft edges) and fading below it.
        for (let gy = Math.max(0, Math.floor(b - band)); gy < gh && gy <= b + depth; gy++) {
          contact[gy * gw + gx] = gy <= b ? w : w * Math.exp(-(gy - b) / band);
        }
      }
      contact = blur3(contact, gw, gh, Math.round(band / 3));
    }
  }

  const total = new Float32Array(gn);
  for (let i = 0; i < gn; i++) {
    const a = cast ? cast[i]! : 0;
    const b = contact ? contact[i]! : 0;
    total[i] = 1 - (1 - a) * (1 - b);
  }
  return upsampleGridTo8(total, gw, gh, width, height, s);
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
