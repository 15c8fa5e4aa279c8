/**
 * Prompted segmentation with Segment Anything (SAM): an image encoder and a prompt decoder, as
 * rembg names them (`sam_vit_b_01ec64.encoder.onnx` + `.decoder.onnx`; any of ViT-B/L/H).
 *
 * The encoder comes in two exports, told apart by its input:
 *   - (1, 3, S, S) (S = 1024 when dynamic): the photo scaled so its longer side is S, ImageNet
 *     mean/std (on 0–255, as SAM's pixel_mean / pixel_std), zero-padded right and bottom to S²;
 *   - (H, W, 3) 0–255 RGB (rembg's export, which normalises and pads inside the graph): the photo
 *     scaled into the graph's fixed H×W (top-left, zeros elsewhere) or, when dynamic, to a longer
 *     side of 1024.
 * The decoder takes the embeddings, the prompt in the encoder's 1024 frame (a box is two points
 * labelled 2 and 3; without a box a padding point labelled −1 ends the list), an empty mask
 * input, and the size of the image it should return masks for. Of its multimask outputs the one
 * with the best predicted IoU is taken; its logits are thresholded at 0 by the profile.
 */
import { BgNativeError, toBgError } from '../errors.js';
import { resizeRgbExact } from '../image/resize.js';
import type { RgbImage } from '../image/decode.js';
import type { NativeSegmenter, TensorInput, TensorResult } from '../native.js';
import type { SegmentPrompt } from '../options.js';
import type { ModelProfile } from '../models/profiles.js';

/** The side SAM's prompt encoder measures coordinates against (its image encoder's input). */
const SAM_SIDE = 1024;

export interface SamFrame {
  layout: 'nchw' | 'hwc';
  /** Photo → network scale. */
  scale: number;
  /** The scaled photo's size. */
  width: number;
  height: number;
  /** The tensor's spatial size (the scaled photo sits top-left in it). */
  frameWidth: number;
  frameHeight: number;
}

/** How the photo goes into the encoder, from the encoder's input shape. */
export function samFrame(photoWidth: number, photoHeight: number, inputShape: readonly number[]): SamFrame {
  if (inputShape.length === 4) {
    const s = inputShape[2]! > 0 ? inputShape[2]! : inputShape[3]! > 0 ? inputShape[3]! : SAM_SIDE;
    const scale = s / Math.max(photoWidth, photoHeight);
    return {
      layout: 'nchw',
      scale,
      width: Math.max(1, Math.min(s, Math.floor(photoWidth * scale + 0.5))),
      height: Math.max(1, Math.min(s, Math.floor(photoHeight * scale + 0.5))),
      frameWidth: s,
      frameHeight: s,
    };
  }
  if (inputShape.length === 3 && (inputShape[2] === 3 || inputShape[2]! < 0)) {
    const fh = inputShape[0]!;
    const fw = inputShape[1]!;
    if (fh > 0 && fw > 0) {
      const scale = Math.min(fw / photoWidth, fh / photoHeight);
      return {
        layout: 'hwc',
        scale,
        width: Math.max(1, Math.min(fw, Math.floor(photoWidth * scale + 0.5))),
        height: Math.max(1, Math.min(fh, Math.floor(photoHeight * scale + 0.5))),
        frameWidth: fw,
        frameHeight: fh,
      };
    }
    const scale = SAM_SIDE / Math.max(photoWidth, photoHeight);
    const width = Math.max(1, Math.min(SAM_SIDE, Math.floor(photoWidth * scale + 0.5)));
    const height = Math.max(1, Math.min(SAM_SIDE, Math.floor(photoHeight * scale + 0.5)));
    return { layout: 'hwc', scale, width, height, frameWidth: width, frameHeight: height };
  }
  throw new BgNativeError(
    'E_MODEL_UNSUPPORTED',
    `A SAM image encoder takes (1, 3, S, S) or (H, W, 3) images; this one takes [${inputShape.join(', ')}].`,
  );
}

/** The encoder's input tensor for the scaled photo `rgb` (frame.width × frame.height, interleaved RGB). */
export function samEncoderInput(rgb: Uint8Array, frame: SamFrame, profile: ModelProfile): TensorInput {
  const { width: w, height: h, frameWidth: fw, frameHeight: fh } = frame;
  if (frame.layout === 'hwc') {
    const data = new Float32Array(fh * fw * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w * 3; x++) data[y * fw * 3 + x] = rgb[y * w * 3 + x]!;
    }
    return { data, shape: [fh, fw, 3] };
  }
  const plane = fh * fw;
  const data = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const k = 1 / (255 * profile.std[c]!);
    const m = profile.mean[c]! / profile.std[c]!;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) data[c * plane + y * fw + x] = rgb[(y * w + x) * 3 + c]! * k - m;
    }
  }
  return { data, shape: [1, 3, fh, fw] };
}

/** The prompt as SAM's decoder takes it: coordinates in its 1024 frame and labels. */
export function samPoints(prompt: SegmentPrompt, frame: SamFrame): { coords: Float32Array; labels: Float32Array } {
  const origMax = Math.max(...samOrigSize(frame));
  const k = (frame.scale * SAM_SIDE) / origMax;
  const xy: number[] = [];
  const labels: number[] = [];
  for (const p of prompt.points ?? []) {
    xy.push(p.x * k, p.y * k);
    labels.push(p.label ?? 1);
  }
  if (prompt.box) {
    const [x, y, bw, bh] = prompt.box;
    xy.push(x * k, y * k, (x + bw) * k, (y + bh) * k);
    labels.push(2, 3);
  } else {
    xy.push(0, 0);
    labels.push(-1);
  }
  return { coords: Float32Array.from(xy), labels: Float32Array.from(labels) };
}

/** The image size the decoder is asked to return masks at: the scaled photo (NCHW) or the whole frame (HWC). */
function samOrigSize(frame: SamFrame): [number, number] {
  return frame.layout === 'nchw' ? [frame.height, frame.width] : [frame.frameHeight, frame.frameWidth];
}

/** The decoder's inputs, in its input order, by name. */
export function samDecoderInputs(
  decoder: NativeSegmenter,
  embeddings: TensorResult,
  prompt: SegmentPrompt,
  frame: SamFrame,
): TensorInput[] {
  const { coords, labels } = samPoints(prompt, frame);
  const n = labels.length;
  return decoder.inputs.map((info) => {
    switch (info.name) {
      case 'image_embeddings':
        return { data: embeddings.data, shape: embeddings.shape };
      case 'point_coords':
        return { data: coords, shape: [1, n, 2] };
      case 'point_labels':
        return { data: labels, shape: [1, n] };
      case 'mask_input': {
        const shape = info.shape.length === 4 && info.shape.every((d) => d > 0) ? info.shape : [1, 1, 256, 256];
        return { data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape };
      }
      case 'has_mask_input':
        return { data: new Float32Array(1), shape: [1] };
      case 'orig_im_size':
        return { data: Float32Array.from(samOrigSize(frame)), shape: [2] };
      default:
        throw new BgNativeError(
          'E_MODEL_UNSUPPORTED',
          `The SAM decoder ${decoder.path} has an input '${info.name}' bg-native does not know how to fill ` +
            '(expected image_embeddings, point_coords, point_labels, mask_input, has_mask_input, orig_im_size).',
        );
    }
  });
}

/** The best mask's logits (by predicted IoU), cropped to the scaled photo. */
export function samBestMask(
  outputs: TensorResult[],
  frame: SamFrame,
  decoderPath: string,
): { data: Float32Array; width: number; height: number } {
  const masks = outputs.find((o) => o.name === 'masks') ?? outputs[0];
  const iou =
    outputs.find((o) => o.name === 'iou_predictions') ?? outputs.find((o) => o !== masks && o.data.length <= 16);
  const s = masks?.shape ?? [];
  if (!masks || s.length !== 4 || s[0] !== 1 || !(s[1]! >= 1) || !(s[2]! >= 1) || !(s[3]! >= 1)) {
    throw new BgNativeError(
      'E_MODEL_UNSUPPORTED',
      `The SAM decoder ${decoderPath} returned masks of shape [${s.join(', ')}]; expected [1, K, H, W].`,
    );
  }
  const [, k, mh, mw] = s as [number, number, number, number];
  let best = 0;
  if (iou && iou.data.length === k) {
    for (let i = 1; i < k; i++) if (iou.data[i]! > iou.data[best]!) best = i;
  }
  const [oh, ow] = samOrigSize(frame);
  // Masks come at orig_im_size; the scaled photo is its top-left part (all of it for NCHW).
  const cw = Math.max(1, Math.min(mw, Math.round((frame.width * mw) / ow)));
  const ch = Math.max(1, Math.min(mh, Math.round((frame.height * mh) / oh)));
  const plane = masks.data.subarray(best * mh * mw, (best + 1) * mh * mw);
  const data = new Float32Array(cw * ch);
  for (let y = 0; y < ch; y++) data.set(plane.subarray(y * mw, y * mw + cw), y * cw);
  return { data, width: cw, height: ch };
}

/** Encoder then decoder on `image` with `prompt`: the chosen mask's logits at the scaled photo's size. */
export async function runSam(
  image: RgbImage,
  encoder: NativeSegmenter,
  decoder: NativeSegmenter,
  prompt: SegmentPrompt,
  profile: ModelProfile,
  time: <T>(stage: string, fn: () => Promise<T>) => Promise<T>,
): Promise<{ data: Float32Array; width: number; height: number; frame: SamFrame }> {
  const frame = samFrame(image.width, image.height, encoder.inputs[0]?.shape ?? [1, 3, -1, -1]);
  const input = await time('preprocess', async () => {
    const small = await resizeRgbExact(image.data, image.width, image.height, frame.width, frame.height);
    return samEncoderInput(small, frame, profile);
  });
  const mask = await time('infer', async () => {
    try {
      const [embeddings] = await encoder.runInputs([input], { outputs: 'first' });
      if (!embeddings)
        throw new BgNativeError('E_MODEL_UNSUPPORTED', `The SAM encoder ${encoder.path} returned no output.`);
      const outs = await decoder.runInputs(samDecoderInputs(decoder, embeddings, prompt, frame), { outputs: 'all' });
      return samBestMask(outs, frame, decoder.path);
    } catch (err) {
      throw toBgError(err, 'E_INTERNAL');
    }
  });
  return { ...mask, frame };
}
