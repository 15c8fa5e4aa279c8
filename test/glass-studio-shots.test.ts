/**
 * The studio shots of a glass scene (scripts/lib/glass-studio-shots.ts): the plate is the backdrop,
 * the second shot is the product over the backdrop's negative, and its plate that negative — each
 * within the sensor noise of the exact composite.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { makeGlassScene } from '../scripts/lib/glass-scenes.js';
import { glassStudioShots } from '../scripts/lib/glass-studio-shots.js';

const raw = async (png: Buffer) => new Uint8Array(await sharp(png).raw().toBuffer());

describe('glassStudioShots', () => {
  it('renders the plate, a second shot over the negative backdrop and its plate from the exact α and F', async () => {
    const s = await makeGlassScene({ kind: 'window', backdrop: 'garden', width: 96, height: 72, seed: 3 });
    const shots = await glassStudioShots(s, 2);
    const { plate: p1, second } = shots;
    const [plate, shot2, plate2] = (await Promise.all([p1, second.input, second.cleanPlate].map(raw))) as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ];
    let worst = 0,
      differs = 0;
    for (let i = 0; i < s.width * s.height; i++) {
      const a = s.alpha[i]!;
      for (let c = 0; c < 3; c++) {
        const b = s.background[i * 3 + c]!,
          f = s.fg[i * 3 + c]!;
        worst = Math.max(worst, Math.abs(plate[i * 3 + c]! - b), Math.abs(plate2[i * 3 + c]! - (255 - b)));
        worst = Math.max(worst, Math.abs(shot2[i * 3 + c]! - (a * f + (1 - a) * (255 - b))));
        if (Math.abs(plate[i * 3 + c]! - plate2[i * 3 + c]!) > 40) differs++;
      }
    }
    expect(worst).toBeLessThanOrEqual(3);
    // The two backdrops differ clearly almost everywhere (what triangulation needs).
    expect(differs / (s.width * s.height * 3)).toBeGreaterThan(0.7);
  });
});
