/**
 * Exposure of one shot against another of the same framing: the gain that maps a clean plate onto
 * the background of its shot (or one shot onto the other over the product), as the dominant ratio
 * of luma over the pixels both should share. Pure.
 */

export interface GainFit {
  /** Per-channel gains (r, g, b): `target ≈ gain · source` on the shared pixels. */
  gain: [number, number, number];
  /** The luma gain, the one compared against the tolerance. */
  luma: number;
  /** How many pixels the fit used (0: none were usable and the gains are 1). */
  samples: number;
}

/** Pixels darker than this (luma) carry too little light for a ratio. */
const MIN_LUMA = 24;

/** Bins of the log-ratio histogram: ±0.7 in steps of 0.005. */
const BINS = 281;
const BIN = 0.005;

/**
 * The dominant ratio of `values[0..n)`: the peak of their log histogram (smoothed over ±2 bins),
 * refined as the median of the values within ±3 bins of it. Pixels of the product that share the
 * mask with the background spread over the histogram; the background's common gain is its peak.
 */
function dominant(values: Float32Array, n: number): number {
  const hist = new Float32Array(BINS);
  const centre = (BINS - 1) / 2;
  for (let i = 0; i < n; i++) {
    const b = Math.round(Math.log(values[i]!) / BIN + centre);
    if (b >= 0 && b < BINS) hist[b]!++;
  }
  let peak = centre;
  let best = -1;
  for (let b = 0; b < BINS; b++) {
    let s = 0;
    for (let k = Math.max(0, b - 2); k <= Math.min(BINS - 1, b + 2); k++) s += hist[k]!;
    if (s > best) {
      best = s;
      peak = b;
    }
  }
  if (best <= 0) return 1;
  const lo = Math.exp((peak - 3.5 - centre) * BIN);
  const hi = Math.exp((peak + 3.5 - centre) * BIN);
  const near: number[] = [];
  for (let i = 0; i < n; i++) if (values[i]! >= lo && values[i]! <= hi) near.push(values[i]!);
  near.sort((a, b) => a - b);
  return near.length ? near[near.length >> 1]! : Math.exp((peak - centre) * BIN);
}

/**
 * The gains `target / source` over the pixels where `use(i)` is true (every pixel when it is
 * absent): the dominant ratio, so product pixels the mask lets through do not pull it. At most
 * about 200 000 pixels are sampled, evenly spread. Ratios beyond ×2 either way are not measured.
 */
export function fitGain(source: Uint8Array, target: Uint8Array, use?: (i: number) => boolean): GainFit {
  const n = source.length / 3;
  if (target.length !== source.length) throw new RangeError('fitGain: sizes do not match');
  const step = Math.max(1, Math.floor(n / 200_000));
  const cap = Math.ceil(n / step);
  const rs = [new Float32Array(cap), new Float32Array(cap), new Float32Array(cap)];
  const ls = new Float32Array(cap);
  const counts = [0, 0, 0];
  let m = 0;
  for (let i = 0; i < n; i += step) {
    if (use && !use(i)) continue;
    const s = i * 3;
    const ls0 = 0.299 * source[s]! + 0.587 * source[s + 1]! + 0.114 * source[s + 2]!;
    const lt0 = 0.299 * target[s]! + 0.587 * target[s + 1]! + 0.114 * target[s + 2]!;
    if (ls0 < MIN_LUMA || lt0 < MIN_LUMA) continue;
    ls[m++] = lt0 / ls0;
    // A channel's own ratio only where that channel carries light (a green backdrop has no red).
    for (let c = 0; c < 3; c++) {
      if (source[s + c]! >= MIN_LUMA && target[s + c]! >= MIN_LUMA)
        rs[c]![counts[c]!++] = target[s + c]! / source[s + c]!;
    }
  }
  if (m < 64) return { gain: [1, 1, 1], luma: 1, samples: 0 };
  const l = dominant(ls, m);
  const gain = [0, 1, 2].map((c) => (counts[c]! >= 64 ? dominant(rs[c]!, counts[c]!) : l)) as [number, number, number];
  return { gain, luma: l, samples: m };
}

/** `rgb · gain`, rounded and clipped, into a new buffer (the same one when every gain is 1). */
export function applyGain(rgb: Uint8Array, gain: readonly [number, number, number]): Uint8Array {
  if (gain[0] === 1 && gain[1] === 1 && gain[2] === 1) return rgb;
  const out = new Uint8Array(rgb.length);
  for (let s = 0; s < rgb.length; s += 3) {
    for (let c = 0; c < 3; c++) {
      const v = rgb[s + c]! * gain[c]! + 0.5;
      out[s + c] = Math.min(v, 255);
    }
  }
  return out;
}
