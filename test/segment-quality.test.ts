/** The real pipeline (native addon + default @imgly model) against the lemur's reference alpha. */
import { describe, expect, it } from 'vitest';

import { segment } from '../src/index.js';
import { readGrey } from './helpers/images.js';
import { photo } from './helpers/paths.js';

function iou(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const p = a[i]! >= 128;
    const g = b[i]! >= 128;
    if (p && g) inter++;
    if (p || g) union++;
  }
  return inter / union;
}

function edgeError(a: Uint8Array, truth: Uint8Array): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (truth[i]! > 5 && truth[i]! < 250) {
      s += Math.abs(a[i]! - truth[i]!) / 255;
      n++;
    }
  }
  return s / n;
}

describe('segmentation quality (lemur, reference alpha)', () => {
  it('matches the reference alpha at least as well as the reference tool, and refinement helps the edges', async () => {
    const truth = await readGrey(photo('lemur_cc0.refalpha.png'));
    const refined = await segment({ input: photo('lemur_cc0.jpg') });
    const bare = await segment({ input: photo('lemur_cc0.jpg'), refine: false });
    expect([refined.width, refined.height]).toEqual([truth.width, truth.height]);
    const iouRefined = iou(refined.alpha, truth.data);
    const iouBare = iou(bare.alpha, truth.data);
    console.log(
      `lemur IoU refined ${iouRefined.toFixed(4)} bare ${iouBare.toFixed(4)}; edge error ` +
        `${edgeError(refined.alpha, truth.data).toFixed(4)} vs ${edgeError(bare.alpha, truth.data).toFixed(4)}`,
    );
    expect(iouRefined).toBeGreaterThanOrEqual(0.954); // @imgly's own result with this model
    expect(iouRefined).toBeGreaterThanOrEqual(iouBare);
    expect(edgeError(refined.alpha, truth.data)).toBeLessThan(edgeError(bare.alpha, truth.data));
  });
});
