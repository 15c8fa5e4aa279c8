/**
 * The product's extent from a prompt (a box and/or points) and the salient mask, without a
 * promptable model. Pure.
 *
 *   box       everything outside it is background
 *   flood     the background is grown inward from the box's border through pixels whose step to
 *             their neighbour stays below a limit measured on the box's border ring (the
 *             background's own texture); a product's outline — a frame, a silhouette — stops it.
 *             What the flood cannot reach is the product: the frame and whatever it encloses.
 *   texture   a looser limit from the ring's textured part adds the small scraps of a detailed
 *             margin (a photo's seams, leaves) the grain's limit left out, never a large part
 *   salient   pixels the segmentation network calls subject (α ≥ 128) are never flooded, where
 *             the connected part of the mask they belong to lies mostly inside the box (a person
 *             standing behind the product, cut by the box's edge, is the flood's to judge); a
 *             promptable model's mask (SAM), the prompt's own answer, holds it off all inside the box
 *   points    positive points add the region grown from them, negative points seed the flood
 *   keep      the product's largest connected parts (stray textured specks of the margin drop)
 */
import { components, growRegion, quantile, smoothPlanes, step } from './pixel-ops.js';
import { type Box, straightEdgeWalls, type Walls } from './straight-edges.js';

export type { Box } from './straight-edges.js';

export interface PromptPoint {
  x: number;
  y: number;
  /** 1 (default): part of the product; 0: not. */
  label?: 0 | 1 | undefined;
}

export interface SubjectPrompt {
  box?: Box | undefined;
  points?: readonly PromptPoint[] | undefined;
}

export interface ProductExtent {
  /** 1 = product, 0 = background. */
  product: Uint8Array;
  /** 1 = background the flood reached or outside the box (known background). */
  known: Uint8Array;
  /** The box used (the prompt's, or the salient mask's grown bounds). */
  box: Box;
  /** The flood's step limit (the grain's), which the product's regions are split under too. */
  limit: number;
  /** The smoothed photo (three planes), reused by the glass stage. */
  planes: Float32Array[];
  /** Walls along the box's long straight edges (frame profiles), which no region crosses. */
  walls: Walls;
}

/** Integer box clipped to the image, or undefined when nothing is left. */
export function clipBox(box: Box, width: number, height: number): Box | undefined {
  const x0 = Math.max(0, Math.floor(box[0])),
    y0 = Math.max(0, Math.floor(box[1]));
  const x1 = Math.min(width, Math.ceil(box[0] + box[2])),
    y1 = Math.min(height, Math.ceil(box[1] + box[3]));
  return x1 > x0 && y1 > y0 ? [x0, y0, x1 - x0, y1 - y0] : undefined;
}

/** The salient mask's bounds (α ≥ 128) grown by `grow` of the image's long side; undefined when empty. */
export function salientBox(alpha: Uint8Array, width: number, height: number, grow = 0.03): Box | undefined {
  let x0 = width,
    y0 = height,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (alpha[y * width + x]! < 128) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (x1 < 0) return undefined;
  const m = Math.round(Math.max(width, height) * grow);
  return clipBox([x0 - m, y0 - m, x1 - x0 + 1 + 2 * m, y1 - y0 + 1 + 2 * m], width, height);
}

/** The steps between neighbours on the box's border ring: the background's own texture. */
function ringSteps(planes: Float32Array[], width: number, box: Box): number[] {
  const [bx, by, bw, bh] = box;
  const ring = Math.max(2, Math.round(Math.min(bw, bh) * 0.01));
  const steps: number[] = [];
  const push = (x: number, y: number) => {
    const i = y * width + x;
    if (x + 1 < bx + bw) steps.push(step(planes, i, i + 1));
    if (y + 1 < by + bh) steps.push(step(planes, i, i + width));
  };
  for (let d = 0; d < ring; d++) {
    for (let x = bx; x < bx + bw; x++) {
      push(x, by + d);
      push(x, by + bh - 1 - d);
    }
    for (let y = by; y < by + bh; y++) {
      push(bx + d, y);
      push(bx + bw - 1 - d, y);
    }
  }
  return steps;
}

/**
 * The flood's limit: three times the ring's median step — the background's grain passes, a
 * product's outline does not (a glass jar's faint wall included).
 */
const floodLimit = (steps: number[]) => Math.min(12, Math.max(3, quantile(steps, 0.5) * 3));

/**
 * The looser limit of the ring's textured part (its 90th percentile, half as much again): a photo's
 * detail — a suit's seams, foliage — passes it where the grain's limit stops at every stitch, and
 * the flood takes in under it the small scraps of textured margin the grain's limit left out. The
 * product's regions are still split under the grain's limit: under the looser one a frosted lid
 * joins its jar and an object in a vitrine its compartment wherever their soft edges are faint.
 */
const textureLimit = (steps: number[]) => Math.min(12, Math.max(3, quantile(steps, 0.9) * 1.5));

/**
 * Largest part (share of the box's area) the looser limit may add to the flood. Scraps of a textured
 * margin are small; a glass body whose faint wall the looser limit crosses — the whole jar — is not.
 */
const MAX_TEXTURE_SCRAP = 0.01;

/** Least share of a connected part of the salient mask inside the box for it to hold off the flood. */
const MIN_SALIENT_IN_BOX = 0.5;

/**
 * The product's extent (see the file comment). `salient` is the network's 8-bit alpha (may be all
 * 0); `salientPrompted` where it is a promptable model's answer to this prompt (all of it inside the
 * box holds off the flood).
 */
export function productExtent(
  rgb: Uint8Array,
  width: number,
  height: number,
  salient: Uint8Array,
  prompt: SubjectPrompt,
  salientPrompted = false,
): ProductExtent | undefined {
  const box = prompt.box ? clipBox(prompt.box, width, height) : salientBox(salient, width, height);
  if (!box) return undefined;
  const [bx, by, bw, bh] = box;
  const planes = smoothPlanes(rgb, width, height, 0);
  const steps = ringSteps(planes, width, box);
  const limit = floodLimit(steps);
  const loose = Math.max(limit, textureLimit(steps));
  const walls = straightEdgeWalls(planes, width, height, box);
  const n = width * height;
  const inBox = (i: number) => {
    const x = i % width,
      y = (i - x) / width;
    return x >= bx && x < bx + bw && y >= by && y < by + bh;
  };

  // Positive points grow product regions; negative points seed the background.
  const forced = new Uint8Array(n);
  // The network's subject is kept where it is the box's: a part of the salient mask that lies
  // mostly outside the box (a person behind a jar, cut by the box's edge) is left to the flood.
  const salientParts = components(undefined, width, height, (i) => salient[i]! >= 128);
  const partInBox = new Float64Array(salientParts.count + 1);
  for (let i = 0; i < n; i++) if (salientParts.labels[i]! > 0 && inBox(i)) partInBox[salientParts.labels[i]!]!++;
  for (let i = 0; i < n; i++) {
    const c = salientParts.labels[i]!;
    if (c > 0 && inBox(i) && (salientPrompted || partInBox[c]! >= MIN_SALIENT_IN_BOX * salientParts.sizes[c]!))
      forced[i] = 1;
  }
  const positives = (prompt.points ?? [])
    .filter((p) => p.label !== 0)
    .map((p) => Math.round(p.y) * width + Math.round(p.x));
  const negatives = (prompt.points ?? [])
    .filter((p) => p.label === 0)
    .map((p) => Math.round(p.y) * width + Math.round(p.x));
  if (positives.length) growRegion(planes, width, height, positives, inBox, limit, forced, 1, walls);

  const flood = new Uint8Array(n);
  const seeds: number[] = [...negatives];
  for (let x = bx; x < bx + bw; x++) seeds.push(by * width + x, (by + bh - 1) * width + x);
  for (let y = by; y < by + bh; y++) seeds.push(y * width + bx, y * width + bx + bw - 1);
  growRegion(planes, width, height, seeds, (i) => inBox(i) && forced[i] === 0, limit, flood, 1, walls);
  if (loose > limit) {
    const wide = new Uint8Array(n);
    growRegion(planes, width, height, seeds, (i) => inBox(i) && forced[i] === 0, loose, wide, 1, walls);
    const added = components(undefined, width, height, (i) => wide[i] === 1 && flood[i] === 0);
    const most = bw * bh * MAX_TEXTURE_SCRAP;
    for (let i = 0; i < n; i++) if (added.labels[i]! > 0 && added.sizes[added.labels[i]!]! <= most) flood[i] = 1;
  }
  // A negative point removes its region even from the salient mask.
  if (negatives.length) {
    const removed = new Uint8Array(n);
    growRegion(planes, width, height, negatives, (i) => inBox(i) && !positives.includes(i), limit, removed, 1);
    for (let i = 0; i < n; i++) if (removed[i]) (flood[i] = 1), (forced[i] = 0);
  }

  const candidate = (i: number) => inBox(i) && flood[i] === 0;
  const { labels, count, sizes } = components(undefined, width, height, candidate);
  const keep = new Uint8Array(count + 1);
  let largest = 0;
  for (let c = 1; c <= count; c++) largest = Math.max(largest, sizes[c]!);
  for (let c = 1; c <= count; c++) if (sizes[c]! >= largest * 0.15) keep[c] = 1;
  for (let i = 0; i < n; i++) if (labels[i]! > 0 && forced[i]) keep[labels[i]!] = 1;
  const product = new Uint8Array(n);
  const known = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (labels[i]! > 0 && keep[labels[i]!]) product[i] = 1;
    else known[i] = 1;
  }
  return { product, known, box, limit, planes, walls };
}
