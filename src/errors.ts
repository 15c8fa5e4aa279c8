/**
 * Errors thrown by bg-native. Every error carries a stable `code`; messages read like
 * instructions to the user. Native errors arrive with the same codes.
 */
export type ErrorCode =
  | 'E_BAD_INPUT'
  | 'E_IMAGE_TOO_LARGE'
  | 'E_MODEL_FORMAT'
  | 'E_MODEL_UNSUPPORTED'
  | 'E_MODEL_NOT_FOUND'
  | 'E_OUT_OF_MEMORY'
  | 'E_CANCELLED'
  | 'E_NUMERIC'
  | 'E_NO_SUBJECT'
  | 'E_NO_BACKGROUND'
  | 'E_IO'
  | 'E_CONFIG'
  | 'E_DEVICE_UNAVAILABLE'
  | 'E_PROVIDER_REJECTED'
  | 'E_PROVIDER_FAILED'
  | 'E_ADDON_LOAD'
  | 'E_INTERNAL';

export class BgNativeError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BgNativeError';
    this.code = code;
  }
}

const KNOWN = new Set<string>([
  'E_BAD_INPUT',
  'E_IMAGE_TOO_LARGE',
  'E_MODEL_FORMAT',
  'E_MODEL_UNSUPPORTED',
  'E_MODEL_NOT_FOUND',
  'E_OUT_OF_MEMORY',
  'E_CANCELLED',
  'E_NUMERIC',
  'E_NO_SUBJECT',
  'E_NO_BACKGROUND',
  'E_IO',
  'E_CONFIG',
  'E_DEVICE_UNAVAILABLE',
  'E_PROVIDER_REJECTED',
  'E_PROVIDER_FAILED',
  'E_ADDON_LOAD',
  'E_INTERNAL',
]);

/** Wraps anything thrown (a native error with `code`, a sharp error, a plain Error) as a BgNativeError. */
export function toBgError(err: unknown, fallback: ErrorCode = 'E_INTERNAL'): BgNativeError {
  if (err instanceof BgNativeError) return err;
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' && KNOWN.has(e.code) ? (e.code as ErrorCode) : fallback;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return new BgNativeError(code, message, { cause: err });
}

/** Throws E_CANCELLED with `message` when `signal` has been aborted. */
export function throwIfCancelled(signal: AbortSignal | undefined, message: string): void {
  if (signal?.aborted) throw new BgNativeError('E_CANCELLED', message, { cause: signal.reason });
}
