/**
 * Key/shape table and config of the tiny autoencoder (TAESD / TAESDXL) in the diffusers
 * `AutoencoderTiny` layout, for random-weight benchmark files.
 *
 * EncoderTiny: layers.0 = conv(in → c0, 3×3, bias); then per level i: a stride-2 3×3 conv without
 * bias (levels after the first), num_encoder_blocks[i] AutoencoderTinyBlocks; last a 3×3 conv to the
 * latent channels (bias).
 * DecoderTiny: layers.0 = conv(latent → c0, 3×3, bias), layers.1 = ReLU; per level i:
 * num_decoder_blocks[i] blocks, then (all but the last level) layers = Upsample ×2 (no weights) and
 * a 3×3 conv without bias; the last conv (to the image channels) has a bias.
 * AutoencoderTinyBlock(c, c): conv.0, conv.2, conv.4 (3×3, bias) with ReLUs between; no skip conv
 * when the width does not change (always, with equal block widths).
 */
import type { TensorSpec } from './sd-checkpoint.js';

export interface TaesdArch {
  width: number;
  latentChannels: number;
  imageChannels: number;
  encoderBlocks: number[];
  decoderBlocks: number[];
}

/** madebyollin/taesd and taesdxl: 64-wide blocks, 4 latent channels. */
export const TAESD: TaesdArch = {
  width: 64,
  latentChannels: 4,
  imageChannels: 3,
  encoderBlocks: [1, 3, 3, 3],
  decoderBlocks: [3, 3, 3, 1],
};

function conv(name: string, out: number, inp: number, bias: boolean): TensorSpec[] {
  const t: TensorSpec[] = [
    { name: `${name}.weight`, shape: [out, inp, 3, 3], init: { kind: 'normal', std: 1 / Math.sqrt(inp * 9) } },
  ];
  if (bias) t.push({ name: `${name}.bias`, shape: [out], init: { kind: 'zeros' } });
  return t;
}
const block = (name: string, c: number): TensorSpec[] =>
  [0, 2, 4].flatMap((i) => conv(`${name}.conv.${i}`, c, c, true));

/** Encoder and decoder tensors (encoder.layers.N.*, decoder.layers.N.*). */
export function taesdTensors(a: TaesdArch = TAESD): TensorSpec[] {
  const c = a.width;
  const t: TensorSpec[] = [];
  let n = 0;
  a.encoderBlocks.forEach((blocks, level) => {
    t.push(
      ...(level === 0
        ? conv(`encoder.layers.${n++}`, c, a.imageChannels, true)
        : conv(`encoder.layers.${n++}`, c, c, false)),
    );
    for (let b = 0; b < blocks; ++b) t.push(...block(`encoder.layers.${n++}`, c));
  });
  t.push(...conv(`encoder.layers.${n}`, a.latentChannels, c, true));
  t.push(...conv('decoder.layers.0', c, a.latentChannels, true));
  n = 2; // layers.1 is the ReLU
  a.decoderBlocks.forEach((blocks, level) => {
    for (let b = 0; b < blocks; ++b) t.push(...block(`decoder.layers.${n++}`, c));
    if (level === a.decoderBlocks.length - 1) {
      t.push(...conv(`decoder.layers.${n}`, a.imageChannels, c, true));
    } else {
      n++; // Upsample
      t.push(...conv(`decoder.layers.${n++}`, c, c, false));
    }
  });
  return t;
}

/** The diffusers config.json of an AutoencoderTiny folder with these tensors. */
export function taesdConfig(a: TaesdArch = TAESD): Record<string, unknown> {
  const widths = a.encoderBlocks.map(() => a.width);
  return {
    _class_name: 'AutoencoderTiny',
    _diffusers_version: '0.25.1',
    act_fn: 'relu',
    block_out_channels: widths,
    decoder_block_out_channels: widths,
    encoder_block_out_channels: widths,
    force_upcast: false,
    in_channels: a.imageChannels,
    latent_channels: a.latentChannels,
    latent_magnitude: 3,
    latent_shift: 0.5,
    num_decoder_blocks: a.decoderBlocks,
    num_encoder_blocks: a.encoderBlocks,
    out_channels: a.imageChannels,
    scaling_factor: 1.0,
    upsampling_scaling_factor: 2,
  };
}
