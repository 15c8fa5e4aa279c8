/**
 * Mask morphology and hole filling. Pure.
 *
 *   dilateMask   binary max filter (square, radius r), separable, O(n) per pass
 *   fillHoles    colours for the pixels a mask marks unknown, pulled in from the known ones by a
 *                push-pull pyramid (each level the weighted mean of 2×2 children; holes are filled
 *                from the coarser level, bilinearly) — smooth, with no seams and no trace of what
 *                lay under the hole.
 */

/** Pixels within `radius` (Chebyshev distance) of a pixel with mask ≥ threshold become 255, others 0. */
export function dilateMask(
  mask: Uint8Array,
  width: number,
  height: number,
  radius: number,
  threshold = 128,
): Uint8Array {
  if (mask.length !== width * height) throw new RangeError('dilateMask: sizes do not match');
  const r = Math.max(0, Math.round(radius));
  const on = new Uint8Array(width * height);
  for (let i = 0; i < on.length; i++) on[i] = mask[i]! >= threshold ? 1 : 0;
  if (r === 0) return on.map((v) => v * 255);
  // Horizontal pass: distance to the nearest set pixel in the row, via running counts.
  const tmp = new Uint8Array(width * height);
  const count = new Int32Array(width + 1);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) count[x + 1] = count[x]! + on[row + x]!;
    for (let x = 0; x < width; x++) {
      const a = Math.max(0, x - r);
      const b = Math.min(width, x + r + 1);
      tmp[row + x] = count[b]! - count[a]! > 0 ? 1 : 0;
    }
  }
  const out = new Uint8Array(width * height);
  const col = new Int32Array(height + 1);
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) col[y + 1] = col[y]! + tmp[y * width + x]!;
    for (let y = 0; y < height; y++) {
      const a = Math.max(0, y - r);
      const b = Math.min(height, y + r + 1);
      out[y * width + x] = col[b]! - col[a]! > 0 ? 255 : 0;
    }
  }
  return out;
}

interface Level {
  w: number;
  h: number;
  /** Premultiplied colour sums (3 per pixel) and weights. */
  c: Float32Array;
  wt: Float32Array;
}

/**
 * RGB with every pixel where `known` < 128 replaced by a smooth fill from the known pixels
 * (known pixels are returned exactly). With no known pixel at all the input is returned copied.
 */
export function fillHoles(rgb: Uint8Array, known: Uint8Array, width: number, height: number): Uint8Array {
  const n = width * height;
  if (rgb.length !== n * 3 || known.length !== n) throw new RangeError('fillHoles: sizes do not match');
  const out = Uint8Array.from(rgb);
  let any = false;
  let holes = false;
  for (let i = 0; i < n; i++) {
    if (known[i]! >= 128) any = true;
    else holes = true;
  }
  if (!any || !holes) return out;

  // Push: the pyramid of weighted means.
  const base: Level = { w: width, h: height, c: new Float32Array(n * 3), wt: new Float32Array(n) };
  for (let i = 0; i < n; i++) {
    if (known[i]! < 128) continue;
    base.wt[i] = 1;
    base.c[i * 3] = rgb[i * 3]!;
    base.c[i * 3 + 1] = rgb[i * 3 + 1]!;
    base.c[i * 3 + 2] = rgb[i * 3 + 2]!;
  }
  const levels: Level[] = [base];
  while (levels[levels.length - 1]!.w > 1 || levels[levels.length - 1]!.h > 1) {
    const f = levels[levels.length - 1]!;
    const w = Math.ceil(f.w / 2);
    const h = Math.ceil(f.h / 2);
    const c = new Float32Array(w * h * 3);
    const wt = new Float32Array(w * h);
    for (let y = 0; y < f.h; y++) {
      for (let x = 0; x < f.w; x++) {
        const i = y * f.w + x;
        const v = f.wt[i]!;
        if (v === 0) continue;
        const j = (y >> 1) * w + (x >> 1);
        wt[j]! += v;
        c[j * 3]! += f.c[i * 3]!;
        c[j * 3 + 1]! += f.c[i * 3 + 1]!;
        c[j * 3 + 2]! += f.c[i * 3 + 2]!;
      }
    }
    // Normalise so each level holds weights ≤ 1 (a mean) with colours premultiplied by them.
    for (let j = 0; j < w * h; j++) {
      const v = wt[j]!;
      if (v > 1) {
        const k = 1 / v;
        wt[j] = 1;
        c[j * 3]! *= k;
        c[j * 3 + 1]! *= k;
        c[j * 3 + 2]! *= k;
      }
    }
    levels.push({ w, h, c, wt });
  }

  // Pull: from the coarsest level down, each pixel's missing weight is taken from the coarser level.
  for (let l = levels.length - 2; l >= 0; l--) {
    const f = levels[l]!;
    const g = levels[l + 1]!;
    for (let y = 0; y < f.h; y++) {
      // Bilinear position in the coarser level (pixel centres).
      const gy = Math.min(g.h - 1, Math.max(0, (y + 0.5) / 2 - 0.5));
      const y0 = Math.floor(gy);
      const y1 = Math.min(g.h - 1, y0 + 1);
      const ty = gy - y0;
      for (let x = 0; x < f.w; x++) {
        const i = y * f.w + x;
        const v = f.wt[i]!;
        if (v >= 1) continue;
        const gx = Math.min(g.w - 1, Math.max(0, (x + 0.5) / 2 - 0.5));
        const x0 = Math.floor(gx);
        const x1 = Math.min(g.w - 1, x0 + 1);
        const tx = gx - x0;
        const w00 = (1 - tx) * (1 - ty);
        const w01 = tx * (1 - ty);
        const w10 = (1 - tx) * ty;
        const w11 = tx * ty;
        const a = y0 * g.w + x0;
        const b = y0 * g.w + x1;
        const c = y1 * g.w + x0;
        const d = y1 * g.w + x1;
        const gw = w00 * g.wt[a]! + w01 * g.wt[b]! + w10 * g.wt[c]! + w11 * g.wt[d]!;
        if (gw <= 0) continue;
        const miss = (1 - v) / gw;
        for (let k = 0; k < 3; k++) {
          const gc = w00 * g.c[a * 3 + k]! + w01 * g.c[b * 3 + k]! + w10 * g.c[c * 3 + k]! + w11 * g.c[d * 3 + k]!;
          f.c[i * 3 + k]! += gc * miss;
        }
        f.wt[i] = 1;
      }
    }
  }
  for (let i = 0; i < n; i++) {
    if (known[i]! >= 128) continue;
    const v = base.wt[i]!;
    if (v <= 0) continue;
    for (let k = 0; k < 3; k++) {
      const x = Math.round(base.c[i * 3 + k]! / v);
      out[i * 3 + k] = Math.min(Math.max(x, 0), 255);
    }
  }
  return out;
}
