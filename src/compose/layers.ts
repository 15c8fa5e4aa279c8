/**
 * The compositing chain of replaceBackground, as one pure function over pixels:
 *   decontaminate edges → enhance → colour-match to the new background → feather → shadow → composite
 * Runs in a worker thread (src/pipeline/compose-pool.ts) so a 12-MP photo never blocks the
 * event loop; callable inline for small images and tests.
 */
import { compositeOverImage } from './alpha.js';
import { labStats, matchColors } from './color-match.js';
import { decontaminate } from './decontaminate.js';
import { enhanceForeground } from './enhance.js';
import { featherAlpha } from './feather.js';
import { applyShadow, synthesizeShadow, type ShadowOptions } from './shadow.js';

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
  const stages: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    stages[name] = Math.round((now - t) * 10) / 10;
    t = now;
  };
  let fg = task.photo;
  if (task.decontaminate) {
    fg = decontaminate(fg, task.alpha, width, height);
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
  let alpha = task.alpha;
  if (task.featherEdges > 0) {
    alpha = featherAlpha(alpha, width, height, { width: task.featherEdges });
    lap('feather');
  }
  let bg = task.background;
  if (task.shadow) {
    bg = applyShadow(bg, synthesizeShadow(alpha, width, height, task.shadow));
    lap('shadow');
  }
  const rgb = compositeOverImage(fg, alpha, bg);
  lap('composite');
  return { rgb, alpha, stages };
}
