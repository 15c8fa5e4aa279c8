/**
 * Parts of the view that hang from a frame member into a pane: a picture on the wall behind a
 * door whose upper edge the top rail hides, a wall cabinet, a tree's crown behind a window. Pure.
 *
 * What a product holds inside a pane is held from below or from the side: an object in a vitrine
 * stands on a shelf or the plinth, a transom spans the pane from stile to stile, a handle is thin
 * and fixed through the glass. A thick opaque part inside a pane that hangs from the member above
 * it — glass below it, no background beside it, and not spanning the pane from bar to bar — is
 * something behind the glass whose top the member hides, and so it is glass (a member beside it
 * may hide one of its sides too). Its parts are judged together: the opaque regions that touch one
 * another (a picture and its dark frame), the frame's bars (extruded-bars.ts) left out of them — but
 * for a bar beside it that lies within its bounds (a picture frame's even side, which reads as a
 * bar), where a member of the product's frame reaches beyond them.
 */
import { components, regionBounds } from './pixel-ops.js';
import { CLASS_GLASS, CLASS_OPAQUE } from './region-classes.js';

/** Least share of the island's lower contacts that is glass. */
const HELD_BY_GLASS = 0.9;
/** Least share of its upper contacts that is a frame bar; and of each side's, for it to span the pane. */
const HUNG = 0.5;

/**
 * Sets `cls[c]` (the class of region c, as classifyProduct keeps them) to glass for the regions of
 * the opaque islands that hang from a bar into the glass. `bars` marks the frame's bars (on the
 * outline or even), `thick` the regions thick enough to be glass, `minSize` the smallest island judged.
 */
export function hungViews(
  labels: Int32Array,
  cls: Uint8Array,
  bars: Uint8Array,
  thick: Uint8Array,
  width: number,
  minSize: number,
): void {
  const n = labels.length;
  const member = (i: number) => labels[i] !== 0 && cls[labels[i]!] === CLASS_OPAQUE && !bars[labels[i]!];
  const islands = components(undefined, width, n / width, member);
  const count = islands.count;
  const owner = absorbOwnBars(labels, cls, bars, islands.labels, count, width);
  // Per island and side (0 above, 1 below, 2 left, 3 right): contacts with glass, bars, and in all.
  const glass = new Float64Array((count + 1) * 4),
    bar = new Float64Array((count + 1) * 4),
    all = new Float64Array((count + 1) * 4);
  const open = new Uint8Array(count + 1);
  const isThick = new Uint8Array(count + 1);
  for (let i = 0; i < n; i++) {
    const k = owner[i]!;
    if (!k) continue;
    if (thick[labels[i]!]) isThick[k] = 1;
    const x = i % width;
    const around = [i - width, i + width, x > 0 ? i - 1 : -1, x + 1 < width ? i + 1 : -1];
    for (let side = 0; side < 4; side++) {
      const j = around[side]!;
      if (j < 0 || j >= n) {
        open[k] = 1;
        continue;
      }
      if (owner[j] === k) continue;
      const l = labels[j]!;
      if (l === 0) {
        open[k] = 1;
        continue;
      }
      // A speck (a soft rim between two regions, undecided) says nothing.
      if (!cls[l]) continue;
      all[k * 4 + side]!++;
      if (cls[l] === CLASS_GLASS) glass[k * 4 + side]!++;
      else if (bars[l]) bar[k * 4 + side]!++;
    }
  }
  const hung = new Uint8Array(count + 1);
  for (let k = 1; k <= count; k++) {
    if (open[k] || !isThick[k] || islands.sizes[k]! < minSize) continue;
    const share = (s: number, of: Float64Array) => (all[k * 4 + s]! > 0 ? of[k * 4 + s]! / all[k * 4 + s]! : 0);
    const below = share(1, glass) >= HELD_BY_GLASS;
    const spans = share(2, bar) >= HUNG && share(3, bar) >= HUNG;
    if (below && share(0, bar) >= HUNG && !spans) hung[k] = 1;
  }
  for (let i = 0; i < n; i++) {
    const k = owner[i]!;
    if (k && hung[k]) cls[labels[i]!] = CLASS_GLASS;
  }
}

/**
 * Per pixel, its island (0 for none), the island's own bars included: a bar beside an island that
 * lies within the island's bounds grown by the bar's own thickness (a picture's even dark frame) is
 * the island's, where a frame member beside it (a rail, a stile, a shelf) reaches beyond them.
 */
function absorbOwnBars(
  labels: Int32Array,
  cls: Uint8Array,
  bars: Uint8Array,
  islandOf: Int32Array,
  count: number,
  width: number,
): Int32Array {
  const n = labels.length;
  const island = regionBounds(islandOf, count, width);
  const regions = cls.length - 1;
  const { x0, y0, x1, y1 } = regionBounds(labels, regions, width);
  const absorbed = new Int32Array(regions + 1);
  for (let i = 0; i < n; i++) {
    const k = islandOf[i]!;
    if (!k) continue;
    const x = i % width;
    for (const j of [i - width, i + width, x > 0 ? i - 1 : -1, x + 1 < width ? i + 1 : -1]) {
      if (j < 0 || j >= n) continue;
      const b = labels[j]!;
      if (!b || !bars[b] || absorbed[b] || cls[b] !== CLASS_OPAQUE) continue;
      const t = Math.min(x1[b]! - x0[b]!, y1[b]! - y0[b]!) + 2;
      const within =
        x0[b]! >= island.x0[k]! - t &&
        x1[b]! <= island.x1[k]! + t &&
        y0[b]! >= island.y0[k]! - t &&
        y1[b]! <= island.y1[k]! + t;
      if (within) absorbed[b] = k;
    }
  }
  const owner = Int32Array.from(islandOf);
  for (let i = 0; i < n; i++) if (!owner[i] && labels[i]) owner[i] = absorbed[labels[i]!]!;
  return owner;
}
