/**
 * Grey-level morphology over a masked region: a sliding-window minimum or maximum (a monotonic
 * queue, linear in the pixels whatever the radius) and the opening built from them. Pure.
 */

/** Sliding-window minimum (sign 1) or maximum (sign −1) of `src` along rows or columns, radius r. */
function slide(src: Float32Array, width: number, height: number, r: number, vertical: boolean, sign: number) {
  const out = new Float32Array(src.length);
  const len = vertical ? height : width;
  const lines = vertical ? width : height;
  const stride = vertical ? width : 1;
  const queue = new Int32Array(len);
  for (let l = 0; l < lines; l++) {
    const start = vertical ? l : l * width;
    let head = 0,
      tail = 0,
      next = 0;
    for (let k = 0; k < len; k++) {
      // The window of k is [k − r, k + r]: take in up to k + r, drop what fell below k − r.
      for (; next <= Math.min(len - 1, k + r); next++) {
        const v = sign * src[start + next * stride]!;
        while (tail > head && sign * src[start + queue[tail - 1]! * stride]! >= v) tail--;
        queue[tail++] = next;
      }
      while (queue[head]! < k - r) head++;
      out[start + k * stride] = src[start + queue[head]! * stride]!;
    }
  }
  return out;
}

/** A level no pixel reaches: outside the mask for the erosion (minimum), below it for the dilation. */
const FAR = 1e6;

/**
 * Morphological opening (erosion then dilation by a square of radius r) of `plane` over the pixels
 * `weight` marks (> 0); other pixels neither take part nor get a meaningful value. Bright structures
 * narrower than the square are removed, wider ones and everything darker kept: a lower envelope.
 */
export function maskedOpening(
  plane: Float32Array,
  weight: Float32Array,
  width: number,
  height: number,
  r: number,
): Float32Array {
  const n = plane.length;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = weight[i]! > 0 ? plane[i]! : FAR;
  const eroded = slide(slide(a, width, height, r, false, 1), width, height, r, true, 1);
  for (let i = 0; i < n; i++) if (!(weight[i]! > 0)) eroded[i] = -FAR;
  return slide(slide(eroded, width, height, r, false, -1), width, height, r, true, -1);
}
