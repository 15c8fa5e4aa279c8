/**
 * The studio modes inside segmentation: the clean plate (`cleanPlate`) and the second shot with its
 * plate (`second`) are read and checked against the photo before the network runs (a missing file
 * or another size fails at once, naming the field and the file), decoded while it runs, and matted
 * against the photo on a pixel worker once its alpha is known (src/compose/studio-matte.ts).
 */
import path from 'node:path';

import type { StudioInfo, StudioMatteTask } from '../compose/studio-matte.js';
import { BgNativeError } from '../errors.js';
import { decodeOpened, openImage, type ImageHeader, type OpenedImage, type RgbImage } from '../image/decode.js';
import type { ImageInput, SecondShot } from '../options.js';
import { studioMatteOffThread, type PixelPool } from '../workers/pixel-pool.js';

export type { StudioInfo };

/** Largest exposure difference (luma) the studio modes correct; beyond it the file is refused. */
export const EXPOSURE_TOLERANCE = 0.15;

export interface StudioOptions {
  cleanPlate?: ImageInput | undefined;
  second?: SecondShot | undefined;
}

type Field = 'cleanPlate' | 'second.input' | 'second.cleanPlate';

/** The studio inputs, opened and checked; pixels decode on demand. */
export interface StudioShots {
  plate: Promise<RgbImage>;
  second?: { shot: Promise<RgbImage>; plate: Promise<RgbImage> };
  names: Record<Field, string>;
}

function describe(input: ImageInput): string {
  return typeof input === 'string' ? path.basename(input) : `a ${input.byteLength}-byte buffer`;
}

async function openField(field: Field, input: ImageInput, photo: ImageHeader, maxPixels: number): Promise<OpenedImage> {
  let opened: OpenedImage;
  try {
    opened = await openImage(input, { maxPixels });
  } catch (err) {
    if (err instanceof BgNativeError) throw new BgNativeError(err.code, `\`${field}\`: ${err.message}`, { cause: err });
    throw err;
  }
  const { width, height } = opened.header;
  if (width !== photo.width || height !== photo.height) {
    throw new BgNativeError(
      'E_BAD_INPUT',
      `\`${field}\` (${describe(input)}) is ${width}×${height} but the photo is ${photo.width}×${photo.height}: ` +
        'shoot it from the same tripod position with the same camera size setting, or crop both alike.',
    );
  }
  return opened;
}

function decoded(field: Field, opened: OpenedImage): Promise<RgbImage> {
  const p = decodeOpened(opened).catch((err: unknown) => {
    if (err instanceof BgNativeError) throw new BgNativeError(err.code, `\`${field}\`: ${err.message}`, { cause: err });
    throw err;
  });
  p.catch(() => undefined); // awaited later; never an unhandled rejection meanwhile
  return p;
}

/** Opens the studio inputs the options name (none: undefined), checking them against the photo. */
export async function openStudioShots(
  opts: StudioOptions,
  photo: ImageHeader,
  maxPixels: number,
): Promise<StudioShots | undefined> {
  if (opts.cleanPlate === undefined) {
    if (opts.second !== undefined) {
      throw new BgNativeError(
        'E_BAD_INPUT',
        "`second` needs the first backdrop's clean plate too: give `cleanPlate` (CLI --clean-plate) with the " +
          'photo taken without the product.',
      );
    }
    return undefined;
  }
  const names = {
    cleanPlate: describe(opts.cleanPlate),
    'second.input': opts.second ? describe(opts.second.input) : '',
    'second.cleanPlate': opts.second ? describe(opts.second.cleanPlate) : '',
  };
  const [plate, shot2, plate2] = await Promise.all([
    openField('cleanPlate', opts.cleanPlate, photo, maxPixels),
    opts.second ? openField('second.input', opts.second.input, photo, maxPixels) : undefined,
    opts.second ? openField('second.cleanPlate', opts.second.cleanPlate, photo, maxPixels) : undefined,
  ]);
  return {
    plate: decoded('cleanPlate', plate),
    ...(shot2 && plate2
      ? { second: { shot: decoded('second.input', shot2), plate: decoded('second.cleanPlate', plate2) } }
      : {}),
    names,
  };
}

/**
 * The studio matte of the photo: α, and the photo's pixels replaced by the foreground colour F
 * wherever α > 0. `photo` is moved to a worker: use the returned `rgb` afterwards.
 */
export async function studioMatte(
  shots: StudioShots,
  photo: RgbImage,
  model: Uint8Array,
  options: { signal?: AbortSignal; pool?: PixelPool; glass?: StudioMatteTask['glass'] } = {},
): Promise<{ rgb: Uint8Array; alpha: Uint8Array; info: StudioInfo }> {
  const { glass, ...offThread } = options;
  const [plate, shot2, plate2] = await Promise.all([shots.plate, shots.second?.shot, shots.second?.plate]);
  const r = await studioMatteOffThread(
    {
      width: photo.width,
      height: photo.height,
      shot: photo.data,
      model,
      plate: plate.data,
      ...(shot2 && plate2 ? { second: { shot: shot2.data, plate: plate2.data } } : {}),
      ...(glass ? { glass } : {}),
      tolerance: EXPOSURE_TOLERANCE,
    },
    offThread,
  );
  if (!r.ok) {
    // The gain maps the file onto the photo: the file itself is 1/gain as bright.
    const pct = Math.round((1 / r.gain - 1) * 100);
    const against = r.field === 'second.input' ? "the photo's exposure over the product" : "its shot's background";
    throw new BgNativeError(
      'E_BAD_INPUT',
      `\`${r.field}\` (${shots.names[r.field]}) is ${pct > 0 ? `${pct} % brighter` : `${-pct} % darker`} ` +
        `than ${against}; ` +
        `the studio modes correct up to ±${Math.round(r.tolerance * 100)} %. Shoot every frame with the same ` +
        'manual exposure and light.',
    );
  }
  return { rgb: r.fg, alpha: r.alpha, info: r.info };
}
