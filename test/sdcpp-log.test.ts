/**
 * bench:diffusion --sdcpp reads stable-diffusion.cpp's timings from its log (scripts/lib/sdcpp-run.ts):
 * the progress lines of the sampling steps (s/it or it/s, written with carriage returns between
 * updates and beside the weight loaders' MB/s bars) and the stage lines.
 */
import { describe, expect, it } from 'vitest';

import { parseLog, parseSteps } from '../scripts/lib/sdcpp-run.js';

const LOG = [
  '[INFO ] stable-diffusion.cpp:5296 - get_learned_condition completed, taking 5.14s',
  '  |##################################################| 686/686 - 427.04MB/s\x1b[K',
  '\r  |================>                                 | 1/3 - 30.56s/it\x1b[K',
  '\r  |=================================>                | 2/3 - 22.62s/it\x1b[K',
  '\r  |==================================================| 3/3 - 1.25it/s\x1b[K',
  '[INFO ] stable-diffusion.cpp:5711 - sampling completed, taking 71.19s',
  '[INFO ] stable-diffusion.cpp:5387 - latent 1 decoded, taking 17.10s',
  '[INFO ] stable-diffusion.cpp:5391 - decode_first_stage completed, taking 17.10s',
  '[INFO ] stable-diffusion.cpp:5861 - generate_image completed in 93.44s',
].join('\n');

describe('stable-diffusion.cpp log', () => {
  it("reads every step (it/s as its inverse), ignoring the loaders' bars", () => {
    expect(parseSteps(LOG, 3)).toEqual([30.56, 22.62, 0.8]);
    expect(parseSteps(LOG, 4)).toEqual([]);
  });

  it('takes the warm step as the mean after the first, and the stage times', () => {
    const r = parseLog(LOG, 3);
    expect(r.unet_step_warm_s).toBeCloseTo((22.62 + 0.8) / 2, 10);
    expect([r.text_encode_s, r.sampling_s, r.vae_decode_s, r.total_s]).toEqual([5.14, 71.19, 17.1, 93.44]);
  });

  it('a log without the lines gives NaN, not a number that looks measured', () => {
    const r = parseLog('nothing here', 2);
    expect(r.steps_s).toEqual([]);
    expect([r.unet_step_warm_s, r.sampling_s, r.vae_decode_s].every(Number.isNaN)).toBe(true);
  });
});
