/**
 * The subject's matte from the network's salient mask, an optional prompt and the glass setting:
 * α, the colour to composite (F, un-premultiplied) and which pixels are glass. Pure.
 *
 *   no prompt, glass 'off'   the salient mask as it is (the behaviour without this stage)
 *   no prompt, glass 'auto'  glass found only inside what the network marked (glassware it took
 *                            for opaque); nothing is added to the salient mask
 *   box / points             nothing outside the box; the product's extent from the salient mask
 *                            and the model-free flood (never empty for a framed product), glass
 *                            found inside it unless 'off'
 */
import { parseColor } from '../color.js';
import { CLASS_GLASS, CLASS_OPAQUE, classifyProduct } from './glass-regions.js';
import { DEFAULT_TINT, DEFAULT_TRANSMISSION, glassLayer, type GlassLook } from './glass-layer.js';
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
  };
}

function hasPrompt(prompt: SubjectPrompt | undefined): boolean {
  return Boolean(prompt && (prompt.box || (prompt.points && prompt.points.length)));
}

export function subjectMatte(input: SubjectMatteInput): SubjectMatte {
  const { rgb, width, height, salient } = input;
  const n = width * height;
  const off = input.glass === 'off';
  const prompted = hasPrompt(input.prompt);
  const glass = new Uint8Array(n);
  if (!prompted && off) return { alpha: salient, fg: rgb, glass, glassPixels: 0 };

  const extent = productExtent(rgb, width, height, salient, input.prompt ?? {});
  if (!extent) return { alpha: prompted ? new Uint8Array(n) : salient, fg: rgb, glass, glassPixels: 0 };
  const [bx, by, bw, bh] = extent.box;
  const inBox = (i: number) => {
    const x = i % width, y = (i - x) / width;
    return x >= bx && x < bx + bw && y >= by && y < by + bh;
  };

  let alpha: Uint8Array;
  if (prompted) {
    alpha = new Uint8Array(n);
    let salientInside = 0, productPixels = 0;
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

  const classes = classifyProduct(rgb, width, height, extent);
  if (!prompted) {
    // Without a prompt, glass is only looked for inside what the network marked as subject.
    for (let i = 0; i < n; i++) if (classes[i] === CLASS_GLASS && salient[i]! < 128) classes[i] = CLASS_OPAQUE;
  }
  let glassPixels = 0;
  for (let i = 0; i < n; i++) if (classes[i] === CLASS_GLASS) glassPixels++;
  if (glassPixels === 0) return { alpha, fg: rgb, glass, glassPixels };
  const fg = Uint8Array.from(rgb);
  glassLayer(rgb, width, height, classes, Math.min(bw, bh), glassLook(input.glass), alpha, fg);
  for (let i = 0; i < n; i++) if (classes[i] === CLASS_GLASS) glass[i] = 255;
  return { alpha, fg, glass, glassPixels };
}
