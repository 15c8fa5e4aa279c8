/**
 * Diffusion weights by model id (`MODEL_ID=org/name`), shared with every tool that uses the
 * Hugging Face cache.
 *
 *   cache  $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
 *          ~/.cache/huggingface/hub — laid out as the hub's own client lays it out:
 *            models--org--name/refs/<revision>          the commit the revision pointed at
 *            models--org--name/blobs/<etag>             file contents (sha256 for LFS files, git blob sha1 otherwise)
 *            models--org--name/snapshots/<commit>/<path> → ../../blobs/<etag> (relative symlinks)
 *   hit    the snapshot for the revision holds a complete model → its path; no network at all
 *   miss   GET {HF_ENDPOINT}/api/models/{id}/revision/{rev}?blobs=true lists the files with
 *          their sizes and LFS sha256; the files the runtime loads are picked (a diffusers
 *          pipeline: model_index.json and, per component, its configs, tokenizer files and
 *          weights — the fp16 .safetensors variant when there is one; otherwise the repository's
 *          single .safetensors checkpoint) and fetched from {HF_ENDPOINT}/{id}/resolve/{commit}/{path}
 *          into blobs/<etag>.incomplete, resumed with an HTTP Range after a cut connection,
 *          verified (size; sha256 or git blob sha1) and renamed into place
 *   lock   one download per model at a time, across processes: the others wait for the lock
 *          and then find the files in the cache
 *
 * HF_TOKEN (or HUGGING_FACE_HUB_TOKEN) is sent as a bearer token for gated or private models.
 * HF_HUB_OFFLINE=1 never touches the network. Nothing cached and no way to download →
 * E_MODEL_NOT_FOUND saying which id, where it looked and how to fix it.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type Dirent } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readFile,
  readdir,
  readlink,
  rename,
  stat,
  symlink,
  unlink,
  utimes,
  writeFile,
  copyFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { BgNativeError } from '../errors.js';

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';

export interface HubDownloadProgress {
  /** The file being fetched (its path in the repository). */
  file: string;
  /** Bytes of this file on disk so far (a resumed part included). */
  fileBytes: number;
  fileTotal: number;
  /** Bytes of every file this resolve fetches, done so far and in all. */
  bytes: number;
  total: number;
}

export interface HubResolveOptions {
  /** An environment to read the settings below from (hubSettingsFromEnv()); the options win over it. */
  env?: NodeJS.ProcessEnv;
  /** Branch, tag or commit (default 'main'; env MODEL_REVISION). */
  revision?: string;
  /** The hub's base URL (default https://huggingface.co; env HF_ENDPOINT). */
  endpoint?: string;
  /** The hub cache folder (default: see hubCacheDir()). */
  cacheDir?: string;
  /** Bearer token (env HF_TOKEN / HUGGING_FACE_HUB_TOKEN). */
  token?: string;
  /** Never use the network (env HF_HUB_OFFLINE=1). */
  offline?: boolean;
  /** Weights variant to prefer (default 'fp16'); '' takes the plain files. */
  variant?: string;
  /** Exactly these repository files instead of the automatic choice. */
  files?: string[];
  onProgress?: (p: HubDownloadProgress) => void;
  signal?: AbortSignal;
  /** Attempts per file when the connection breaks (each resumes where the last stopped; default 4). */
  attempts?: number;
  /** How long to wait for another process's download before giving up (default 6 h). */
  lockTimeoutMs?: number;
  /** A lock whose holder has not touched it for this long is taken over (default 60 s). */
  lockStaleMs?: number;
}

export interface HubModel {
  id: string;
  revision: string;
  commit: string;
  /** What the runtime loads: the snapshot folder (diffusers pipeline) or the checkpoint file in it. */
  path: string;
  snapshotDir: string;
  /** Repository paths present in the snapshot for this model. */
  files: string[];
  /** 'cache' when everything was already there, 'download' when files were fetched. */
  source: 'cache' | 'download';
  /** Bytes fetched by this call. */
  downloadedBytes: number;
}

interface Sibling {
  rfilename: string;
  size?: number;
  blobId?: string;
  lfs?: { sha256?: string; oid?: string; size?: number };
}

interface RepoInfo {
  sha: string;
  siblings: Sibling[];
}

const ID_RE = /^[A-Za-z0-9][\w.-]{0,95}\/[A-Za-z0-9][\w.-]{0,95}$/;
const WEIGHT_EXCLUDE = /\.(bin|ckpt|pt|pth|msgpack|h5|onnx|onnx_data|pb|tflite|mlmodel|xml)$/i;

/** The hub cache folder: HF_HUB_CACHE → HF_HOME/hub → XDG_CACHE_HOME/huggingface/hub → ~/.cache/huggingface/hub. */
export function hubCacheDir(env: NodeJS.ProcessEnv): string {
  if (env.HF_HUB_CACHE?.trim()) return path.resolve(env.HF_HUB_CACHE.trim());
  if (env.HUGGINGFACE_HUB_CACHE?.trim()) return path.resolve(env.HUGGINGFACE_HUB_CACHE.trim());
  if (env.HF_HOME?.trim()) return path.join(path.resolve(env.HF_HOME.trim()), 'hub');
  const base = env.XDG_CACHE_HOME?.trim() ? path.resolve(env.XDG_CACHE_HOME.trim()) : path.join(os.homedir(), '.cache');
  return path.join(base, 'huggingface', 'hub');
}

/** `org/name` → `models--org--name`. */
export function repoFolderName(id: string): string {
  return `models--${id.split('/').join('--')}`;
}

/** Checks a model id: `org/name`. */
export function parseModelId(id: string, from = 'MODEL_ID'): string {
  const t = id.trim();
  if (!ID_RE.test(t) || t.includes('..')) {
    throw new BgNativeError(
      'E_CONFIG',
      `${from} must be a Hugging Face model id such as "stabilityai/stable-diffusion-xl-base-1.0" ` +
        `(org/name), got ${JSON.stringify(id)}. For a local file or folder use MODEL_PATH.`,
    );
  }
  return t;
}

function isTruthy(v: string | undefined): boolean {
  return /^(1|true|yes|on)$/i.test(v?.trim() ?? '');
}

/** The hub settings an environment gives: the one place MODEL_REVISION and the HF_* variables are read. */
export function hubSettingsFromEnv(env: NodeJS.ProcessEnv): {
  revision?: string;
  endpoint?: string;
  cacheDir: string;
  token?: string;
  offline: boolean;
} {
  const revision = env.MODEL_REVISION?.trim();
  const endpoint = env.HF_ENDPOINT?.trim();
  const token = env.HF_TOKEN?.trim() || env.HUGGING_FACE_HUB_TOKEN?.trim();
  return {
    ...(revision ? { revision } : {}),
    ...(endpoint ? { endpoint } : {}),
    cacheDir: hubCacheDir(env),
    ...(token ? { token } : {}),
    offline: isTruthy(env.HF_HUB_OFFLINE),
  };
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    const abs = path.join(dir, e.name);
    let isDir = e.isDirectory();
    if (e.isSymbolicLink()) {
      try {
        const st = await stat(abs);
        if (st.isDirectory()) isDir = true;
        else if (!st.isFile()) continue;
      } catch {
        continue; // dangling link: its blob is missing
      }
    }
    if (isDir) out.push(...(await listFiles(abs, rel)));
    else out.push(rel);
  }
  return out.sort();
}

// ---- which files a model needs ----------------------------------------------------------------

const WEIGHT_RE = /^(?<base>[^/.]+)(?:\.(?<variant>[A-Za-z0-9_]+))?(?:-\d{5}-of-\d{5})?\.safetensors$/;

/** Weights in one folder (`names` are file names there): the variant's when it has any, else the plain ones. */
function pickWeights(names: string[], variant: string): string[] {
  const parsed = names.map((n) => ({ n, m: WEIGHT_RE.exec(n) })).filter((x) => x.m);
  const withVariant = variant ? parsed.filter((x) => x.m!.groups!.variant === variant) : [];
  const chosen = withVariant.length ? withVariant : parsed.filter((x) => x.m!.groups!.variant === undefined);
  return chosen.map((x) => x.n);
}

function componentsOf(modelIndex: unknown): string[] {
  if (!modelIndex || typeof modelIndex !== 'object') return [];
  return Object.entries(modelIndex as Record<string, unknown>)
    .filter(([k, v]) => !k.startsWith('_') && Array.isArray(v) && v.length === 2 && v[0] !== null && v[1] !== null)
    .map(([k]) => k);
}

/**
 * The repository files the runtime needs. A diffusers pipeline (model_index.json): per component,
 * its *.json / *.txt files (configs, tokenizer vocab + merges) and its weights; otherwise the one
 * .safetensors checkpoint at the top level.
 */
export function selectModelFiles(
  all: string[],
  modelIndex: unknown | undefined,
  variant = 'fp16',
  id = 'the model',
): string[] {
  if (modelIndex !== undefined) {
    const out = ['model_index.json'];
    for (const c of componentsOf(modelIndex)) {
      const inDir = all
        .filter((f) => f.startsWith(`${c}/`) && !f.slice(c.length + 1).includes('/'))
        .map((f) => f.slice(c.length + 1));
      for (const n of inDir)
        if (/\.(json|txt|model)$/i.test(n) && !n.endsWith('.safetensors.index.json')) out.push(`${c}/${n}`);
      const weights = pickWeights(
        inDir.filter((n) => !WEIGHT_EXCLUDE.test(n)),
        variant,
      );
      for (const n of weights) out.push(`${c}/${n}`);
      const shardIndex =
        weights.length > 1
          ? inDir.find(
              (n) =>
                n.endsWith('.safetensors.index.json') &&
                (!variant || n.includes(`.${variant}.`) === weights[0]!.includes(`.${variant}`)),
            )
          : undefined;
      if (shardIndex) out.push(`${c}/${shardIndex}`);
    }
    return [...new Set(out)];
  }
  const top = all.filter((f) => !f.includes('/') && f.endsWith('.safetensors'));
  if (top.length === 1) return top;
  if (top.length === 0) {
    throw new BgNativeError(
      'E_MODEL_UNSUPPORTED',
      `${id} has neither model_index.json (a diffusers pipeline) nor a .safetensors checkpoint at its top ` +
        'level; choose another model id or point MODEL_PATH at local weights.',
    );
  }
  const preferred = pickWeights(top, variant);
  if (preferred.length === 1) return preferred;
  throw new BgNativeError(
    'E_MODEL_UNSUPPORTED',
    `${id} holds several checkpoints (${top.join(', ')}); download the one you want and point MODEL_PATH at it.`,
  );
}

/** True when `dir` holds what the runtime loads: every component's weights, or a checkpoint file. */
async function completeSnapshot(dir: string, variant: string): Promise<{ path: string; files: string[] } | undefined> {
  const files = await listFiles(dir);
  if (!files.length) return undefined;
  if (files.includes('model_index.json')) {
    let index: unknown;
    try {
      index = JSON.parse(await readFile(path.join(dir, 'model_index.json'), 'utf8'));
    } catch {
      return undefined;
    }
    const comps = componentsOf(index);
    for (const c of comps) {
      const inDir = files.filter((f) => f.startsWith(`${c}/`)).map((f) => f.slice(c.length + 1));
      if (c.startsWith('tokenizer')) {
        if (
          !inDir.includes('vocab.json') &&
          !inDir.includes('tokenizer.json') &&
          !inDir.some((n) => n.endsWith('.model'))
        )
          return undefined;
      } else if (c.startsWith('scheduler')) {
        if (!inDir.includes('scheduler_config.json')) return undefined;
      } else if (c.startsWith('feature_extractor') || c.startsWith('safety_checker') || c.startsWith('image_encoder')) {
      } else {
        if (!inDir.includes('config.json')) return undefined;
        if (!inDir.some((n) => n.endsWith('.safetensors'))) return undefined;
      }
    }
    return { path: dir, files };
  }
  const top = files.filter((f) => !f.includes('/') && f.endsWith('.safetensors'));
  if (top.length === 1) return { path: path.join(dir, top[0]!), files };
  const preferred = pickWeights(top, variant);
  if (preferred.length === 1) return { path: path.join(dir, preferred[0]!), files };
  return undefined;
}

// ---- the lock -----------------------------------------------------------------------------------

interface Lock {
  release(): Promise<void>;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new BgNativeError('E_CANCELLED', 'The model download was cancelled.'));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * An exclusive lock file (created with O_EXCL) holding the owner's host and pid, touched every
 * few seconds. A waiter takes over a lock whose owner is gone (same host, dead pid) or that has
 * not been touched for `staleMs`.
 */
async function acquireLock(
  file: string,
  o: { staleMs: number; timeoutMs: number; signal?: AbortSignal | undefined; id: string },
): Promise<Lock> {
  await mkdir(path.dirname(file), { recursive: true });
  const me = JSON.stringify({ host: os.hostname(), pid: process.pid, token: randomBytes(8).toString('hex') });
  const end = Date.now() + o.timeoutMs;
  for (;;) {
    try {
      const fh = await open(file, 'wx', 0o644);
      await fh.writeFile(me);
      await fh.close();
      const beat = setInterval(
        () => {
          const now = new Date();
          utimes(file, now, now).catch(() => undefined);
        },
        Math.max(200, Math.floor(o.staleMs / 4)),
      );
      beat.unref();
      return {
        async release() {
          clearInterval(beat);
          try {
            if ((await readFile(file, 'utf8')) === me) await unlink(file);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new BgNativeError(
          'E_IO',
          `Cannot create the download lock ${file}: ${(err as Error).message} (is the cache folder writable? ` +
            'Set HF_HUB_CACHE to a writable folder).',
          { cause: err },
        );
      }
    }
    // Held: by a live process, or left behind?
    try {
      const [text, st] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
      let owner: { host?: string; pid?: number } = {};
      try {
        owner = JSON.parse(text) as typeof owner;
      } catch {
        // being written right now, or garbage: judged by its age
      }
      const dead = owner.host === os.hostname() && typeof owner.pid === 'number' && !pidAlive(owner.pid);
      const old = Date.now() - st.mtimeMs > o.staleMs;
      if (dead || old) {
        await unlink(file).catch(() => undefined);
        continue;
      }
    } catch {
      continue; // released meanwhile
    }
    if (Date.now() > end) {
      throw new BgNativeError(
        'E_IO',
        `Another process has been downloading ${o.id} for too long (lock ${file}); remove the lock file if ` +
          'no download is running.',
      );
    }
    await sleep(100, o.signal);
  }
}

// ---- HTTP ---------------------------------------------------------------------------------------

function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

function unreachable(id: string, endpoint: string, cache: string, err: unknown): BgNativeError {
  const why =
    (err as { cause?: { code?: string; message?: string } })?.cause?.code ?? (err as Error)?.message ?? String(err);
  return new BgNativeError(
    'E_MODEL_NOT_FOUND',
    `Model ${id} is not in the cache (${path.join(cache, repoFolderName(id))}) and ${endpoint} cannot be ` +
      `reached (${why}). ` +
      'Connect to the network once so it can be downloaded, set HF_ENDPOINT to a reachable mirror, copy the ' +
      'model into HF_HOME, or point MODEL_PATH at local weights.',
    { cause: err },
  );
}

async function fetchRepoInfo(
  id: string,
  revision: string,
  endpoint: string,
  token: string | undefined,
  cache: string,
  signal?: AbortSignal,
): Promise<RepoInfo> {
  const url = `${endpoint}/api/models/${id}/revision/${encodeURIComponent(revision)}?blobs=true`;
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { accept: 'application/json', ...authHeaders(token) },
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    if (signal?.aborted) throw new BgNativeError('E_CANCELLED', 'The model download was cancelled.');
    throw unreachable(id, endpoint, cache, err);
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new BgNativeError(
      'E_MODEL_NOT_FOUND',
      token
        ? `${endpoint} refused access to ${id} (${res.status}) with the given HF_TOKEN: accept the model's ` +
            'licence on its page with that account, or use a token with read access.'
        : `${endpoint} refused access to ${id} (${res.status}): it is gated or private. Set HF_TOKEN to a ` +
            `token with read access (and accept the model's licence on its page).`,
    );
  }
  if (res.status === 404) {
    await res.body?.cancel();
    throw new BgNativeError(
      'E_MODEL_NOT_FOUND',
      `${endpoint} has no model ${id} at revision ${revision}: check MODEL_ID (org/name, as on the model's ` +
        'page) and MODEL_REVISION.',
    );
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw unreachable(id, endpoint, cache, new Error(`HTTP ${res.status} from ${url}`));
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch (err) {
    throw unreachable(id, endpoint, cache, new Error(`${url} did not answer JSON`, { cause: err }));
  }
  const b = body as Partial<RepoInfo>;
  if (typeof b.sha !== 'string' || !/^[0-9a-f]{40}$/.test(b.sha) || !Array.isArray(b.siblings)) {
    throw unreachable(id, endpoint, cache, new Error(`${url} answered without a commit sha and file list`));
  }
  return { sha: b.sha, siblings: b.siblings.filter((s) => s && typeof s.rfilename === 'string') };
}

/** What a file's blob is called and how it is checked. */
function blobOf(s: Sibling): { etag: string; size: number | undefined; algo: 'sha256' | 'git-sha1' | undefined } {
  const lfsSha = s.lfs?.sha256 ?? s.lfs?.oid;
  if (lfsSha && /^[0-9a-f]{64}$/.test(lfsSha)) return { etag: lfsSha, size: s.lfs?.size ?? s.size, algo: 'sha256' };
  if (s.blobId && /^[0-9a-f]{40}$/.test(s.blobId)) return { etag: s.blobId, size: s.size, algo: 'git-sha1' };
  return { etag: createHash('sha256').update(s.rfilename).digest('hex'), size: s.size, algo: undefined };
}

class CutConnection extends Error {}

interface FileJob {
  sibling: Sibling;
  blob: string;
  etag: string;
  size: number | undefined;
  algo: 'sha256' | 'git-sha1' | undefined;
}

async function hashPrefix(file: string, hash: Hash, bytes: number): Promise<void> {
  if (bytes <= 0) return;
  await pipeline(
    createReadStream(file, { start: 0, end: bytes - 1 }),
    new Transform({
      transform(chunk, _e, cb) {
        hash.update(chunk as Buffer);
        cb();
      },
    }),
  );
}

/** Fetches one file into blobs/<etag>: resumes the .incomplete part, verifies, renames. */
async function downloadBlob(
  job: FileJob,
  url: string,
  token: string | undefined,
  attempts: number,
  progress: (file: string, fileBytes: number, delta: number) => void,
  signal: AbortSignal | undefined,
): Promise<number> {
  const part = `${job.blob}.incomplete`;
  let fetched = 0;
  for (let attempt = 1; ; attempt++) {
    let have = 0;
    try {
      have = (await stat(part)).size;
    } catch {
      have = 0;
    }
    if (job.size !== undefined && have > job.size) {
      await unlink(part).catch(() => undefined);
      have = 0;
    }
    const headers: Record<string, string> = { ...authHeaders(token), 'accept-encoding': 'identity' };
    if (have > 0) headers.range = `bytes=${have}-`;
    try {
      if (job.size === undefined || have < job.size || job.size === 0) {
        let res: Response;
        try {
          res = await fetch(url, { headers, ...(signal ? { signal } : {}) });
        } catch (err) {
          if (signal?.aborted) throw new BgNativeError('E_CANCELLED', 'The model download was cancelled.');
          throw new CutConnection((err as Error).message, { cause: err });
        }
        if (res.status === 416 && have > 0 && job.size !== undefined && have === job.size) {
          await res.body?.cancel();
        } else if (res.status === 401 || res.status === 403 || res.status === 404) {
          await res.body?.cancel();
          throw new BgNativeError(
            'E_MODEL_NOT_FOUND',
            `Downloading ${job.sibling.rfilename} failed: ${url} answered ` +
              `${res.status}${res.status === 404 ? '' : ' (set HF_TOKEN for gated or private models)'}.`,
          );
        } else if (!res.ok || !res.body) {
          await res.body?.cancel();
          throw new CutConnection(`HTTP ${res.status}`);
        } else {
          const append = res.status === 206 && have > 0;
          if (!append && have > 0) {
            progress(job.sibling.rfilename, 0, -have);
            have = 0;
          }
          const out = createWriteStream(part, { flags: append ? 'a' : 'w', mode: 0o644 });
          let at = have;
          const counter = new Transform({
            transform(chunk: Buffer, _e, cb) {
              at += chunk.length;
              fetched += chunk.length;
              progress(job.sibling.rfilename, at, chunk.length);
              cb(null, chunk);
            },
          });
          try {
            await pipeline(Readable.fromWeb(res.body as never), counter, out);
          } catch (err) {
            if (signal?.aborted) throw new BgNativeError('E_CANCELLED', 'The model download was cancelled.');
            throw new CutConnection((err as Error).message, { cause: err });
          }
          if (job.size !== undefined && at < job.size)
            throw new CutConnection(`the connection closed after ${at} of ${job.size} bytes`);
        }
      }
      // Verify the whole file.
      const got = (await stat(part)).size;
      if (job.size !== undefined && got !== job.size) {
        await unlink(part).catch(() => undefined);
        throw new BgNativeError(
          'E_MODEL_FORMAT',
          `Downloaded ${job.sibling.rfilename} has ${got} bytes, expected ${job.size}; it was discarded. Try ` +
            'again (if it persists, the mirror at HF_ENDPOINT serves a different file).',
        );
      }
      if (job.algo) {
        const hash = createHash(job.algo === 'sha256' ? 'sha256' : 'sha1');
        if (job.algo === 'git-sha1') hash.update(`blob ${got}\0`);
        await hashPrefix(part, hash, got);
        const digest = hash.digest('hex');
        if (digest !== job.etag) {
          await unlink(part).catch(() => undefined);
          throw new BgNativeError(
            'E_MODEL_FORMAT',
            `Downloaded ${job.sibling.rfilename} does not match its checksum ` +
              `(${job.algo === 'sha256' ? 'sha256' : 'git blob sha1'} ${digest}, expected ${job.etag}); it was ` +
              'discarded. Try again (if it persists, the mirror at HF_ENDPOINT serves a different file).',
          );
        }
      }
      await rename(part, job.blob);
      return fetched;
    } catch (err) {
      if (!(err instanceof CutConnection) || attempt >= attempts) {
        if (err instanceof CutConnection) {
          throw new BgNativeError(
            'E_IO',
            `Downloading ${job.sibling.rfilename} from ${url} failed ${attempts} times (${err.message}); ` +
              'what arrived is kept and the next run resumes from there.',
            { cause: err },
          );
        }
        throw err;
      }
      await sleep(Math.min(4000, 250 * 2 ** (attempt - 1)), signal);
    }
  }
}

async function linkSnapshot(snapshotDir: string, rel: string, blob: string): Promise<void> {
  const dest = path.join(snapshotDir, ...rel.split('/'));
  await mkdir(path.dirname(dest), { recursive: true });
  const target = path.relative(path.dirname(dest), blob);
  try {
    const st = await lstat(dest);
    if (st.isSymbolicLink() && (await readlink(dest)) === target) return;
    await unlink(dest);
  } catch {
    // not there yet
  }
  try {
    await symlink(target, dest);
  } catch {
    await copyFile(blob, dest); // file systems without symlinks
  }
}

// ---- resolve ------------------------------------------------------------------------------------

async function readRef(repoDir: string, revision: string): Promise<string | undefined> {
  if (/^[0-9a-f]{40}$/.test(revision)) return revision;
  try {
    const t = (await readFile(path.join(repoDir, 'refs', ...revision.split('/')), 'utf8')).trim();
    return /^[0-9a-f]{40}$/.test(t) ? t : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resolves `id` (org/name) to weights on disk: from the cache when the snapshot is complete,
 * otherwise downloaded into it first. See the module comment.
 */
export async function resolveHubModel(id: string, options: HubResolveOptions = {}): Promise<HubModel> {
  const fromEnv = hubSettingsFromEnv(options.env ?? {});
  const modelId = parseModelId(id);
  const revision = options.revision ?? fromEnv.revision ?? 'main';
  const endpoint = (options.endpoint ?? fromEnv.endpoint ?? DEFAULT_HF_ENDPOINT).replace(/\/+$/, '');
  let endpointUrl: URL | undefined;
  try {
    endpointUrl = new URL(endpoint);
  } catch {
    endpointUrl = undefined;
  }
  if (!endpointUrl || !/^https?:$/.test(endpointUrl.protocol)) {
    throw new BgNativeError(
      'E_CONFIG',
      `HF_ENDPOINT must be an http(s) URL such as ${DEFAULT_HF_ENDPOINT}, got ${JSON.stringify(endpoint)}.`,
    );
  }
  const cache = options.cacheDir ? path.resolve(options.cacheDir) : fromEnv.cacheDir;
  const token = options.token ?? fromEnv.token;
  const offline = options.offline ?? fromEnv.offline;
  const variant = options.variant ?? 'fp16';
  const repoDir = path.join(cache, repoFolderName(modelId));
  const signal = options.signal;

  const fromCache = async (): Promise<HubModel | undefined> => {
    const commit = await readRef(repoDir, revision);
    if (!commit) return undefined;
    const snapshotDir = path.join(repoDir, 'snapshots', commit);
    if (options.files) {
      for (const f of options.files) if (!(await exists(path.join(snapshotDir, f)))) return undefined;
      const only = options.files.length === 1 ? path.join(snapshotDir, options.files[0]!) : snapshotDir;
      return {
        id: modelId,
        revision,
        commit,
        path: only,
        snapshotDir,
        files: [...options.files],
        source: 'cache',
        downloadedBytes: 0,
      };
    }
    const done = await completeSnapshot(snapshotDir, variant);
    return done
      ? {
          id: modelId,
          revision,
          commit,
          path: done.path,
          snapshotDir,
          files: done.files,
          source: 'cache',
          downloadedBytes: 0,
        }
      : undefined;
  };

  const cached = await fromCache();
  if (cached) return cached;
  if (offline) {
    throw new BgNativeError(
      'E_MODEL_NOT_FOUND',
      `Model ${modelId} (revision ${revision}) is not in the cache (${repoDir}) and HF_HUB_OFFLINE is set. ` +
        'Download it once with network access (unset HF_HUB_OFFLINE), copy the cache folder from a machine ' +
        'that has it (HF_HOME / HF_HUB_CACHE), or point MODEL_PATH at local weights.',
    );
  }

  const info = await fetchRepoInfo(modelId, revision, endpoint, token, cache, signal);
  const byName = new Map(info.siblings.map((s) => [s.rfilename, s]));
  const fileUrl = (rel: string) => `${endpoint}/${modelId}/resolve/${info.sha}/${encodePath(rel)}`;

  let lock: Lock | undefined;
  try {
    lock = await acquireLock(path.join(cache, '.locks', repoFolderName(modelId), 'bg-native-download.lock'), {
      staleMs: options.lockStaleMs ?? 60_000,
      timeoutMs: options.lockTimeoutMs ?? 6 * 3600_000,
      signal,
      id: modelId,
    });
    // Another process may have finished while we waited.
    const meanwhile = await fromCache();
    if (meanwhile && (await readRef(repoDir, revision)) === info.sha) return meanwhile;

    const blobsDir = path.join(repoDir, 'blobs');
    const snapshotDir = path.join(repoDir, 'snapshots', info.sha);
    try {
      await mkdir(blobsDir, { recursive: true });
      await mkdir(snapshotDir, { recursive: true });
    } catch (err) {
      throw new BgNativeError(
        'E_IO',
        `Cannot create the model cache folder ${repoDir}: ${(err as Error).message} (set HF_HOME or ` +
          'HF_HUB_CACHE to a writable folder).',
        { cause: err },
      );
    }

    const jobFor = (rel: string): FileJob => {
      const s = byName.get(rel);
      if (!s) throw new BgNativeError('E_MODEL_NOT_FOUND', `${modelId} at ${revision} has no file ${rel}.`);
      const b = blobOf(s);
      return { sibling: s, blob: path.join(blobsDir, b.etag), ...b };
    };

    let wanted: string[];
    let downloadedBytes = 0;
    const progressState = { bytes: 0, total: 0 };
    const report = (file: string, fileBytes: number, delta: number, fileTotal: number) => {
      progressState.bytes += delta;
      try {
        options.onProgress?.({ file, fileBytes, fileTotal, bytes: progressState.bytes, total: progressState.total });
      } catch {
        // A throwing progress callback must not break the download.
      }
    };
    const fetchOne = async (job: FileJob) => {
      if (await exists(job.blob)) return;
      let partSize = 0;
      try {
        partSize = (await stat(`${job.blob}.incomplete`)).size;
      } catch {
        partSize = 0;
      }
      progressState.bytes += Math.min(partSize, job.size ?? partSize);
      downloadedBytes += await downloadBlob(
        job,
        fileUrl(job.sibling.rfilename),
        token,
        options.attempts ?? 4,
        (f, fb, d) => report(f, fb, d, job.size ?? 0),
        signal,
      );
    };

    if (options.files) wanted = options.files;
    else if (byName.has('model_index.json')) {
      const indexJob = jobFor('model_index.json');
      await fetchOne(indexJob);
      let index: unknown;
      try {
        index = JSON.parse(await readFile(indexJob.blob, 'utf8'));
      } catch (err) {
        throw new BgNativeError(
          'E_MODEL_FORMAT',
          `${modelId}'s model_index.json is not valid JSON (${(err as Error).message}).`,
          { cause: err },
        );
      }
      wanted = selectModelFiles([...byName.keys()], index, variant, modelId);
    } else wanted = selectModelFiles([...byName.keys()], undefined, variant, modelId);

    const jobs = wanted.map(jobFor);
    progressState.total = jobs.reduce((a, j) => a + (j.size ?? 0), 0);
    progressState.bytes = 0;
    for (const j of jobs) if (await exists(j.blob)) progressState.bytes += j.size ?? 0;
    for (const j of jobs) {
      if (signal?.aborted) throw new BgNativeError('E_CANCELLED', 'The model download was cancelled.');
      await fetchOne(j);
      await linkSnapshot(snapshotDir, j.sibling.rfilename, j.blob);
    }
    if (!/^[0-9a-f]{40}$/.test(revision)) {
      const ref = path.join(repoDir, 'refs', ...revision.split('/'));
      await mkdir(path.dirname(ref), { recursive: true });
      const tmp = `${ref}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(tmp, info.sha);
      await rename(tmp, ref);
    }
    let modelPath = snapshotDir;
    if (wanted.length === 1 || !wanted.includes('model_index.json')) {
      const weights = wanted.filter((f) => f.endsWith('.safetensors'));
      if (weights.length === 1) modelPath = path.join(snapshotDir, weights[0]!);
    }
    return {
      id: modelId,
      revision,
      commit: info.sha,
      path: modelPath,
      snapshotDir,
      files: await listFiles(snapshotDir),
      source: downloadedBytes > 0 ? 'download' : 'cache',
      downloadedBytes,
    };
  } finally {
    await lock?.release();
  }
}
