/**
 * Long straight edges, as walls between neighbouring pixels. Pure.
 *
 * Frames, mullions, rails and handles are extruded profiles: their edges are straight and long,
 * and the step across them stays put along their whole length even where, locally, the frame's
 * colour meets a background of the same colour. A background's texture has steps as large, but
 * they neither line up nor stay on one row. So the step between two rows (or columns) is scored by
 * how much it stands out from the steps two rows away, and that score is averaged along the row
 * over a window a fraction of the product's side long: a frame edge keeps a high mean across the
 * short stretches where it fades, texture averages out. Where the mean passes a few levels and is
 * the highest of its neighbours across, the two pixels are walled off from each other: the flood
 * that finds the background, and the regions that tell panes from frames, do not cross it.
 *
 * Axis-aligned edges only (frontal product photos; a tilt of a pixel over the window still counts).
 */
/** A box in pixels: x, y, width, height. */
export type Box = readonly [number, number, number, number];

export interface Walls {
  /** 1 where pixel i and the one below it (i + width) are walled off. */
  down: Uint8Array;
  /** 1 where pixel i and the one to its right (i + 1) are walled off. */
  right: Uint8Array;
}

/** Mean step score (levels) a straight edge needs along its window. */
const MIN_SCORE = 3;
/**
 * Each pixel's score is clipped to this before averaging, so the mean counts how much of the window
 * the edge covers: a short, strong edge (a handle's end) does not pass for a long one.
 */
const CLIP = 2 * MIN_SCORE;
/** Boundaries this close to the box's border carry no walls. */
const BORDER = 2;
/** The window along the edge, as a share of the box's short side. */
const WINDOW_SHARE = 0.1;

/**
 * The boundary score along one axis. `along` = 1 scores the boundaries between rows (horizontal
 * edges, walls in `down`); `along` = width scores those between columns (vertical edges, `right`).
 */
function wallsAcross(
  planes: Float32Array[],
  width: number,
  box: Box,
  horizontal: boolean,
  window: number,
  out: Uint8Array,
): void {
  const [bx, by, bw, bh] = box;
  // Lines run along u (x for horizontal edges), boundaries are indexed by v (between v and v + 1).
  const nu = horizontal ? bw : bh,
    nv = horizontal ? bh - 1 : bw - 1;
  if (nu < 2 || nv < 1) return;
  const index = horizontal
    ? (u: number, v: number) => (by + v) * width + bx + u
    : (u: number, v: number) => (by + u) * width + bx + v;
  const across = horizontal ? width : 1;
  const p0 = planes[0]!,
    p1 = planes[1]!,
    p2 = planes[2]!;
  // b[v][u]: the largest channel step across boundary v at u.
  const b = new Float32Array(nu * nv);
  for (let v = 0; v < nv; v++) {
    for (let u = 0; u < nu; u++) {
      const i = index(u, v),
        j = i + across;
      const d0 = Math.abs(p0[j]! - p0[i]!),
        d1 = Math.abs(p1[j]! - p1[i]!),
        d2 = Math.abs(p2[j]! - p2[i]!);
      b[v * nu + u] = d0 > d1 ? (d0 > d2 ? d0 : d2) : d1 > d2 ? d1 : d2;
    }
  }
  // Mean over the window along u of b minus the larger step two boundaries away on either side,
  // clipped.
  const mean = new Float32Array(nu * nv);
  const prefix = new Float64Array(nu + 1);
  const half = window >> 1;
  for (let v = 0; v < nv; v++) {
    const row = v * nu;
    const lo = v >= 2 ? row - 2 * nu : -1,
      hi = v + 2 < nv ? row + 2 * nu : -1;
    for (let u = 0; u < nu; u++) {
      const a = lo >= 0 ? b[lo + u]! : 0,
        c = hi >= 0 ? b[hi + u]! : 0;
      const q = b[row + u]! - (a > c ? a : c);
      prefix[u + 1] = prefix[u]! + (q > CLIP ? CLIP : q < -CLIP ? -CLIP : q);
    }
    for (let u = 0; u < nu; u++) {
      const u0 = Math.max(0, u - half),
        u1 = Math.min(nu, u + half + 1);
      mean[row + u] = (prefix[u1]! - prefix[u0]!) / window;
    }
  }
  // Edge pixels; runs at least a window long are kept, lengthened by half a window at both ends so
  // that where two edges meet at a corner their walls meet too (an edge fades over the last half
  // window of its run).
  const mark = new Uint8Array(nu);
  // The box's outermost rows are background by the prompt's word: no wall there may shut the flood
  // that starts from them out of the margin.
  for (let v = BORDER; v < nv - BORDER; v++) {
    mark.fill(0);
    for (let u = 0; u < nu; u++) {
      const m = mean[v * nu + u]!;
      if (m < MIN_SCORE) continue;
      if (v > 0 && mean[(v - 1) * nu + u]! > m) continue;
      if (v + 1 < nv && mean[(v + 1) * nu + u]! > m) continue;
      mark[u] = 1;
    }
    // Runs shorter than the window are texture that happened to line up: dropped.
    for (let u = 0; u < nu; ) {
      if (!mark[u]) {
        u++;
        continue;
      }
      let end = u;
      while (end < nu && mark[end]) end++;
      if (end - u >= window) {
        for (let k = Math.max(0, u - half); k < Math.min(nu, end + half); k++) out[index(k, v)] = 1;
      }
      u = end;
    }
  }
}

/** Walls along the long straight edges inside `box` (see the file comment). */
export function straightEdgeWalls(planes: Float32Array[], width: number, height: number, box: Box): Walls {
  const n = width * height;
  const walls: Walls = { down: new Uint8Array(n), right: new Uint8Array(n) };
  const window = Math.max(8, Math.round(Math.min(box[2], box[3]) * WINDOW_SHARE));
  wallsAcross(planes, width, box, true, window, walls.down);
  wallsAcross(planes, width, box, false, window, walls.right);
  return walls;
}

/** Whether a step from pixel i to its k-th 4-neighbour j (left, right, up, down) crosses a wall. */
export function walled(walls: Walls, i: number, j: number, k: number): boolean {
  return k === 0
    ? walls.right[j] === 1
    : k === 1
      ? walls.right[i] === 1
      : k === 2
        ? walls.down[j] === 1
        : walls.down[i] === 1;
}
