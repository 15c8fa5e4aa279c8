/**
 * The CLIP BPE vocabulary that ships with the package (third_party/clip-tokenizer: OpenAI CLIP's,
 * MIT): vocab.json + merges.txt, gzip-compressed, read and inflated once per process on first use.
 * SD 1.x / 2.x / XL checkpoints all use it, so a single-file checkpoint needs no tokenizer folder.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

import { BgNativeError } from './errors.js';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The folder holding vocab.json.gz and merges.txt.gz. */
export const clipVocabularyDir = path.join(packageRoot, 'third_party', 'clip-tokenizer');

export interface ClipVocabulary {
  /** vocab.json text. */
  vocab: string;
  /** merges.txt text. */
  merges: string;
}

let cached: ClipVocabulary | undefined;

/** The built-in vocabulary's vocab.json and merges.txt texts; E_MODEL_NOT_FOUND when the package lacks them. */
export function builtinClipVocabulary(): ClipVocabulary {
  if (cached) return cached;
  const read = (name: string): string => {
    const file = path.join(clipVocabularyDir, `${name}.gz`);
    if (!existsSync(file)) {
      throw new BgNativeError(
        'E_MODEL_NOT_FOUND',
        `${file} is missing from the package; reinstall it, or pass a ` +
          'tokenizer folder (vocab.json + merges.txt) with the tokenizer option or BG_CLIP_TOKENIZER.',
      );
    }
    try {
      return gunzipSync(readFileSync(file)).toString('utf8');
    } catch (err) {
      throw new BgNativeError(
        'E_MODEL_FORMAT',
        `${file} is not a readable gzip file (${(err as Error).message}); reinstall the package.`,
      );
    }
  };
  cached = { vocab: read('vocab.json'), merges: read('merges.txt') };
  return cached;
}
