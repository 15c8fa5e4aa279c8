/**
 * Errors the server answers with: `{ error: { code, message } }` and an HTTP status. Library
 * errors (BgNativeError) keep their code; the server adds its own for HTTP-only cases.
 */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  constructor(statusCode: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.code = code;
    this.headers = headers;
  }
}

/** The HTTP status for a library/job error code. */
export function statusForCode(code: string): number {
  switch (code) {
    case 'E_BAD_INPUT':
    case 'E_NO_SUBJECT':
    case 'E_NO_BACKGROUND':
      return 422;
    case 'E_IMAGE_TOO_LARGE':
      return 413;
    case 'E_FORBIDDEN':
      return 403;
    case 'E_NOT_FOUND':
      return 404;
    case 'E_CANCELLED':
      return 409;
    case 'E_PROVIDER_REJECTED':
    case 'E_PROVIDER_FAILED':
    case 'E_FETCH_FAILED':
      return 502;
    case 'E_CONFIG':
    case 'E_MODEL_NOT_FOUND':
    case 'E_MODEL_FORMAT':
    case 'E_MODEL_UNSUPPORTED':
    case 'E_ADDON_LOAD':
    case 'E_QUEUE_FULL':
    case 'E_DISK_FULL':
      return 503;
    default:
      return 500;
  }
}

/** Codes a later try cannot fix. */
const PERMANENT = new Set([
  'E_BAD_INPUT',
  'E_IMAGE_TOO_LARGE',
  'E_NO_SUBJECT',
  'E_NO_BACKGROUND',
  'E_CONFIG',
  'E_MODEL_FORMAT',
  'E_MODEL_UNSUPPORTED',
  'E_MODEL_NOT_FOUND',
  'E_PROVIDER_REJECTED',
  'E_CANCELLED',
  'E_FORBIDDEN',
  'E_ADDON_LOAD',
  'E_NUMERIC',
]);

export function isRetryableCode(code: string): boolean {
  return !PERMANENT.has(code);
}
