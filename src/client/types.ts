/**
 * Request and response shapes of the client. Option types come from src/options.ts as types
 * only (erased at run time), so the client, the CLI and the server share one contract.
 */
import type { CleanupOptions, ReplaceOptions } from '../options.js';
import type { ResultMetadata } from '../result-format.js';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/**
 * A finished job's result, as the server reports it (the result format, `op` telling a replacement
 * from a cleanup) with the output's and the mask's URLs; URLs are absolute.
 */
export type JobResult = ResultMetadata & {
  outputUrl: string;
  maskUrl: string;
  artifacts: { output: string; mask: string };
};

/** A job as the server shows it. */
export interface Job {
  jobId: string;
  type: 'replace' | 'cleanup';
  status: JobStatus;
  /** 0..1 */
  progress: number;
  stage?: string;
  /** While a job that asked for previews (previewEvery) runs: its latest step preview (JPEG; absolute URL). */
  previewUrl?: string;
  mediaId?: string;
  projectId?: string;
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  result?: JobResult;
  error?: { code: string; message: string };
  /** Where to poll this job (absolute). */
  statusUrl?: string;
  [key: string]: unknown;
}

/** A job that succeeded: its result is there. */
export interface CompletedJob extends Job {
  status: 'succeeded';
  result: JobResult;
  /** The local file the output was written to, when `saveTo` was given. */
  savedTo?: string;
}

/** Per-call settings shared by every method. */
export interface CallOptions {
  /** Deadline of this call in ms (default: the client's timeoutMs). */
  timeoutMs?: number;
  /** Cancels the call (and the server job it started, for replace/cleanup). */
  signal?: AbortSignal;
}

/** Bytes of a photo to upload. */
export type ImageBytes = Uint8Array | ArrayBuffer | Blob;

/** Where the photo comes from: exactly one of these. */
export interface ImageSource {
  /**
   * A path of the photo. Relative paths are made absolute against this process's working
   * directory. With `upload: 'auto'` (default) the path is sent first; when the server cannot
   * read it (outside its INPUT_ROOTS, or on another machine) the file's bytes are uploaded.
   */
  imagePath?: string;
  /** The photo's bytes, uploaded. */
  image?: ImageBytes;
  /**
   * An http(s) URL the server downloads the photo from (any public host, unless WEBHOOK_ALLOWED_HOSTS narrows them).
   */
  imageUrl?: string;
  /** File name sent with an upload (default: the path's base name, else photo). */
  filename?: string;
  /** Upload the bytes: 'auto' (default from the client), true = always, false = never (path only). */
  upload?: 'auto' | boolean;
}

/** A studio file: a path (sent as a server path, uploaded with `upload: true`), bytes (uploaded) or { url }. */
export type StudioFile = string | ImageBytes | { url: string };

/** The studio modes' files: the clean plate, and the second shot with its own clean plate. */
export interface StudioFiles {
  cleanPlate?: StudioFile;
  second?: { input: StudioFile; cleanPlate: StudioFile };
}

export interface JobCallOptions extends CallOptions, ImageSource, StudioFiles {
  /** Write the output image to this local file (atomically) once the job succeeded. */
  saveTo?: string;
  /** Job progress while the client waits (after the server answered 202). */
  onProgress?: (job: Job) => void;
  /** Same key → the same job (default: a random key per call, so retries never start a second job). */
  idempotencyKey?: string;
  /** Sent back in the job and its webhook. */
  mediaId?: string;
  projectId?: string;
  /** Where the server POSTs the signed `background.job.*` webhook. */
  callbackUrl?: string;
  /** How long the server may hold this request before answering 202 (default: the client's syncWaitMs). */
  syncWaitMs?: number;
  /** Poll interval after a 202 (default: the client's pollMs). */
  pollMs?: number;
}

/**
 * replaceBackground options a client may set (the server decides files, models, threads, device
 * and LoRAs; `vae` is 'full' or 'taesd', a tiny autoencoder's path being the server's).
 */
export type ReplaceJobOptions = Omit<
  ReplaceOptions,
  | 'input'
  | 'output'
  | 'presetDirs'
  | 'model'
  | 'segmentation'
  | 'device'
  | 'threads'
  | 'maxPixels'
  | 'signal'
  | 'onProgress'
  | 'vae'
  | 'cleanPlate'
  | 'second'
  | 'loras'
> & { vae?: 'full' | 'taesd' };

/** cleanup options a client may set. */
export type CleanupJobOptions = Omit<
  CleanupOptions,
  'input' | 'output' | 'model' | 'segmentation' | 'threads' | 'maxPixels' | 'cleanPlate' | 'second'
>;

export type ReplaceRequest = ReplaceJobOptions & JobCallOptions;
export type CleanupRequest = CleanupJobOptions & JobCallOptions;

/** The seed API's job: enqueue now, learn the result by webhook or by polling. */
export interface EnqueueRequest extends ReplaceJobOptions, CallOptions {
  mediaId: string;
  projectId: string;
  /** Absolute path on the server (inside its INPUT_ROOTS). */
  imagePath?: string;
  /** Same as imagePath. */
  inputPath?: string;
  /** http(s) URL the server downloads the photo from. */
  imageUrl?: string;
  /** Same as imageUrl. */
  inputUrl?: string;
  callbackUrl?: string;
  idempotencyKey?: string;
}

export interface EnqueueResponse {
  jobId: string;
  status: JobStatus | string;
  /** Absolute URL of the job. */
  statusUrl: string;
  /** false when the Idempotency-Key matched an existing job. */
  created: boolean;
}

export interface WaitOptions extends CallOptions {
  /** Poll interval (default: the client's pollMs). */
  pollMs?: number;
  /** Called whenever the job's status, progress or stage changes. */
  onProgress?: (job: Job) => void;
  /** Reject when the job failed or was cancelled (default true); false resolves with the job. */
  throwOnFailure?: boolean;
}

export interface Health {
  status: 'ok' | 'degraded';
  version: string;
  queue: { backend: string; queued: number; running: number; max: number };
  engines: { studio: boolean; local: boolean; runway: boolean };
  backends: unknown[];
  presets: string[];
  [key: string]: unknown;
}
