/**
 * How replace() / cleanup() send the photo: its path on the server or its URL as JSON, or its
 * bytes as a multipart upload (`file`, the options as one JSON field, the studio files beside
 * it). With upload 'auto' a path the server cannot read is uploaded instead. Every request
 * carries the call's Idempotency-Key and asks the server to hold it up to the sync wait.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import type { CallScope } from './call-scope.js';
import { BackgroundApiError } from './errors.js';
import type { StudioParts } from './studio-files.js';
import { request, type Answer, type ClientState } from './transport.js';
import type { ImageBytes } from './types.js';

/** One replace() / cleanup() call's posting: where, with what key, options and studio files. */
export interface PhotoPost {
  state: ClientState;
  scope: CallScope;
  op: 'replace' | 'cleanup';
  /** The Idempotency-Key of every try. */
  key: string;
  /** How long the server may hold the request (default: the client's syncWaitMs). */
  syncWaitMs: number | undefined;
  options: Record<string, unknown>;
  studio: StudioParts;
}

/** Where the photo is: exactly one of them. */
export interface PhotoSource {
  imagePath?: string | undefined;
  image?: ImageBytes | undefined;
  imageUrl?: string | undefined;
  filename?: string | undefined;
  upload: 'auto' | boolean;
}

/** ?wait: the sync wait, cut to leave a second of the deadline and to the server's 10 min; in s. */
function waitQuery(p: PhotoPost): Record<string, string> {
  const ms = Math.min(p.syncWaitMs ?? p.state.cfg.syncWaitMs, Math.max(0, p.scope.remaining() - 1000), 600_000);
  return { wait: (Math.floor(ms / 100) / 10).toString() };
}

function spec(p: PhotoPost) {
  const what = `${p.op}()`;
  return { method: 'POST' as const, path: `/v1/${p.op}`, query: waitQuery(p), idempotencyKey: p.key, what };
}

/** The options as one JSON field, then the photo (when given), then the studio files. */
function formOf(p: PhotoPost, options: Record<string, unknown>, photo?: [Blob, string]): () => FormData {
  return () => {
    const f = new FormData();
    f.append('options', JSON.stringify(options));
    if (photo) f.append('file', photo[0], photo[1]);
    for (const [field, b, n] of p.studio.files) f.append(field, b, n);
    return f;
  };
}

/** The photo's bytes uploaded as the multipart `file`. */
function postForm(p: PhotoPost, bytes: ImageBytes, name: string): Promise<Answer> {
  const blob = bytes instanceof Blob ? bytes : new Blob([new Uint8Array(bytes)]);
  return request(p.state, { ...spec(p), form: formOf(p, p.options, [blob, name]) }, p.scope);
}

/** A JSON request, or multipart with the same fields when studio files are uploaded. */
function postJson(p: PhotoPost, json: Record<string, unknown>): Promise<Answer> {
  if (!p.studio.files.length) return request(p.state, { ...spec(p), json }, p.scope);
  return request(p.state, { ...spec(p), form: formOf(p, json) }, p.scope);
}

async function readLocal(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const message = `Cannot read ${file} to upload it: ${(err as Error).message}`;
    throw new BackgroundApiError('E_BAD_INPUT', message, { cause: err });
  }
}

/** Whether a refusal of `imagePath` means "this server cannot read that path" (→ upload instead). */
function pathRefused(err: unknown): boolean {
  if (!(err instanceof BackgroundApiError) || err.jobId) return false;
  if (err.code === 'E_FORBIDDEN') return true;
  return (
    err.code === 'E_BAD_INPUT' &&
    /\binputPath\b/.test(err.message) &&
    /(does not exist|not a file|must be absolute)/.test(err.message)
  );
}

/** Posts the photo the way its source and the upload setting call for; the server's answer. */
export async function sendPhoto(p: PhotoPost, src: PhotoSource): Promise<Answer> {
  if (src.image !== undefined) return postForm(p, src.image, src.filename ?? 'photo');
  if (src.imageUrl !== undefined) return postJson(p, { ...p.options, inputUrl: src.imageUrl });
  const abs = path.resolve(src.imagePath!);
  const name = src.filename ?? path.basename(abs);
  if (src.upload === true) return postForm(p, await readLocal(abs), name);
  try {
    return await postJson(p, { ...p.options, imagePath: abs });
  } catch (err) {
    if (src.upload !== 'auto' || !pathRefused(err)) throw err;
    return postForm(p, await readLocal(abs), name);
  }
}
