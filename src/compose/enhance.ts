/**
 * Foreground enhancement: auto levels + mild unsharp masking, applied only where the subject is
 * (blended by alpha). Pure.
 */
export interface EnhanceOptions {
  /** Fraction of foreground pixels clipped at each end by auto levels (default 0.005). */
  clip?: number;
  /** Largest contrast gain auto levels may apply (default 1.6). */
  maxGain?: number;
  /** Unsharp-mask amount (default 0.5). */
  sharpen?: number;
}

/**
 * Returns a new RGB buffer: the foreground stretched to the full range (one gain for all channels,
 * so colours do not shift) and sharpened with a 3×3 unsharp mask, blended with the original by
 * alpha. Background pixels (alpha 0) are returned unchanged.
 */
export function enhanceForeground(
  rgb: Uint8Array,
  alpha: Uint8Array,
  width: number,
  height: number,
  options: EnhanceOptions = {},
): Uint8Array {
  const n = width * height;
  if (rgb.length !== n * 3 || alpha.length !== n) throw new RangeError('enhanceForeground: sizes do not match');
  const clip = options.clip ?? 0.005;
  const maxGain = options.maxGain ?? 1.6;
  const amount = options.sharpen ?? 0.5;

  // Levels from the foreground's luminance histogram.
  const hist = new Float64Array(256);
  let total = 0;
  for (let i = 0, s = 0; i < n; i++, s += 3) {
    const a = alpha[i]!;
    if (a < 128) continue;
    const lum = (rgb[s]! * 77 + rgb[s + 1]! * 150 + rgb[s + 2]! * 29) >> 8;
    hist[lum]! += 1;
    total++;
  }
  let lo = 0;
  let hi = 255;
  if (total > 0) {
    const cut = total * clip;
    let acc = 0;
    for (lo = 0; lo < 255; lo++) {
      acc += hist[lo]!;
      if (acc > cut) break;
    }
    acc = 0;
    for (hi = 255; hi > 0; hi--) {
      acc += hist[hi]!;
      if (acc > cut) break;
    }
  }
  let gain = hi - lo >= 8 ? 255 / (hi - lo) : 1;
  if (gain > maxGain) gain = maxGain;
  if (gain < 1) gain = 1;
  // Keep the mid-point of the used range where the stretch puts it, clamped to [0, 255].
  const offset = gain === 1 ? 0 : -lo * gain;
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = v * gain + offset;

  const out = new Uint8Array(rgb.length);
  const w3 = width * 3;
  for (let y = 0; y < height; y++) {
    const ym = y > 0 ? y - 1 : y;
    const yp = y < height - 1 ? y + 1 : y;
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const s = i * 3;
      const a = alpha[i]!;
      if (a === 0) {
        out[s] = rgb[s]!;
        out[s + 1] = rgb[s + 1]!;
        out[s + 2] = rgb[s + 2]!;
        continue;
      }
      const xm = (x > 0 ? x - 1 : x) * 3;
      const xp = (x < width - 1 ? x + 1 : x) * 3;
      const xc = x * 3;
      const wa = a / 255;
      for (let c = 0; c < 3; c++) {
        const v = rgb[s + c]!;
        // 3×3 mean (edge-clamped).
        const m =
          (rgb[ym * w3 + xm + c]! +
            rgb[ym * w3 + xc + c]! +
            rgb[ym * w3 + xp + c]! +
            rgb[y * w3 + xm + c]! +
            v +
            rgb[y * w3 + xp + c]! +
            rgb[yp * w3 + xm + c]! +
            rgb[yp * w3 + xc + c]! +
            rgb[yp * w3 + xp + c]!) /
          9;
        let e = lut[v]! + amount * gain * (v - m);
        e = Math.min(Math.max(e, 0), 255);
        const o = v + (e - v) * wa + 0.5;
        out[s + c] = o;
      }
    }
  }
  return out;
}
