/**
 * segment(): photo in, full-resolution 8-bit alpha out.
 *   open (header, pixel limit) → decode ∥ load model → preprocess (resize to the network, NCHW)
 *   → infer (native) → postprocess (profile) → refine (guided filter at full resolution, where
 *   the family's profile asks for it unless `refine` says otherwise)
 * SAM (an encoder + prompt decoder pair) takes the `prompt` option instead: see sam.ts.
 */
import { addonDevice, type Runtime } from '../context/runtime.js';
import { BgNativeError, toBgError } from '../errors.js';
import { decodeOpened, openImage, type RgbImage } from '../image/decode.js';
import { resizeRgbExact } from '../image/resize.js';
import {
  inferProfile,
  inputSize,
  profileByName,
  toAlpha,
  toInputTensor,
  type ModelProfile,
} from '../models/profiles.js';
import { resolveModel, type ModelSource } from '../models/resolve.js';
import type { SegmenterLease } from '../models/segmenters.js';
import type { NativeSegmenter } from '../native.js';
import { runSam } from './sam.js';
import { refineGrid } from '../compose/refine.js';
import { blockAverage, glassStageRuns } from '../compose/glass/matte-at-scale.js';
import { clipBox } from '../compose/glass/product-extent.js';
import { glassLook } from '../compose/glass/subject-matte.js';
import {
  glassAnalysisOffThread,
  glassBringBackOffThread,
  refineOffThread,
  subjectMatteOffThread,
} from '../workers/pixel-pool.js';
import { resizeBilinear } from '../compose/resample.js';
import { parseSegmentOptions, type ParsedSegmentOptions, type SegmentOptions } from '../options.js';
import { openStudioShots, studioMatte, type StudioInfo } from './studio-shots.js';
import { checkPromptInImage } from './subject-prompt.js';
import { Timer, type Metrics } from './timer.js';

export interface ModelInfo {
  path: string;
  source: ModelSource;
  profile: ModelProfile['name'];
  /** [height, width] fed to the network. */
  inputSize: [number, number];
  /** The catalog name the model was asked for by (`birefnet-general`, `sam`, …). */
  name?: string;
  /** SAM: the prompt decoder that ran after the encoder `path`. */
  decoder?: string;
  /** What the network's products computed in on the CPU ('f32' on a GPU). */
  precision?: 'f32' | 'bf16';
}

export interface SegmentResult {
  /** 8-bit alpha, width*height, row-major; 255 = subject. */
  alpha: Uint8Array;
  width: number;
  height: number;
  model: ModelInfo;
  /** The studio mode that made the alpha (clean plate or two shots), with its alignment and gains. */
  studio?: StudioInfo;
  /** 255 where the pixel is glass (the alpha there is the see-through matte); absent when no glass was found. */
  glassMask?: Uint8Array;
  metrics: Metrics;
}

/** What cleanup() reuses: the decoded photo next to its alpha. */
export interface Segmentation {
  /** The photo; in a studio mode its pixels with α > 0 hold the foreground colour F instead. */
  image: RgbImage;
  alpha: Uint8Array;
  model: ModelInfo;
  /** Set when a studio mode made the alpha: F is then exact and needs no decontamination. */
  studio?: StudioInfo;
  /** 255 where the pixel is glass (its α is the see-through matte, its colour the glass's own); absent when none. */
  glass?: Uint8Array;
}

type CommonOptions = Omit<ParsedSegmentOptions, never>;

/**
 * The precision a model loads in when `segmentation.precision` is not given and its file name does
 * not tell its family: the family's default (profiles.ts) then comes from the graph's signature,
 * and an 'auto' family takes a second handle on the same graph.
 */
const UNNAMED_FAMILY_PRECISION = 'f32';

/** The segmentation stages, timed into `timer`, with the context `rt`. Options must already be parsed. */
export async function runSegmentation(opts: CommonOptions, timer: Timer, rt: Runtime): Promise<Segmentation> {
  // The models are held for this run: a local generation letting idle ones go (replace.ts) waits for it.
  const leases: SegmenterLease[] = [];
  try {
    return await segmentWith(opts, timer, rt, (...args) => {
      const lease = rt.segmenters.lease(...args);
      leases.push(lease);
      return lease.value;
    });
  } finally {
    for (const lease of leases) lease.release();
  }
}

async function segmentWith(
  opts: CommonOptions,
  timer: Timer,
  rt: Runtime,
  segmenter: (...args: Parameters<Runtime['segmenters']['lease']>) => Promise<NativeSegmenter>,
): Promise<Segmentation> {
  const { settings, pool } = rt;
  const maxPixels = opts.maxPixels ?? settings.limits.maxPixels;
  const threads = opts.threads ?? settings.threads;
  const device = addonDevice(opts.device, settings);
  const modelOption = opts.segmentation?.model ?? opts.model;
  const modelName = typeof modelOption === 'object' ? modelOption.path : modelOption;
  const explicitProfile =
    (typeof modelOption === 'object' ? modelOption.profile : undefined) ?? opts.segmentation?.profile;

  const opened = await timer.time('open', () => openImage(opts.input, { maxPixels }));
  // Clean plate / second shot: checked against the photo before any work, decoded meanwhile.
  const studio = await timer.time('open', () => openStudioShots(opts, opened.header, maxPixels));
  const resolved = await timer.time('resolve', () =>
    resolveModel({ model: modelName, variant: opts.segmentation?.variant, search: settings.segmentation }),
  );

  // The model loads (first call only) on native threads while the photo decodes.
  const loadStart = performance.now();
  const named = opts.segmentation?.precision;
  const precision = named ?? profileByName(resolved.path, explicitProfile)?.precision ?? UNNAMED_FAMILY_PRECISION;
  const segP = segmenter(resolved.path, threads, device, precision);
  segP.catch(() => undefined);
  // SAM's prompt decoder takes milliseconds and its logits are thresholded at 0: f32 unless named.
  const decoderP = resolved.decoder ? segmenter(resolved.decoder, threads, device, named ?? 'f32') : undefined;
  decoderP?.catch(() => undefined);
  const image = await timer.time('decode', () => decodeOpened(opened));
  checkPromptInImage(opts.prompt, image.width, image.height);
  let seg = await segP;
  const decoder = await decoderP;
  const profile = inferProfile(resolved.path, { inputs: seg.inputs, outputs: seg.outputs }, explicitProfile);
  if (named === undefined && profile.precision !== precision) {
    // The family's default (bf16 where the CPU has it): another handle on the same cached graph.
    seg = await segmenter(resolved.path, threads, device, profile.precision);
  }
  timer.add('load', Math.max(0, performance.now() - loadStart - (timer.get('decode') ?? 0)));

  const refine = opts.refine ?? profile.refine;

  // The refinement's guide (the photo on the filter's grid) is made by libvips while the network runs.
  const grid = refineGrid(image.width, image.height);
  const guideP =
    !refine || grid.s === 1
      ? Promise.resolve(undefined)
      : resizeRgbExact(image.data, image.width, image.height, grid.width, grid.height).then(
          (data) => ({ data, width: grid.width, height: grid.height }),
          () => undefined,
        );

  // The glass stage judges a box-averaged copy of the photo on the same grid (made here while the
  // network runs): the analysis is tuned on that reduction, and libvips' linear kernel is another.
  const glassOptions = {
    ...(opts.prompt ? { prompt: opts.prompt } : {}),
    ...(opts.glass !== undefined ? { glass: opts.glass } : {}),
    // SAM's mask is its answer to the prompt: all of it inside the box is the product's.
    ...(profile.family === 'sam' ? { salientPrompted: true } : {}),
  };
  const glassCopyP =
    refine && grid.s > 1 && glassStageRuns(glassOptions)
      ? new Promise<Uint8Array>((resolve) =>
          setImmediate(() => resolve(blockAverage(image.data, image.width, image.height, 3, grid.s))),
        )
      : undefined;

  let coarse: { data: Float32Array; width: number; height: number };
  let fed: [number, number];
  if (profile.family === 'sam') {
    if (!decoder) {
      throw new BgNativeError(
        'E_MODEL_NOT_FOUND',
        `${resolved.path} is run as a SAM image encoder, which needs its prompt decoder: name the pair ` +
          'x.encoder.onnx and x.decoder.onnx in one folder (as rembg does), or pass the decoder file.',
      );
    }
    if (!opts.prompt) {
      throw new BgNativeError(
        'E_BAD_INPUT',
        'Invalid segment options: `prompt` is required by SAM models: a box [x, y, width, height] and/or ' +
          'points [{ x, y, label }].',
      );
    }
    const sam = await runSam(image, seg, decoder, opts.prompt, profile, (stage, fn) => timer.time(stage, fn));
    coarse = timer.timeSync('postprocess', () => ({
      data: toAlpha(sam.data, profile),
      width: sam.width,
      height: sam.height,
    }));
    fed = [sam.frame.frameHeight, sam.frame.frameWidth];
  } else {
    const input0 = seg.inputs[0];
    const [mh, mw] = inputSize(profile, input0?.shape);
    fed = [mh, mw];

    const tensor = await timer.time('preprocess', async () => {
      const small = await resizeRgbExact(image.data, image.width, image.height, mw, mh);
      return toInputTensor(small, mw, mh, profile);
    });

    const outputs = await timer.time('infer', async () => {
      try {
        return await seg.run(tensor, [1, 3, mh, mw], { outputs: 'first' });
      } catch (err) {
        throw toBgError(err, 'E_INTERNAL');
      }
    });

    coarse = timer.timeSync('postprocess', () => {
      const out = outputs[0];
      if (!out) throw new BgNativeError('E_MODEL_UNSUPPORTED', `The model ${resolved.path} returned no output.`);
      const shape = out.shape;
      const oh = shape.length >= 2 ? shape[shape.length - 2]! : 0;
      const ow = shape.length >= 2 ? shape[shape.length - 1]! : 0;
      if (!(oh > 0 && ow > 0) || out.data.length < oh * ow) {
        throw new BgNativeError(
          'E_MODEL_UNSUPPORTED',
          `The model ${resolved.path} returned an output of shape [${shape.join(', ')}]; expected [1, 1, H, W].`,
        );
      }
      // First plane only (a [1, C, H, W] output's channel 0).
      const plane = out.data.length === oh * ow ? out.data : out.data.slice(0, oh * ow);
      return { data: toAlpha(plane, profile), width: ow, height: oh };
    });
  }

  const guide = await guideP;
  const glassCopy = await glassCopyP;
  // The glass stage's analysis needs only the photo and the mask on a grid: where the refinement's
  // guide is that grid, it runs on a second pixel worker while the refinement runs.
  const analysis =
    guide && glassCopy
      ? glassAnalysisOffThread(
          glassCopy,
          alphaOnGrid(coarse, guide.width, guide.height),
          guide.width,
          guide.height,
          grid.s,
          glassOptions,
          { pool },
        )
      : undefined;
  // Awaited below; a failed refinement must not leave its rejection unhandled.
  analysis?.catch(() => undefined);
  // Full-resolution refinement runs on a pixel worker; the photo travels there and back.
  const refined = await timer.time('refine', () =>
    refineOffThread(image.data, image.width, image.height, coarse, { disabled: !refine, guide }, { pool }),
  );
  // The prompt's extent and the glass matte: α low over panes and glassware, F their tint and reflections.
  // Judged on a copy of about 768 px on the long side, brought back guided by the photo, on a pixel worker.
  const fullSize = {
    rgb: refined.rgb,
    width: image.width,
    height: image.height,
    salient: refined.alpha,
    ...glassOptions,
  };
  const matte = await timer.time('glass', async () =>
    analysis ? glassBringBackOffThread(fullSize, await analysis, { pool }) : subjectMatteOffThread(fullSize, { pool }),
  );

  // Studio modes: the plates measure α and F, with the matte above as the model's opinion.
  const exact = studio
    ? await timer.time('studio', () =>
        studioMatte(studio, { ...image, data: matte.rgb }, matte.alpha, {
          pool,
          // The panes are solved against the plate: a copy of the mask travels (the result keeps it).
          ...(matte.glassPixels > 0 ? { glass: { mask: Uint8Array.from(matte.glass), ...glassLook(opts.glass) } } : {}),
        }),
      )
    : undefined;

  // Nothing outside the prompt's box is kept, whatever the plates say.
  if (exact && opts.prompt?.box) keepInsideBox(exact.alpha, image.width, image.height, opts.prompt.box);

  return {
    image: { ...image, data: exact ? exact.rgb : matte.fg },
    alpha: exact ? exact.alpha : matte.alpha,
    ...(matte.glassPixels > 0 ? { glass: matte.glass } : {}),
    ...(exact ? { studio: exact.info } : {}),
    model: {
      path: resolved.path,
      source: resolved.source,
      profile: profile.name,
      inputSize: fed,
      ...(resolved.name ? { name: resolved.name } : {}),
      ...(resolved.decoder ? { decoder: resolved.decoder } : {}),
      precision: seg.precision,
    },
  };
}

/** The network's mask (0..1 on its own grid) resized to `width` × `height`, 8-bit. */
function alphaOnGrid(coarse: { data: Float32Array; width: number; height: number }, width: number, height: number) {
  const p = resizeBilinear(coarse.data, coarse.width, coarse.height, width, height);
  return Uint8Array.from(p, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
}

/** Zeroes `alpha` outside `box` ([x, y, width, height], photo pixels; clipped to the image). */
function keepInsideBox(alpha: Uint8Array, width: number, height: number, box: readonly number[]): void {
  const clipped = clipBox(box as [number, number, number, number], width, height);
  if (!clipped) {
    alpha.fill(0);
    return;
  }
  const [bx, by, bw, bh] = clipped;
  for (let y = 0; y < height; y++) {
    const inRows = y >= by && y < by + bh;
    for (let x = 0; x < width; x++) if (!inRows || x < bx || x >= bx + bw) alpha[y * width + x] = 0;
  }
}

/**
 * Cuts the subject out of a photo: returns its alpha (8-bit, the photo's full size, EXIF
 * orientation applied), the model used and per-stage timings.
 */
export async function segment(options: SegmentOptions, rt: Runtime): Promise<SegmentResult> {
  const timer = new Timer();
  const opts = parseSegmentOptions(options);
  const s = await runSegmentation(opts, timer, rt);
  return {
    alpha: s.alpha,
    width: s.image.width,
    height: s.image.height,
    model: s.model,
    ...(s.studio ? { studio: s.studio } : {}),
    ...(s.glass ? { glassMask: s.glass } : {}),
    metrics: timer.metrics(),
  };
}
