/**
 * The subject's matte from the network's salient mask, an optional prompt and the glass setting:
 * α, the colour to composite (F, un-premultiplied) and which pixels are glass. Pure.
 *
 *   no prompt, glass 'off'   the salient mask as it is (the behaviour without this stage)
 *   no prompt, glass 'auto'  glass found only where the network's subject encloses it (panes held
 *                            by their frame); nothing is added to the salient mask
 *   box / points             nothing outside the box; the product's extent from the salient mask
 *                            and the model-free flood (never empty for a framed product), glass
 *                            found inside it unless 'off'
 */
import { parseColor } from '../color.js';
import { CLASS_GLASS, CLASS_OPAQUE, classifyProduct } from './glass-regions.js';
import { DEFAULT_TINT, DEFAULT_TRANSMISSION, glassLayer, type GlassLook } from './glass-layer.js';
import { components } from './pixel-ops.js';
import { productExtent, type SubjectPrompt } from './product-extent.js';

export type GlassSetting = 'auto' | 'off' | { transmission?: number; tint?: string };

export interface SubjectMatteInput {
  rgb: Uint8Array;
  width: number;
  height: number;
  /** The network's refined 8-bit alpha. */
  salient: Uint8Array;
  prompt?: SubjectPrompt;
  glass?: GlassSetting;
  /**
   * True where `salient` is a promptable model's answer to the prompt (SAM): all of it inside the
   * box is the product's. A salient network's mask is only where its part lies mostly in the box.
   */
  salientPrompted?: boolean;
}

export interface SubjectMatte {
  /** 8-bit α: 255 opaque, low over glass, 0 background. */
  alpha: Uint8Array;
  /** The colour to composite with α: the photo, except over glass (its tint and reflections). */
  fg: Uint8Array;
  /** 255 where the pixel is glass. */
  glass: Uint8Array;
  glassPixels: number;
}

export function glassLook(setting: GlassSetting | undefined): GlassLook {
  const o = typeof setting === 'object' ? setting : {};
  const tint = o.tint ? parseColor(o.tint) : undefined;
  return {
    transmission: o.transmission ?? DEFAULT_TRANSMISSION,
    tint: tint ? [tint.r, tint.g, tint.b] : DEFAULT_TINT,
    given: o.transmission !== undefined,
  };
}

/** A glass region may touch the subject's outline along at most this share of its border (no prompt). */
const MAX_OUTLINE_SHARE = 0.1;

/**
 * Without a prompt the network's mask is the product, and glass is only believed where the product
 * encloses it: a pane held by its frame, a window in a vitrine. A region of background colours that
 * reaches the outline — fur, foliage, a grey product on a grey wall — stays opaque, so 'auto' never
 * thins out a subject the network cut out well. Glassware whose body is its outline needs the box.
 */
function keepEnclosedGlass(classes: Uint8Array, salient: Uint8Array, width: number, height: number): void {
  const n = width * height;
  for (let i = 0; i < n; i++) if (classes[i] === CLASS_GLASS && salient[i]! < 128) classes[i] = CLASS_OPAQUE;
  const { labels, count } = components(undefined, width, height, (i) => classes[i] === CLASS_GLASS);
  const outline = new Float64Array(count + 1);
  const border = new Float64Array(count + 1);
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    if (c === 0) continue;
    const x = i % width;
    for (const j of [x > 0 ? i - 1 : -1, x + 1 < width ? i + 1 : -1, i - width, i + width]) {
      if (j >= 0 && j < n && labels[j] === c) continue;
      border[c]!++;
      // Off the picture's edge counts as outline too: nothing there holds the pane.
      if (j < 0 || j >= n || salient[j]! < 128) outline[c]!++;
    }
  }
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    if (c !== 0 && outline[c]! > border[c]! * MAX_OUTLINE_SHARE) classes[i] = CLASS_OPAQUE;
  }
}

function hasPrompt(prompt: SubjectPrompt | undefined): boolean {
  return Boolean(prompt && (prompt.box || prompt.points?.length));
}

export function subjectMatte(input: SubjectMatteInput): SubjectMatte {
  const { rgb, width, height, salient } = input;
  const n = width * height;
  const off = input.glass === 'off';
  const prompted = hasPrompt(input.prompt);
  const glass = new Uint8Array(n);
  if (!prompted && off) return { alpha: salient, fg: rgb, glass, glassPixels: 0 };

  const extent = productExtent(rgb, width, height, salient, input.prompt ?? {}, input.salientPrompted);
  if (!extent) return { alpha: prompted ? new Uint8Array(n) : salient, fg: rgb, glass, glassPixels: 0 };
  const [bx, by, bw, bh] = extent.box;
  const inBox = (i: number) => {
    const x = i % width,
      y = (i - x) / width;
    return x >= bx && x < bx + bw && y >= by && y < by + bh;
  };

  let alpha: Uint8Array;
  if (prompted) {
    alpha = new Uint8Array(n);
    let salientInside = 0,
      productPixels = 0;
    for (let i = 0; i < n; i++) {
      if (!inBox(i)) continue;
      if (salient[i]! >= 128) salientInside++;
      if (extent.product[i]) productPixels++;
    }
    // The network's soft edges where it found the product; the flood's extent where it did not.
    const trustSalient = off && salientInside > productPixels * 0.3;
    for (let i = 0; i < n; i++) {
      if (!inBox(i)) continue;
      alpha[i] = trustSalient ? salient[i]! : extent.product[i] ? 255 : 0;
    }
    if (off) return { alpha, fg: rgb, glass, glassPixels: 0 };
  } else {
    alpha = Uint8Array.from(salient);
  }

  const lift = new Float32Array(n).fill(Number.NaN);
  const classes = classifyProduct(rgb, width, height, extent, { lift });
  if (!prompted) keepEnclosedGlass(classes, salient, width, height);
  let glassPixels = 0;
  for (let i = 0; i < n; i++) if (classes[i] === CLASS_GLASS) glassPixels++;
  if (glassPixels === 0) return { alpha, fg: rgb, glass, glassPixels };
  const fg = Uint8Array.from(rgb);
  glassLayer(rgb, width, height, classes, Math.min(bw, bh), glassLook(input.glass), alpha, fg, lift);
  for (let i = 0; i < n; i++) if (classes[i] === CLASS_GLASS) glass[i] = 255;
  return { alpha, fg, glass, glassPixels };
}
