/**
 * The rim of a glass body whose silhouette is the product's outline — a jar, a bottle, a bowl.
 * Pure.
 *
 * Such a body is round: a row across it meets the glass at normal incidence in the middle and at
 * grazing incidence at the silhouette, and glass reflects more the more grazing the light
 * (Fresnel's equations, n = 1.5 in air: 4 % at normal incidence, 9 % at 60°, 39 % at 80°, all
 * at 90°). So towards the silhouette less of the view behind shows and more of the surroundings'
 * light is added: α rises over the outer part of the body. A row whose glass runs from the
 * background on one side to the background on the other is taken to cross such a body; the
 * incidence at a pixel is asin(r), r its distance from the row's middle over the half-width. The
 * view at the rim is the background just outside the silhouette on that side (the view is the
 * background, seen through a thin wall). A pane held by a frame has no such rows.
 */
import { CLASS_BACKGROUND, CLASS_GLASS } from './region-classes.js';

/** Refractive index of glass. */
const N = 1.5;
/** Non-glass pixels (an anti-aliased outline) allowed between a run's end and the background. */
const GAP = 2;
/** Shortest run taken for a body's width. */
const MIN_RUN = 8;
/** Rows above and below whose views beside are averaged, and whose rim light. */
const SMOOTH_ROWS = 4;
const LIGHT_ROWS = 12;
/** Pixels of background averaged beyond the silhouette (after skipping one) for the view there. */
const SPAN = 3;

export interface GlasswareRims {
  /** Per pixel: the rim's share of reflected light over the glass's own (0..1; 0 off the rims). */
  share: Float32Array;
  /** Per pixel, RGB: the view at the rim (the background just outside the nearer silhouette). */
  view: Float32Array;
}

/** Reflectance of an air–glass surface for unpolarised light at incidence `theta` (radians). */
export function fresnelReflectance(theta: number): number {
  const ci = Math.cos(theta);
  const st = Math.sin(theta) / N;
  const ct = Math.sqrt(Math.max(0, 1 - st * st));
  const rs = (ci - N * ct) / (ci + N * ct);
  const rp = (ct - N * ci) / (ct + N * ci);
  return (rs * rs + rp * rp) / 2;
}

const NORMAL = fresnelReflectance(0);

/** The rims of the glass bodies in `classes` (0 background, 1 opaque, 2 glass per pixel). */
export function glasswareRims(classes: Uint8Array, rgb: Uint8Array, width: number, height: number): GlasswareRims {
  const n = width * height;
  const out: GlasswareRims = { share: new Float32Array(n), view: new Float32Array(n * 3) };
  // Mean colour of the background just beyond `edge` (the last background pixel before the body) going `dir`.
  const viewBeyond = (row: number, edge: number, dir: number): number[] | undefined => {
    const m = [0, 0, 0];
    let k = 0;
    for (let q = 1; q <= SPAN; q++) {
      const x = edge + dir * q;
      if (x < 0 || x >= width || classes[row * width + x] !== CLASS_BACKGROUND) break;
      for (let ch = 0; ch < 3; ch++) m[ch]! += rgb[(row * width + x) * 3 + ch]!;
      k++;
    }
    return k ? m.map((v) => v / k) : undefined;
  };
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let x = 0;
    while (x < width) {
      if (classes[row + x] === CLASS_BACKGROUND) {
        x++;
        continue;
      }
      // A span of the product between two background pixels; its glass must reach both ends.
      const first = x;
      while (x < width && classes[row + x] !== CLASS_BACKGROUND) x++;
      const last = x - 1;
      if (first === 0 || x === width || last - first + 1 < MIN_RUN) continue;
      let g0 = first;
      while (g0 <= last && classes[row + g0] !== CLASS_GLASS) g0++;
      let g1 = last;
      while (g1 >= g0 && classes[row + g1] !== CLASS_GLASS) g1--;
      if (g0 > last || g0 - first > GAP || last - g1 > GAP) continue;
      const viewLeft = viewBeyond(y, first, -1),
        viewRight = viewBeyond(y, last, 1);
      if (!viewLeft || !viewRight) continue;
      const centre = (first + last + 1) / 2,
        half = (last - first + 1) / 2;
      for (let p = g0; p <= g1; p++) {
        const i = row + p;
        if (classes[i] !== CLASS_GLASS) continue;
        const r = Math.min(1, Math.abs(p + 0.5 - centre) / half);
        out.share[i] = Math.max(0, (fresnelReflectance(Math.asin(r)) - NORMAL) / (1 - NORMAL));
        const v = p + 0.5 < centre ? viewLeft : viewRight;
        for (let ch = 0; ch < 3; ch++) out.view[i * 3 + ch] = v[ch]!;
      }
    }
  }
  smoothAlongSilhouette(
    out.view,
    out.share.map((v) => (v > 0 ? 1 : 0)),
    width,
    height,
    SMOOTH_ROWS,
  );
  return out;
}

/**
 * The colour of the rims' light (un-premultiplied RGB per pixel): what the photo shows beyond the
 * view left through (`rims.view`) and the glass's own light — `own` its α, `light` its light
 * premultiplied (RGB) per pixel. A rim reflects the surroundings, which change slowly along it; the
 * estimate, a difference of a few noisy pixels that would let the old background's detail back
 * in, is averaged along the silhouette.
 */
export function rimLight(
  rims: GlasswareRims,
  rgb: Uint8Array,
  width: number,
  height: number,
  own: Float32Array,
  light: Float32Array,
): Float32Array {
  const { share, view } = rims;
  const out = new Float32Array(width * height * 3);
  // Each pixel's estimate counts by its rim's share: where that is small, the estimate is mostly noise.
  const weight = new Float32Array(width * height);
  for (let i = 0; i < width * height; i++) {
    const rim = share[i]! * (1 - own[i]!);
    if (rim <= 0) continue;
    weight[i] = rim;
    const total = own[i]! + rim;
    for (let c = 0; c < 3; c++) {
      const mine = rgb[i * 3 + c]! - (1 - total) * view[i * 3 + c]! - light[i * 3 + c]!;
      out[i * 3 + c] = Math.min(255, Math.max(0, mine / rim));
    }
  }
  smoothAlongSilhouette(out, weight, width, height, LIGHT_ROWS);
  return out;
}

/**
 * Averages `values` (RGB per pixel) over the rows above and below, each pixel counting by its
 * `weight` (those of weight 0 neither count nor change): the view beside one row is a few pixels
 * of a photo (noisy, a wisp of the background can cross it), and so is the rim's light, so the rim
 * would streak.
 */
function smoothAlongSilhouette(
  values: Float32Array,
  weight: Float32Array | Uint8Array,
  width: number,
  height: number,
  rows: number,
): void {
  const src = Float32Array.from(values);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (weight[i]! <= 0) continue;
      let r = 0,
        g = 0,
        b = 0,
        k = 0;
      for (let yy = Math.max(0, y - rows); yy <= Math.min(height - 1, y + rows); yy++) {
        const j = yy * width + x;
        const w = weight[j]!;
        if (w <= 0) continue;
        r += w * src[j * 3]!;
        g += w * src[j * 3 + 1]!;
        b += w * src[j * 3 + 2]!;
        k += w;
      }
      values[i * 3] = r / k;
      values[i * 3 + 1] = g / k;
      values[i * 3 + 2] = b / k;
    }
  }
}
