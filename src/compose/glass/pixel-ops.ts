/**
 * Small pixel helpers for the glass stage: a smoothed float copy of the photo, the step between
 * neighbours, region growing under a step limit, connected components and a chamfer distance.
 * Pure.
 */
import { boxMean } from '../guided-filter.js';
import { walled, type Walls } from './straight-edges.js';

/** The photo as three float planes, box-smoothed twice with radius `r` (≈ a Gaussian). */
export function smoothPlanes(rgb: Uint8Array, width: number, height: number, r = 1): Float32Array[] {
  const n = width * height;
  const planes: Float32Array[] = [];
  for (let c = 0; c < 3; c++) {
    const p = new Float32Array(n);
    for (let i = 0; i < n; i++) p[i] = rgb[i * 3 + c]!;
    planes.push(r > 0 ? boxMean(boxMean(p, width, height, r), width, height, r) : p);
  }
  return planes;
}

/** Largest per-channel difference between pixels i and j. */
export function step(planes: Float32Array[], i: number, j: number): number {
  const a = Math.abs(planes[0]![i]! - planes[0]![j]!);
  const b = Math.abs(planes[1]![i]! - planes[1]![j]!);
  const c = Math.abs(planes[2]![i]! - planes[2]![j]!);
  return Math.max(a, b, c);
}

/** Largest channel difference between pixels i and j of 8-bit RGB. */
export function colourStep(rgb: Uint8Array, i: number, j: number): number {
  const a = Math.abs(rgb[i * 3]! - rgb[j * 3]!),
    b = Math.abs(rgb[i * 3 + 1]! - rgb[j * 3 + 1]!),
    c = Math.abs(rgb[i * 3 + 2]! - rgb[j * 3 + 2]!);
  return Math.max(a, b, c);
}

/** The pixel one step from i by d (±1 along a row, ±width along a column); -1 where that leaves the image. */
export function stepBy(i: number, d: number, width: number, n: number): number {
  if ((d === 1 && (i + 1) % width === 0) || (d === -1 && i % width === 0)) return -1;
  const j = i + d;
  return j >= 0 && j < n ? j : -1;
}

/** The k-th 4-neighbour (left, right, up, down) of pixel i in column x; < 0 (or ≥ n) outside. */
function neighbour(i: number, x: number, width: number, k: number): number {
  return k === 0 ? (x > 0 ? i - 1 : -1) : k === 1 ? (x + 1 < width ? i + 1 : -1) : k === 2 ? i - width : i + width;
}

/**
 * Grows `into` (set to `mark`) from the seed pixels through 4-neighbours that `allowed` admits
 * and whose step from the pixel they are reached from is at most `limit`, never across `walls`.
 */
export function growRegion(
  planes: Float32Array[],
  width: number,
  height: number,
  seeds: Iterable<number>,
  allowed: (i: number) => boolean,
  limit: number,
  into: Uint8Array,
  mark = 1,
  walls?: Walls,
): void {
  const queue = new Int32Array(width * height);
  let head = 0,
    tail = 0;
  for (const s of seeds) {
    if (into[s] === mark || !allowed(s)) continue;
    into[s] = mark;
    queue[tail++] = s;
  }
  const n = width * height;
  const p0 = planes[0]!,
    p1 = planes[1]!,
    p2 = planes[2]!;
  while (head < tail) {
    const i = queue[head++]!;
    const x = i % width;
    for (let k = 0; k < 4; k++) {
      const j = neighbour(i, x, width, k);
      if (j < 0 || j >= n || into[j] === mark || !allowed(j)) continue;
      if (walls && walled(walls, i, j, k)) continue;
      const d0 = Math.abs(p0[i]! - p0[j]!),
        d1 = Math.abs(p1[i]! - p1[j]!),
        d2 = Math.abs(p2[i]! - p2[j]!);
      if (d0 > limit || d1 > limit || d2 > limit) continue;
      into[j] = mark;
      queue[tail++] = j;
    }
  }
}

/**
 * 4-connected components of the pixels `inside` admits, joined where the step between
 * neighbours is at most `limit` (Infinity: plain connectivity) and no wall lies between them.
 * Labels start at 1; 0 = outside.
 */
export function components(
  planes: Float32Array[] | undefined,
  width: number,
  height: number,
  inside: (i: number) => boolean,
  limit = Infinity,
  walls?: Walls,
): { labels: Int32Array; count: number; sizes: number[] } {
  const n = width * height;
  const labels = new Int32Array(n);
  const queue = new Int32Array(n);
  const sizes = [0];
  let count = 0;
  const checkStep = planes !== undefined && limit !== Infinity;
  for (let s = 0; s < n; s++) {
    if (labels[s] !== 0 || !inside(s)) continue;
    const id = ++count;
    let head = 0,
      tail = 0,
      size = 0;
    labels[s] = id;
    queue[tail++] = s;
    while (head < tail) {
      const i = queue[head++]!;
      size++;
      const x = i % width;
      for (let k = 0; k < 4; k++) {
        const j = neighbour(i, x, width, k);
        if (j < 0 || j >= n || labels[j] !== 0 || !inside(j)) continue;
        if (checkStep && step(planes!, i, j) > limit) continue;
        if (walls && walled(walls, i, j, k)) continue;
        labels[j] = id;
        queue[tail++] = j;
      }
    }
    sizes.push(size);
  }
  return { labels, count, sizes };
}

/** The chamfer step to a diagonal neighbour. */
// biome-ignore lint/suspicious/noApproximativeNumericConstant: the weight in use; Math.SQRT2 would shift distances
const DIAGONAL = 1.4142;

/** Chamfer (3-4) distance, in pixels, from each pixel to the nearest pixel with a different label. */
/** Bounding boxes of labelled regions 1..count (inclusive corners; x1 = -1 for a label with no pixel). */
export interface RegionBounds {
  x0: Int32Array;
  y0: Int32Array;
  x1: Int32Array;
  y1: Int32Array;
}
export function regionBounds(labels: Int32Array, count: number, width: number): RegionBounds {
  const n = labels.length;
  const b: RegionBounds = {
    x0: new Int32Array(count + 1).fill(width),
    y0: new Int32Array(count + 1).fill(n),
    x1: new Int32Array(count + 1).fill(-1),
    y1: new Int32Array(count + 1).fill(-1),
  };
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    if (c === 0) continue;
    const x = i % width,
      y = (i - x) / width;
    if (x < b.x0[c]!) b.x0[c] = x;
    if (x > b.x1[c]!) b.x1[c] = x;
    if (y < b.y0[c]!) b.y0[c] = y;
    if (y > b.y1[c]!) b.y1[c] = y;
  }
  return b;
}

export function distanceToOtherLabel(labels: Int32Array, width: number, height: number): Float32Array {
  const n = width * height;
  const d = new Float32Array(n).fill(1e9);
  const diff = (i: number, j: number) => labels[i] !== labels[j];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (
        (x > 0 && diff(i, i - 1)) ||
        (x + 1 < width && diff(i, i + 1)) ||
        (y > 0 && diff(i, i - width)) ||
        (y + 1 < height && diff(i, i + width))
      ) {
        d[i] = 1;
      } else if (x === 0 || y === 0 || x + 1 === width || y + 1 === height) {
        d[i] = 1;
      }
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      let v = d[i]!;
      if (x > 0 && labels[i - 1] === labels[i]) v = Math.min(v, d[i - 1]! + 1);
      if (y > 0 && labels[i - width] === labels[i]) v = Math.min(v, d[i - width]! + 1);
      if (x > 0 && y > 0 && labels[i - width - 1] === labels[i]) v = Math.min(v, d[i - width - 1]! + DIAGONAL);
      if (x + 1 < width && y > 0 && labels[i - width + 1] === labels[i]) v = Math.min(v, d[i - width + 1]! + DIAGONAL);
      d[i] = v;
    }
  }
  for (let y = height - 1; y >= 0; y--) {
    for (let x = width - 1; x >= 0; x--) {
      const i = y * width + x;
      let v = d[i]!;
      if (x + 1 < width && labels[i + 1] === labels[i]) v = Math.min(v, d[i + 1]! + 1);
      if (y + 1 < height && labels[i + width] === labels[i]) v = Math.min(v, d[i + width]! + 1);
      if (x + 1 < width && y + 1 < height && labels[i + width + 1] === labels[i])
        v = Math.min(v, d[i + width + 1]! + DIAGONAL);
      if (x > 0 && y + 1 < height && labels[i + width - 1] === labels[i]) v = Math.min(v, d[i + width - 1]! + DIAGONAL);
      d[i] = v;
    }
  }
  return d;
}

/** Inclusive bounds of a set of pixels. */
export interface PixelBounds {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * The bounds of the pixels `inside` admits, grown by `grow` on every side and clipped to the image;
 * undefined when it admits none.
 */
export function boundsWhere(
  width: number,
  height: number,
  inside: (i: number) => boolean,
  grow = 0,
): PixelBounds | undefined {
  let x0 = width,
    y0 = height,
    x1 = -1,
    y1 = -1;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      if (!inside(i)) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (x1 < 0) return undefined;
  return {
    x0: Math.max(0, x0 - grow),
    y0: Math.max(0, y0 - grow),
    x1: Math.min(width - 1, x1 + grow),
    y1: Math.min(height - 1, y1 + grow),
  };
}

/** The q-quantile (0..1) of `values` (copied and sorted). */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) return 0;
  const s = Float32Array.from(values as ArrayLike<number>).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.floor(q * (s.length - 1))))]!;
}
