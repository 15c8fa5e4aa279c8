/**
 * Which parts of a product are glass. Pure.
 *
 * The product is split into regions the same way the background was flooded (neighbours joined
 * while the step between them stays under the background's texture limit), so a pane — which
 * shows the background through it, with the background's own texture — becomes one large region,
 * bounded by the frame's edges. Each region is then judged:
 *   glass     thick (its inscribed radius is not that of a bar or a handle) and its colours are
 *             the background's (a colour histogram of the known background, widened a bin for
 *             the glass's tint and reflections)
 *   opaque    everything else: frames, mullions, handles, lids, and whatever its colours any
 *             extruded bar (extruded-bars.ts) or object seen behind the glass (objects-behind-glass.ts);
 *             but not a part of the view that runs on beyond the frame (view-beyond-frame.ts) or
 *             hangs into a pane from the member above it (hung-views.ts)
 * Specks too small to judge, and the slivers a soft edge leaves between two regions (soft-rims.ts),
 * take the class of the region around them. Then, pixel by pixel, a
 * frame's face the flood joined to its pane is peeled off it (frame-faces.ts), and highlights on the
 * glass that were judged opaque become glass with their lift (glass-highlights.ts).
 */
import { extrudedBars } from './extruded-bars.js';
import { peelFrameFaces } from './frame-faces.js';
import { glassHighlights } from './glass-highlights.js';
import { hungViews } from './hung-views.js';
import { objectsBehindGlass } from './objects-behind-glass.js';
import { softRims } from './soft-rims.js';
import { components, distanceToOtherLabel } from './pixel-ops.js';
import type { ProductExtent } from './product-extent.js';
import { CLASS_BACKGROUND, CLASS_GLASS, CLASS_OPAQUE } from './region-classes.js';
import { viewBeyondFrame } from './view-beyond-frame.js';

export { CLASS_BACKGROUND, CLASS_GLASS, CLASS_OPAQUE };

/**
 * The widest rim (share of the box's short side) looked across around an object behind glass: its
 * soft edge and the glass shelf it stands on.
 */
const RIM_SHARE = 0.02;

const BINS = 16;
const SHIFT = 4;

/** Which quantised colours (16 bins a channel, widened by one bin) the known background holds. */
function backgroundColours(rgb: Uint8Array, known: Uint8Array): Uint8Array {
  const hist = new Uint32Array(BINS * BINS * BINS);
  let total = 0;
  for (let i = 0; i < known.length; i++) {
    if (!known[i]) continue;
    hist[((rgb[i * 3]! >> SHIFT) * BINS + (rgb[i * 3 + 1]! >> SHIFT)) * BINS + (rgb[i * 3 + 2]! >> SHIFT)]!++;
    total++;
  }
  const present = new Uint8Array(hist.length);
  const min = Math.max(2, total * 2e-5);
  for (let r = 0; r < BINS; r++) {
    for (let g = 0; g < BINS; g++) {
      for (let b = 0; b < BINS; b++) {
        if (hist[(r * BINS + g) * BINS + b]! < min) continue;
        for (let dr = -1; dr <= 1; dr++) {
          for (let dg = -1; dg <= 1; dg++) {
            for (let db = -1; db <= 1; db++) {
              const R = r + dr,
                G = g + dg,
                B = b + db;
              if (R >= 0 && G >= 0 && B >= 0 && R < BINS && G < BINS && B < BINS)
                present[(R * BINS + G) * BINS + B] = 1;
            }
          }
        }
      }
    }
  }
  return present;
}

export interface GlassRegionOptions {
  /** Fraction of a region's pixels with background colours for it to be glass (default 0.6). */
  backgroundLike?: number;
  /** Filled with the lift of the highlights found on the glass (glass-highlights.ts), per pixel. */
  lift?: Float32Array;
}

/** Per pixel: 0 background, 1 opaque, 2 glass. */
export function classifyProduct(
  rgb: Uint8Array,
  width: number,
  height: number,
  extent: ProductExtent,
  options: GlassRegionOptions = {},
): Uint8Array {
  const { product, known, planes, limit, box, walls } = extent;
  const n = width * height;
  const present = backgroundColours(rgb, known);
  const { labels, count, sizes } = components(planes, width, height, (i) => product[i] === 1, limit, walls);
  const dist = distanceToOtherLabel(labels, width, height);
  const radius = new Float32Array(count + 1);
  const bgLike = new Float64Array(count + 1);
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    if (c === 0) continue;
    if (dist[i]! > radius[c]!) radius[c] = dist[i]!;
    if (present[((rgb[i * 3]! >> SHIFT) * BINS + (rgb[i * 3 + 1]! >> SHIFT)) * BINS + (rgb[i * 3 + 2]! >> SHIFT)])
      bgLike[c]!++;
  }
  const side = Math.min(box[2], box[3]);
  const thin = Math.max(2, side * 0.035);
  const speck = Math.max(4, side * side * 0.0004);
  const need = options.backgroundLike ?? 0.6;
  // 0 = undecided (a speck), else the class + 1 so that 0 stays free.
  const cls = new Uint8Array(count + 1);
  const { outline: bars, even: evenBars } = extrudedBars(labels, count, sizes, rgb, width, speck, known);
  const rims = softRims(labels, count, radius, rgb, width);
  for (let c = 1; c <= count; c++) {
    if (sizes[c]! < speck || rims[c]) continue;
    const glass = radius[c]! >= thin && bgLike[c]! / sizes[c]! >= need && !bars[c];
    cls[c] = glass ? CLASS_GLASS : CLASS_OPAQUE;
  }
  // Any even bar, on the outline or not: a rail between two panes is not the view.
  reclaimEnclosed(labels, cls, width, height, rgb, bgLike, sizes, evenBars);
  const thick = new Uint8Array(count + 1);
  for (let c = 1; c <= count; c++) thick[c] = radius[c]! >= thin ? 1 : 0;
  objectsBehindGlass(labels, cls, sizes, rgb, width, speck, thick, Math.max(4, Math.round(side * RIM_SHARE)));
  viewBeyondFrame({ labels, cls, sizes, bars, even: evenBars, thick }, rgb, width, side, speck);
  hungViews(
    labels,
    cls,
    bars.map((b, c) => b | evenBars[c]!),
    thick,
    width,
    speck,
  );
  const out = new Uint8Array(n);
  const pending: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    if (c === 0) continue;
    if (cls[c]) out[i] = cls[c]!;
    else pending.push(i);
  }
  // Specks take the class of their decided neighbours, growing inward ring by ring.
  let rest = pending;
  for (let pass = 0; rest.length && pass < 64; pass++) {
    const next: number[] = [];
    const set: [number, number][] = [];
    for (const i of rest) {
      const x = i % width;
      let g = 0,
        o = 0;
      for (const j of [x > 0 ? i - 1 : -1, x + 1 < width ? i + 1 : -1, i - width, i + width]) {
        if (j < 0 || j >= n) continue;
        if (out[j] === CLASS_GLASS) g++;
        else if (out[j] === CLASS_OPAQUE) o++;
      }
      if (g + o === 0) next.push(i);
      else set.push([i, g > o ? CLASS_GLASS : CLASS_OPAQUE]);
    }
    for (const [i, v] of set) out[i] = v;
    if (next.length === rest.length) break;
    rest = next;
  }
  for (const i of rest) out[i] = CLASS_OPAQUE;
  peelFrameFaces(out, rgb, width, height, side);
  glassHighlights(out, rgb, width, height, side, speck, options.lift);
  return out;
}

/**
 * Opaque regions wholly inside glass that are background-coloured or brighter than the glass
 * around them — the background's own edges seen through a pane, reflection lines — are glass, and
 * so are background-coloured ones mostly bordered by glass (a strip of the view along a rail).
 * A handle or an object behind the glass (neither) stays opaque, and so does an even bar (an
 * extruded profile: a rail between two panes, a plinth).
 */
function reclaimEnclosed(
  labels: Int32Array,
  cls: Uint8Array,
  width: number,
  height: number,
  rgb: Uint8Array,
  bgLike: Float64Array,
  sizes: number[],
  bars: Uint8Array,
): void {
  const count = cls.length - 1;
  const glassSide = new Float64Array(count + 1);
  const otherSide = new Float64Array(count + 1);
  const lumaIn = new Float64Array(count + 1);
  const lumaAround = new Float64Array(count + 1);
  const luma = (i: number) => rgb[i * 3]! + rgb[i * 3 + 1]! + rgb[i * 3 + 2]!;
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    if (c === 0 || cls[c] !== CLASS_OPAQUE) continue;
    lumaIn[c]! += luma(i);
    const x = i % width;
    for (const j of [x > 0 ? i - 1 : -1, x + 1 < width ? i + 1 : -1, i - width, i + width]) {
      if (j < 0 || j >= width * height || labels[j] === c) continue;
      if (cls[labels[j]!] === CLASS_GLASS) {
        glassSide[c]!++;
        lumaAround[c]! += luma(j);
      } else otherSide[c]!++;
    }
  }
  for (let c = 1; c <= count; c++) {
    if (cls[c] !== CLASS_OPAQUE || glassSide[c]! === 0 || bars[c]) continue;
    const share = glassSide[c]! / (glassSide[c]! + otherSide[c]!);
    const brighter = lumaIn[c]! / sizes[c]! > lumaAround[c]! / glassSide[c]! + 6;
    const backgroundColoured = bgLike[c]! / sizes[c]! >= 0.6;
    // Wholly inside glass: background-coloured or brighter; mostly inside glass: background-coloured.
    if ((share >= 0.9 && (brighter || backgroundColoured)) || (share >= 0.5 && backgroundColoured))
      cls[c] = CLASS_GLASS;
  }
}
