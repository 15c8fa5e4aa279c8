/**
 * Keeps what the model calls opaque opaque against a clean plate, unless the plate shows there.
 * Pure.
 *
 * The difference matte judges pixel by pixel: where an opaque part happens to have the plate's
 * colour (an anthracite frame before dark fur, a white profile before a white wall) it sees the
 * plate and lets the part go, in blotches that follow the backdrop. Here each pixel the model holds
 * fully opaque is judged with its surroundings: the share of the opaque pixels around it (a window
 * a few times a frame bar's width) that equal the plate within the noise, or through which the
 * plate's texture comes (glass the model took for opaque). Something the model kept by mistake (a
 * background object inside the prompt's box) equals the plate almost everywhere and is left to the
 * difference matte, and glass is solved on the glass's line where its pixel does not equal the
 * plate; elsewhere the pixel is opaque again unless it lies on the outline of the opaque part (the
 * outline's soft α stays the difference matte's, which knows the background there). The shares and
 * the texture are judged on a grid of at most 1024 cells a side.
 */
import type { Matte } from './difference-matte.js';
import { solveOnLine, type GlassLine } from './glass/glass-over-plate.js';
import { boxMean } from './guided-filter.js';
import { blockAverage } from './glass/matte-at-scale.js';
import { boundsWhere } from './glass/pixel-ops.js';
import { cellGrid, scaledPx } from './resample.js';

/** Share of the opaque pixels around that equal the plate above which the plate is believed. */
const PLATE_SHARE = 0.8;
/** The window's radius, px at a 1024-px long side. */
const WINDOW_PX = 16;
/** Cells per long side of the grid the parts are judged on, at most. */
const GRID_LONG_SIDE = 1024;
/** The model's α at or above which a pixel counts as opaque. */
const OPAQUE = 250;

/**
 * `equal(i)`: pixel i equals the plate within the noise; `glass`: the line of the glass found in
 * the product, if any. Rewrites `matte` in place.
 */
export function keepOpaqueParts(
  shot: Uint8Array,
  plate: Uint8Array,
  model: Uint8Array,
  width: number,
  height: number,
  equal: (i: number) => boolean,
  glass: GlassLine | undefined,
  matte: Matte,
): void {
  const n = width * height;
  // Judged on a grid of at most GRID_LONG_SIDE cells a side: per cell the opaque pixels, those that
  // equal the plate, and whether the plate's texture comes through there.
  const { f, width: gw, height: gh, cellOf } = cellGrid(width, height, GRID_LONG_SIDE);
  const opaque = new Float32Array(gw * gh);
  const same = new Float32Array(gw * gh);
  let any = false;
  for (let i = 0; i < n; i++) {
    if (model[i]! < OPAQUE) continue;
    any = true;
    const c = cellOf(i);
    opaque[c]!++;
    if (equal(i)) same[c]!++;
  }
  if (!any) return;
  // Glass the model took for opaque: the plate's texture comes through (the difference matte's
  // transmission fit measures it there). A colour the glass's line explains with a reflection is not
  // enough alone: with a free reflection the line fits any grey in front of a grey backdrop.
  const follows =
    f === 1
      ? textureFollows(shot, plate, gw, gh, opaque)
      : textureFollows(
          blockAverage(shot, width, height, 3, f),
          blockAverage(plate, width, height, 3, f),
          gw,
          gh,
          opaque,
        );
  for (let c = 0; c < gw * gh; c++) if (follows[c]) same[c] = opaque[c]!;
  const r = Math.max(2, Math.round(scaledPx(WINDOW_PX, width, height) / f));
  const shareOpaque = boxMean(opaque, gw, gh, r);
  const shareSame = boxMean(same, gw, gh, r);
  const isOpaque = (i: number) => model[i]! >= OPAQUE;
  // The outline: an opaque pixel with a pixel that is not within one step.
  for (let y = 1; y + 1 < height; y++) {
    for (let x = 1, i = y * width + 1; x + 1 < width; x++, i++) {
      if (!isOpaque(i) || !isOpaque(i - 1) || !isOpaque(i + 1) || !isOpaque(i - width) || !isOpaque(i + width))
        continue;
      const c = cellOf(i);
      if (shareSame[c]! > PLATE_SHARE * shareOpaque[c]!) {
        // The plate shows here: through glass the model took for opaque, or as it is.
        if (glass && follows[c] && !equal(i)) solveOnLine(shot, plate, i, glass, matte.alpha, matte.fg);
        continue;
      }
      matte.alpha[i] = 255;
      matte.fg[i * 3] = shot[i * 3]!;
      matte.fg[i * 3 + 1] = shot[i * 3 + 1]!;
      matte.fg[i * 3 + 2] = shot[i * 3 + 2]!;
    }
  }
}

/** Radius of the texture test, px at a 1024-px long side. */
const TEXTURE_PX = 6;
/** The plate's texture (variance over the window, levels², summed over channels) the test needs. */
const MIN_TEXTURE = 12;
/** Correlation of shot and plate over the window above which the plate's texture comes through. */
const MIN_CORRELATION = 0.5;
/** The least transmission (slope of shot on plate) that counts. */
const MIN_SLOPE = 0.15;

/** 1 where the shot's texture follows the plate's over a small window (within `where`'s box). */
function textureFollows(
  shot: Uint8Array,
  plate: Uint8Array,
  width: number,
  height: number,
  where: Float32Array,
): Uint8Array {
  const n = width * height;
  const out = new Uint8Array(n);
  const r = Math.max(1, Math.round(scaledPx(TEXTURE_PX, width, height)));
  const bounds = boundsWhere(width, height, (i) => where[i]! > 0, r);
  if (!bounds) return out;
  const { x0, y0, x1, y1 } = bounds;
  const w = x1 - x0 + 1,
    h = y1 - y0 + 1,
    m = w * h;
  const vb = new Float32Array(m),
    vc = new Float32Array(m),
    cov = new Float32Array(m);
  const b = new Float32Array(m),
    c = new Float32Array(m),
    tmp = new Float32Array(m);
  for (let k = 0; k < 3; k++) {
    for (let i = 0; i < m; i++) {
      const j = ((y0 + ((i / w) | 0)) * width + x0 + (i % w)) * 3 + k;
      b[i] = plate[j]!;
      c[i] = shot[j]!;
    }
    const mb = boxMean(b, w, h, r);
    const mc = boxMean(c, w, h, r);
    for (let i = 0; i < m; i++) tmp[i] = b[i]! * b[i]!;
    const bb = boxMean(tmp, w, h, r);
    for (let i = 0; i < m; i++) tmp[i] = b[i]! * c[i]!;
    const bc = boxMean(tmp, w, h, r);
    for (let i = 0; i < m; i++) tmp[i] = c[i]! * c[i]!;
    const cc = boxMean(tmp, w, h, r);
    for (let i = 0; i < m; i++) {
      vb[i]! += bb[i]! - mb[i]! * mb[i]!;
      vc[i]! += cc[i]! - mc[i]! * mc[i]!;
      cov[i]! += bc[i]! - mb[i]! * mc[i]!;
    }
  }
  for (let i = 0; i < m; i++) {
    if (vb[i]! < MIN_TEXTURE) continue;
    const slope = cov[i]! / vb[i]!;
    const rho = cov[i]! / Math.sqrt(vb[i]! * vc[i]! + 1e-6);
    if (rho >= MIN_CORRELATION && slope >= MIN_SLOPE) out[(y0 + ((i / w) | 0)) * width + x0 + (i % w)] = 1;
  }
  return out;
}
