/**
 * Segmentation quality metrics for 8-bit alphas against an 8-bit truth (255 = subject).
 *   IoU       of alpha ≥ 128 vs truth ≥ 128 (1 when both are empty)
 *   MAE       mean |alpha − truth| / 255 over all pixels
 *   edge MAE  the same over the edge band: 0 < truth < 255, or within `radius` px (square window)
 *             of the boundary of truth ≥ 128; default radius max(3, round(long side / 200))
 */
export interface Scores {
  iou: number;
  mae: number;
  edgeMae: number;
  edgePixels: number;
}

/** Edge band: 0 < truth < 255, or within r px (square window) of the boundary of truth ≥ 128. */
export function edgeBand(truth: Uint8Array, w: number, h: number, r: number): Uint8Array {
  // Integral image of the binary mask: a window is "mixed" when it holds some but not all ones.
  const I = new Int32Array((w + 1) * (h + 1));
  for (let y = 0; y < h; ++y) {
    let row = 0;
    for (let x = 0; x < w; ++x) {
      row += truth[y * w + x]! >= 128 ? 1 : 0;
      I[(y + 1) * (w + 1) + x + 1] = I[y * (w + 1) + x + 1]! + row;
    }
  }
  const band = new Uint8Array(w * h);
  for (let y = 0; y < h; ++y) {
    const y0 = Math.max(0, y - r),
      y1 = Math.min(h, y + r + 1);
    for (let x = 0; x < w; ++x) {
      const t = truth[y * w + x]!;
      if (t > 0 && t < 255) {
        band[y * w + x] = 1;
        continue;
      }
      const x0 = Math.max(0, x - r),
        x1 = Math.min(w, x + r + 1);
      const s = I[y1 * (w + 1) + x1]! - I[y0 * (w + 1) + x1]! - I[y1 * (w + 1) + x0]! + I[y0 * (w + 1) + x0]!;
      if (s > 0 && s < (y1 - y0) * (x1 - x0)) band[y * w + x] = 1;
    }
  }
  return band;
}

export function defaultEdgeRadius(w: number, h: number): number {
  return Math.max(3, Math.round(Math.max(w, h) / 200));
}

export function score(
  pred: Uint8Array,
  truth: Uint8Array,
  w: number,
  h: number,
  radius = defaultEdgeRadius(w, h),
): Scores {
  if (pred.length !== truth.length) throw new Error(`prediction ${pred.length} vs truth ${truth.length} pixels`);
  const band = edgeBand(truth, w, h, radius);
  let inter = 0,
    union = 0,
    err = 0,
    edgeErr = 0,
    edgeN = 0;
  for (let i = 0; i < pred.length; ++i) {
    const p = pred[i]!,
      t = truth[i]!;
    const pb = p >= 128,
      tb = t >= 128;
    if (pb && tb) ++inter;
    if (pb || tb) ++union;
    const e = Math.abs(p - t) / 255;
    err += e;
    if (band[i]) {
      edgeErr += e;
      ++edgeN;
    }
  }
  return {
    iou: union ? inter / union : 1,
    mae: err / pred.length,
    edgeMae: edgeN ? edgeErr / edgeN : 0,
    edgePixels: edgeN,
  };
}
