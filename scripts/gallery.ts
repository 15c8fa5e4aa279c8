/**
 * npm run gallery — before/after contact sheets to judge replaceBackground by eye.
 *
 * For every photo (../shared/photos/*.jpg and examples/*.jpg, or the JPEG/PNG files of --photos)
 * and every preset (listPresets(); a preset with prompt types once per type), it runs
 * replaceBackground and writes, under --out (default gallery/, git-ignored):
 *   <photo>.sheet.png          original | mask | one result per preset, labelled
 *   <photo>/<preset>.jpg       each result at full size (to inspect edges and shadows)
 *   <photo>/mask.png           the mask
 * A preset that fails gets a tile with its error code instead of a picture.
 *
 *   --photos DIR       folder of photos (default ../shared/photos plus examples/)
 *   --only a,b         only photos whose file name contains one of these
 *   --presets a,b      only these presets (vitrinealu:garden picks one prompt type)
 *   --engine NAME      engine (default studio)
 *   --out DIR          output folder (default gallery)
 *   --seed N           seed for every result (default 1)
 *   --tile N           tile size in the sheet, px (default 360)
 *   --model FILE       segmentation model (default: the library's default resolution)
 *
 * The library is imported from dist/ (the npm script builds it first): under tsx on Node 20 the
 * compositing worker cannot load the TypeScript sources.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs as parseCli } from 'node:util';

import sharp from 'sharp';

import { photosDir, repoRoot } from '../test/helpers/real-models.js';

type Lib = typeof import('../src/index.js');
const { clearSegmenters, closeComposePool, getPreset, listPresets, replaceBackground } = (await import(
  new URL('../dist/index.js', import.meta.url).href
).catch((err: Error) => {
  throw new Error(`cannot load dist/ (${err.message.split('\n')[0]}); run npm run build:ts first`);
})) as Lib;

interface Args {
  photos: string[];
  presets: Variant[];
  engine: string;
  out: string;
  seed: number;
  tile: number;
  model: string | undefined;
}

interface Variant {
  preset: string;
  promptType?: string;
}

const label = (v: Variant) => (v.promptType ? `${v.preset} · ${v.promptType}` : v.preset);
const slug = (v: Variant) => (v.promptType ? `${v.preset}-${v.promptType}` : v.preset);

function allVariants(): Variant[] {
  const out: Variant[] = [];
  for (const name of listPresets()) {
    const types = getPreset(name).promptTypes;
    if (types.length) for (const t of types) out.push({ preset: name, promptType: t });
    else out.push({ preset: name });
  }
  return out;
}

function parseArgs(argv: string[]): Args {
  const { values: v } = parseCli({
    args: argv,
    strict: true,
    options: {
      photos: { type: 'string' },
      only: { type: 'string' },
      presets: { type: 'string' },
      engine: { type: 'string', default: 'studio' },
      out: { type: 'string', default: 'gallery' },
      seed: { type: 'string', default: '1' },
      tile: { type: 'string', default: '360' },
      model: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) {
    console.log(
      'usage: npm run gallery -- [--photos DIR] [--only chair,lamp] [--presets product-studio,vitrinealu:garden] ' +
        '[--engine studio] [--out gallery] [--seed 1] [--tile 360] [--model file.onnx]',
    );
    process.exit(0);
  }
  const isPhoto = (f: string) => /\.(jpe?g|png|webp)$/i.test(f) && !/\.(mask|refalpha)\.png$/i.test(f);
  const dirs = v.photos ? [path.resolve(v.photos)] : [photosDir(), path.join(repoRoot, 'examples')];
  let photos = dirs
    .filter((d) => existsSync(d))
    .flatMap((d) =>
      readdirSync(d)
        .filter(isPhoto)
        .sort()
        .map((f) => path.join(d, f)),
    );
  if (v.only) {
    const keys = v.only.split(',').map((s) => s.trim().toLowerCase());
    photos = photos.filter((p) => keys.some((k) => path.basename(p).toLowerCase().includes(k)));
  }
  if (!photos.length) throw new Error(`no photos found in ${dirs.join(', ')}${v.only ? ` matching ${v.only}` : ''}`);
  let presets = allVariants();
  if (v.presets) {
    const wanted = v.presets.split(',').map((s) => s.trim().toLowerCase());
    presets = presets.filter((p) => wanted.includes(p.preset) || wanted.includes(`${p.preset}:${p.promptType}`));
    if (!presets.length) throw new Error(`--presets: none of ${v.presets} is a preset (${listPresets().join(', ')})`);
  }
  const seed = Number(v.seed);
  const tile = Number(v.tile);
  if (!Number.isInteger(seed) || seed < 0) throw new Error('--seed must be a whole number ≥ 0');
  if (!Number.isInteger(tile) || tile < 64) throw new Error('--tile must be a whole number ≥ 64');
  return { photos, presets, engine: v.engine, out: path.resolve(v.out), seed, tile, model: v.model };
}

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

const LABEL_H = 26;
const GAP = 6;
const SHEET_BG = { r: 40, g: 40, b: 40 };

/** One tile: the image fitted into tile×tile on the sheet colour, a label bar under it. */
async function tileOf(image: Buffer | string | undefined, text: string, tile: number, error?: string): Promise<Buffer> {
  const body = image
    ? await sharp(image)
        .rotate()
        .resize(tile, tile, { fit: 'contain', background: SHEET_BG, kernel: 'lanczos3' })
        .flatten({ background: SHEET_BG })
        .removeAlpha()
        .png()
        .toBuffer()
    : await sharp({ create: { width: tile, height: tile, channels: 3, background: { r: 90, g: 20, b: 20 } } })
        .composite([
          {
            input: Buffer.from(
              `<svg width="${tile}" height="${tile}" xmlns="http://www.w3.org/2000/svg"><text x="50%" ` +
                'y="50%" text-anchor="middle" font-family="DejaVu Sans, sans-serif" font-size="15" ' +
                `fill="#fff">${escapeXml(error ?? 'failed')}</text></svg>`,
            ),
          },
        ])
        .png()
        .toBuffer();
  const bar = Buffer.from(
    `<svg width="${tile}" height="${LABEL_H}" xmlns="http://www.w3.org/2000/svg"><rect width="100%" ` +
      'height="100%" fill="#282828"/><text x="6" y="18" font-family="DejaVu Sans, sans-serif" font-size="15" ' +
      `fill="#f0f0f0">${escapeXml(text)}</text></svg>`,
  );
  return sharp({ create: { width: tile, height: tile + LABEL_H, channels: 3, background: SHEET_BG } })
    .composite([
      { input: body, top: 0, left: 0 },
      { input: bar, top: tile, left: 0 },
    ])
    .png()
    .toBuffer();
}

async function sheet(tiles: Buffer[], tile: number, columns: number): Promise<Buffer> {
  const rows = Math.ceil(tiles.length / columns);
  const w = columns * tile + (columns + 1) * GAP;
  const h = rows * (tile + LABEL_H) + (rows + 1) * GAP;
  return sharp({ create: { width: w, height: h, channels: 3, background: SHEET_BG } })
    .composite(
      tiles.map((input, i) => ({
        input,
        left: GAP + (i % columns) * (tile + GAP),
        top: GAP + Math.floor(i / columns) * (tile + LABEL_H + GAP),
      })),
    )
    .png({ compressionLevel: 6 })
    .toBuffer();
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(args.out, { recursive: true });
  const log = (s: string) => process.stderr.write(`${s}\n`);
  log(
    `${args.photos.length} photos × ${args.presets.length} presets, engine ${args.engine}, seed ${args.seed} ` +
      `→ ${args.out}`,
  );
  try {
    for (const file of args.photos) {
      const name = path.basename(file).replace(/\.[^.]+$/, '');
      const dir = path.join(args.out, name);
      mkdirSync(dir, { recursive: true });
      const tiles: Buffer[] = [];
      let mask: Buffer | undefined;
      const results: Buffer[] = [];
      for (const v of args.presets) {
        const t0 = performance.now();
        try {
          const r = await replaceBackground({
            input: file,
            output: path.join(dir, `${slug(v)}.jpg`),
            preset: v.preset,
            ...(v.promptType ? { promptType: v.promptType } : {}),
            engine: args.engine as 'studio',
            seed: args.seed,
            quality: 92,
            ...(args.model ? { model: { segmentation: args.model } } : {}),
          });
          mask ??= r.artifacts.mask;
          results.push(await tileOf(r.artifacts.output as string, `${label(v)}`, args.tile));
          log(`${name}: ${label(v)} ${r.width}×${r.height} ${r.engine} ${(performance.now() - t0).toFixed(0)} ms`);
        } catch (err) {
          const e = err as { code?: string; message?: string };
          results.push(await tileOf(undefined, label(v), args.tile, `${e.code ?? 'error'}`));
          log(`${name}: ${label(v)} failed: ${e.code ?? ''} ${e.message?.split('\n')[0] ?? err}`);
        }
      }
      if (mask) writeFileSync(path.join(dir, 'mask.png'), mask);
      tiles.push(await tileOf(file, `original · ${name}`, args.tile));
      tiles.push(mask ? await tileOf(mask, 'mask', args.tile) : await tileOf(undefined, 'mask', args.tile, 'no mask'));
      tiles.push(...results);
      const out = path.join(args.out, `${name}.sheet.png`);
      writeFileSync(out, await sheet(tiles, args.tile, 4));
      log(`→ ${out}`);
    }
  } finally {
    await closeComposePool();
    await clearSegmenters();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
