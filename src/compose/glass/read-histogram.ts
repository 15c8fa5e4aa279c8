/**
 * Histograms of a reflection's reads (d·e / e·e per pixel, weighted by e·e) for their weighted
 * median without sorting: from LOWEST, STEPS buckets a unit (two levels of an 8-bit α). Pure.
 * Used where a streak's profile or a direction's lines are read from many pixels together
 * (streak-profiles.ts, parallel-reflections.ts).
 */
const LOWEST = -0.5;
const STEPS = 128;
/** Buckets in one histogram. */
export const READ_BUCKETS = 2 * STEPS;

/** The bucket of the read d·e / e·e. */
export function readBucket(de: number, ee: number): number {
  return Math.max(0, Math.min(READ_BUCKETS - 1, Math.floor((de / ee - LOWEST) * STEPS)));
}

/** The read a bucket stands for (its middle); READ_BUCKETS gives the top of the range. */
export function bucketRead(q: number): number {
  return q >= READ_BUCKETS ? LOWEST + READ_BUCKETS / STEPS : LOWEST + (q + 0.5) / STEPS;
}

/**
 * The weighted median of the histograms starting at `starts` in `hist` (summed bucket by bucket),
 * whose weights add up to `total`.
 */
export function histogramMedian(hist: Float32Array, starts: readonly number[], total: number): number {
  let seen = 0;
  for (let q = 0; q < READ_BUCKETS; q++) {
    for (const s of starts) seen += hist[s + q]!;
    if (seen >= total / 2) return bucketRead(q);
  }
  return bucketRead(READ_BUCKETS);
}
