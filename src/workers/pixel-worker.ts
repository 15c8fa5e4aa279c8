/**
 * The worker-thread entry of the pixel pool: the full-resolution loops of a job, one call per
 * task — compositing (composeLayers), mask refinement (refineAlpha), framing (applyFraming),
 * procedural backgrounds (paintBackground), the studio modes' matte (studioMatte) and the prompt's
 * extent with the glass matte (subjectMatteAtScale, or its two halves: the analysis on a reduced
 * copy and the way back to full size).
 * Pixel buffers travel both ways by transfer, never by copy.
 */
import { Tinypool } from 'tinypool';

import { applyFraming, type Framing } from '../compose/framing.js';
import { analyseReduced, bringBack, subjectMatteAtScale, type ReducedMatte } from '../compose/glass/matte-at-scale.js';
import type { SubjectMatteInput } from '../compose/glass/subject-matte.js';
import { composeLayers, type LayersTask } from '../compose/layers.js';
import { paintBackground, type PaintContext } from '../compose/paint.js';
import { refineAlpha, type CoarseMask, type RefineOptions } from '../compose/refine.js';
import { studioMatte, type StudioMatteTask } from '../compose/studio-matte.js';
import type { PresetBackground } from '../presets/schema.js';

export type PixelTask =
  | { op: 'layers'; task: LayersTask }
  | { op: 'refine'; rgb: Uint8Array; width: number; height: number; coarse: CoarseMask; options: RefineOptions }
  | { op: 'frame'; rgb: Uint8Array; alpha: Uint8Array; width: number; height: number; frame: Framing }
  | { op: 'paint'; spec: PresetBackground; width: number; height: number; ctx: PaintContext }
  | { op: 'studio'; task: StudioMatteTask }
  | { op: 'glass'; input: SubjectMatteInput }
  | {
      op: 'glass-reduced';
      small: Uint8Array;
      smallSalient: Uint8Array;
      gw: number;
      gh: number;
      s: number;
      options: Pick<SubjectMatteInput, 'prompt' | 'glass' | 'salientPrompted'>;
    }
  | { op: 'glass-back'; input: SubjectMatteInput; reduced: ReducedMatte };

function moved<T extends object>(value: T, buffers: ArrayBufferLike[]): unknown {
  return Tinypool.move({
    get [Tinypool.transferableSymbol]() {
      return buffers;
    },
    get [Tinypool.valueSymbol]() {
      return value;
    },
  } as never);
}

export default function run(t: PixelTask): unknown {
  switch (t.op) {
    case 'layers': {
      const r = composeLayers(t.task);
      return moved(r, [r.rgb.buffer, r.alpha.buffer]);
    }
    case 'refine': {
      const alpha = refineAlpha(t.rgb, t.width, t.height, t.coarse, t.options);
      // The photo goes back to the caller along with the alpha.
      return moved({ alpha, rgb: t.rgb }, [alpha.buffer, t.rgb.buffer]);
    }
    case 'paint': {
      const rgb = paintBackground(t.spec, t.width, t.height, t.ctx);
      return moved({ rgb }, [rgb.buffer]);
    }
    case 'studio': {
      const r = studioMatte(t.task);
      return r.ok ? moved(r, [r.alpha.buffer, r.fg.buffer]) : r;
    }
    case 'glass-reduced':
      // Small arrays: they travel back by copy.
      return analyseReduced(t.small, t.smallSalient, t.gw, t.gh, t.s, t.options);
    case 'glass':
    case 'glass-back': {
      // The photo and the mask come back too; F / α that are the same buffers travel once.
      const { rgb, salient } = t.input;
      const r = t.op === 'glass' ? subjectMatteAtScale(t.input) : bringBack(t.input, t.reduced);
      const fg = r.fg === rgb ? undefined : r.fg;
      const alpha = r.alpha === salient ? undefined : r.alpha;
      const buffers = [rgb.buffer, salient.buffer, r.glass.buffer];
      if (fg) buffers.push(fg.buffer);
      if (alpha) buffers.push(alpha.buffer);
      return moved({ rgb, salient, fg, alpha, glass: r.glass, glassPixels: r.glassPixels }, buffers);
    }
    case 'frame': {
      const r = applyFraming(t.rgb, t.alpha, t.width, t.height, t.frame);
      return moved(r, [r.rgb.buffer, r.alpha.buffer]);
    }
  }
}
