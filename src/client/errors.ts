/**
 * The one error the client throws. `code` is the server's stable code (`E_BAD_INPUT`,
 * `E_FORBIDDEN`, `E_QUEUE_FULL`, `E_NO_SUBJECT`, …) when the server answered, else one of the
 * client's own: `E_NETWORK` (no answer), `E_TIMEOUT` (the call's deadline passed), `E_CANCELLED`
 * (the caller's AbortSignal), `E_BAD_RESPONSE` (an answer that is not the API's), `E_CONFIG`
 * (bad client settings), `E_BAD_INPUT` (a request the client can tell is wrong before sending),
 * `E_IO` (saveTo could not be written). An answer without the API's error body has
 * `E_HTTP_<status>` (`E_RATE_LIMITED` for a bare 429).
 *
 * This file imports nothing: the client must load where the native addon cannot.
 */

/** Codes the client itself produces; any other code comes from the server. */
export type ClientErrorCode =
  | 'E_NETWORK'
  | 'E_TIMEOUT'
  | 'E_CANCELLED'
  | 'E_BAD_RESPONSE'
  | 'E_CONFIG'
  | 'E_BAD_INPUT'
  | 'E_IO';

export interface BackgroundApiErrorInit {
  /** HTTP status of the answer; absent when none came (network, timeout, cancel). */
  status?: number | undefined;
  /** The job concerned, when one exists (a job that failed, a wait that timed out). */
  jobId?: string | undefined;
  /** Whether the same request may succeed later (network, 429, most 5xx). */
  retryable?: boolean | undefined;
  /** Requests made, retries included. */
  attempts?: number | undefined;
  method?: string | undefined;
  url?: string | undefined;
  cause?: unknown;
}

export class BackgroundApiError extends Error {
  readonly code: string;
  readonly status: number | undefined;
  readonly jobId: string | undefined;
  readonly retryable: boolean;
  readonly attempts: number;
  readonly method: string | undefined;
  readonly url: string | undefined;

  constructor(code: string, message: string, init: BackgroundApiErrorInit = {}) {
    super(message, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = 'BackgroundApiError';
    this.code = code;
    this.status = init.status;
    this.jobId = init.jobId;
    this.retryable = init.retryable ?? false;
    this.attempts = init.attempts ?? 0;
    this.method = init.method;
    this.url = init.url;
  }
}

/** True for a BackgroundApiError, optionally with the given code. */
export function isBackgroundApiError(err: unknown, code?: string): err is BackgroundApiError {
  return err instanceof BackgroundApiError && (code === undefined || err.code === code);
}
