/**
 * The studio modes' extra photos of a glass scene, from its exact α and F: the clean plate (the
 * backdrop alone), and a second shot over the negative of the backdrop (255 − B: a clearly
 * different colour at every pixel, as a studio's black/white pair is) with its own plate. Each
 * with light sensor noise of its own, as separate exposures have.
 */
import sharp from 'sharp';

import { seededRandom, type GlassScene } from './glass-scenes.js';

export interface GlassStudioShots {
  plate: Buffer;
  second: { input: Buffer; cleanPlate: Buffer };
}

function png(rgb: Uint8Array, scene: GlassScene): Promise<Buffer> {
  return sharp(rgb, { raw: { width: scene.width, height: scene.height, channels: 3 } })
    .png()
    .toBuffer();
}

/** C = α·F + (1−α)·B (+ noise), or B alone with `plate`. */
function render(scene: GlassScene, backdrop: Float32Array, seed: number, plate: boolean): Uint8Array {
  const n = scene.width * scene.height;
  const out = new Uint8Array(n * 3);
  const noise = seededRandom(seed);
  for (let i = 0; i < n; i++) {
    const a = plate ? 0 : scene.alpha[i]!;
    for (let c = 0; c < 3; c++) {
      const v = a * scene.fg[i * 3 + c]! + (1 - a) * backdrop[i * 3 + c]! + (noise() + noise() - 1) * 1.5;
      out[i * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return out;
}

export async function glassStudioShots(scene: GlassScene, seed = 1): Promise<GlassStudioShots> {
  const negative = scene.background.map((v) => 255 - v);
  const [plate, input, cleanPlate] = await Promise.all([
    png(render(scene, scene.background, seed * 31 + 1, true), scene),
    png(render(scene, negative, seed * 31 + 2, false), scene),
    png(render(scene, negative, seed * 31 + 3, true), scene),
  ]);
  return { plate, second: { input, cleanPlate } };
}
