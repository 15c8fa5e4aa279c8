/**
 * The compositing chain of replaceBackground, as one pure function over pixels:
 *   decontaminate edges → enhance → colour-match to the new background → feather → shadow → composite
 * Runs in a worker thread (src/workers/pixel-pool.ts) so a 12-MP photo never blocks the
 * event loop; callable inline for small images and tests.
 */
import { stopwatch } from '../stopwatch.js';
import { compositeWithShadow } from './alpha.js';
import { labStats, matchColors } from './color-match.js';
import { decontaminate } from './decontaminate.js';
import { enhanceForeground } from './enhance.js';
import { featherAlpha, featherReach } from './feather.js';
import { shadowGrid, type ShadowGrid, type ShadowOptions } from './shadow.js';

export interface LayersTask {
  width: number;
  height: number;
  /** The photo on the output frame: interleaved RGB. */
  photo: Uint8Array;
  /** The subject's alpha on the output frame. */
  alpha: Uint8Array;
  /** The new background on the output frame: interleaved RGB. */
  background: Uint8Array;
  decontaminate: boolean;
  enhanceFg: boolean;
  /** Colour-match strength 0..1 (0 = off). */
  matchColors: number;
  /** Feather width, px at a 1024-px long side (0 = off). */
  featherEdges: number;
  /** Shadow synthesis options, or false for none. */
  shadow: ShadowOptions | false;
  /**
   * 255 where the subject is glass: its colour is the glass's own (tint, reflections), kept as it
   * is by decontamination, enhancement and colour matching; its low α keeps its shadow faint.
   */
  glass?: Uint8Array;
}

export interface LayersResult {
  /** The composite: interleaved RGB. */
  rgb: Uint8Array;
  /** The alpha actually used (after feathering): the mask artifact. */
  alpha: Uint8Array;
  /** Milliseconds per step. */
  stages: Record<string, number>;
}

export function composeLayers(task: LayersTask): LayersResult {
  const { width, height } = task;
  const { lap, stages } = stopwatch();
  // The task owns its buffers: the photo becomes the foreground and the background the output,
  // in place.
  let fg = task.photo;
  const glassColours = task.glass ? keepGlassColours(fg, task.glass) : undefined;
  if (task.decontaminate) {
    // α = 0 pixels only show where a later feather widens the alpha.
    const fillReach = task.featherEdges > 0 ? featherReach(task.featherEdges, width, height) : 0;
    fg = decontaminate(fg, task.alpha, width, height, { fillReach, inPlace: true });
    lap('decontaminate');
  }
  if (task.enhanceFg) {
    fg = enhanceForeground(fg, task.alpha, width, height);
    lap('enhance');
  }
  if (task.matchColors > 0) {
    fg = matchColors(fg, task.alpha, labStats(task.background), { strength: task.matchColors });
    lap('matchColors');
  }
  if (glassColours && task.glass) restoreGlassColours(fg, task.glass, glassColours);
  let alpha = task.alpha;
  if (task.featherEdges > 0) {
    alpha = featherAlpha(alpha, width, height, { width: task.featherEdges });
    lap('feather');
  }
  let shadow: ShadowGrid | undefined;
  if (task.shadow) {
    shadow = shadowGrid(alpha, width, height, task.shadow);
    lap('shadow');
  }
  // The shadow darkens the background inside the composite pass.
  const rgb = compositeWithShadow(fg, alpha, task.background, width, shadow, task.background);
  lap('composite');
  return { rgb, alpha, stages };
}

/** The glass pixels' colours, in pixel order. */
function keepGlassColours(rgb: Uint8Array, glass: Uint8Array): Uint8Array {
  let n = 0;
  for (let i = 0; i < glass.length; i++) if (glass[i]) n++;
  const out = new Uint8Array(n * 3);
  for (let i = 0, k = 0; i < glass.length; i++) if (glass[i]) out.set(rgb.subarray(i * 3, i * 3 + 3), 3 * k++);
  return out;
}

function restoreGlassColours(rgb: Uint8Array, glass: Uint8Array, kept: Uint8Array): void {
  for (let i = 0, k = 0; i < glass.length; i++) {
    if (!glass[i]) continue;
    rgb.set(kept.subarray(3 * k, 3 * k + 3), i * 3);
    k++;
  }
}
