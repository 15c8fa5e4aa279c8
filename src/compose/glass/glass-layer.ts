/**
 * The matte of glass pixels: C = α·F + (1−α)·B with the background B unknown. Pure.
 *
 *   B̂        the light seen through the glass: a local mean of the pane's pixels, computed
 *            again without the pixels that stand out brighter (reflections only add light)
 *   r        the reflection: how far C lies beyond (1−α₀)·B̂ + α₀·tint towards the reflected
 *            light (near white), least squares over the three channels, clipped
 *   α        α₀ + r, with α₀ = 1 − transmission
 *   F        (α₀·tint + r·light) / α — the glass's own tint and its reflections, never the old
 *            background seen through it
 */
import { boxMean } from '../guided-filter.js';
import { CLASS_GLASS } from './glass-regions.js';

export interface GlassLook {
  /** Share of light the glass lets through, 0..1 (default 0.9). */
  transmission: number;
  /** The glass's own colour (default a light cyan-green). */
  tint: [number, number, number];
}

export const DEFAULT_TRANSMISSION = 0.9;
export const DEFAULT_TINT: [number, number, number] = [190, 210, 208];
/** The light a pane reflects (a bright sky or studio light). */
const REFLECTED: [number, number, number] = [240, 243, 246];
/** Reflections are smoothed over this radius (px) and kept only above DEAD_ZONE of α. */
const SMOOTH_RADIUS = 2;
const DEAD_ZONE = 0.3;
/** Below this squared distance between B̂ and the reflected light a reflection cannot be told apart. */
const MIN_CONTRAST = 20000;

/** Normalised local mean of `plane` over the pixels `weight` marks (0/1), radius r. */
function maskedMean(plane: Float32Array, weight: Float32Array, width: number, height: number, r: number): Float32Array {
  const n = width * height;
  const num = new Float32Array(n);
  for (let i = 0; i < n; i++) num[i] = plane[i]! * weight[i]!;
  const a = boxMean(num, width, height, r);
  const b = boxMean(weight, width, height, r);
  for (let i = 0; i < n; i++) a[i] = b[i]! > 1e-4 ? a[i]! / b[i]! : plane[i]!;
  return a;
}

/**
 * Writes α and F of the glass pixels (`classes` = 2) into `alpha` / `fg` (F un-premultiplied RGB).
 * `side` is the product's short side in pixels (sets the scale of B̂).
 */
export function glassLayer(
  rgb: Uint8Array,
  width: number,
  height: number,
  classes: Uint8Array,
  side: number,
  look: GlassLook,
  alpha: Uint8Array,
  fg: Uint8Array,
): void {
  const n = width * height;
  const a0 = Math.min(0.95, Math.max(0.02, 1 - look.transmission));
  const planes = [0, 1, 2].map((c) => {
    const p = new Float32Array(n);
    for (let i = 0; i < n; i++) p[i] = rgb[i * 3 + c]!;
    return p;
  });
  const weight = new Float32Array(n);
  for (let i = 0; i < n; i++) weight[i] = classes[i] === CLASS_GLASS ? 1 : 0;
  const r = Math.max(2, Math.round(side * 0.03));
  let mean = planes.map((p) => maskedMean(p, weight, width, height, r));
  // Second pass without the pixels brighter than the local mean (reflections).
  const w2 = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (!weight[i]) continue;
    const up = planes[0]![i]! - mean[0]![i]! + planes[1]![i]! - mean[1]![i]! + planes[2]![i]! - mean[2]![i]!;
    w2[i] = up > 12 ? 0 : 1;
  }
  mean = planes.map((p) => maskedMean(p, w2, width, height, r));
  const tint = look.tint;
  const raw = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (classes[i] !== CLASS_GLASS) continue;
    // d = C − [(1−α₀)·B̂ + α₀·tint];  e = light − B̂;  r = d·e / e·e.
    let de = 0,
      ee = 0;
    for (let c = 0; c < 3; c++) {
      const b = mean[c]![i]!;
      const d = planes[c]![i]! - ((1 - a0) * b + a0 * tint[c]!);
      const e = REFLECTED[c]! - b;
      de += d * e;
      ee += e * e;
    }
    raw[i] = ee > MIN_CONTRAST ? Math.max(0, de / ee) : 0;
  }
  // Reflections are smooth and strong; the background's texture is neither: smooth over the pane
  // and keep only what rises clearly above it.
  const smooth = maskedMean(raw, weight, width, height, SMOOTH_RADIUS);
  for (let i = 0; i < n; i++) {
    if (classes[i] !== CLASS_GLASS) continue;
    const strong = Math.min(raw[i]!, smooth[i]!);
    const refl = strong < DEAD_ZONE ? 0 : Math.min(0.9 - a0, strong);
    const a = a0 + refl;
    alpha[i] = Math.round(a * 255);
    for (let c = 0; c < 3; c++) fg[i * 3 + c] = Math.min(255, Math.round((a0 * tint[c]! + refl * REFLECTED[c]!) / a));
  }
}
