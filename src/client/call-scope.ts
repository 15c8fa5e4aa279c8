/** One client call's deadline and cancellation, and a sleep that both cut short. */
import { BackgroundApiError } from './errors.js';

/** One call's deadline and cancellation: a signal that fires on either, and which one it was. */
export class CallScope {
  readonly signal: AbortSignal;
  readonly deadline: number;
  private readonly controller = new AbortController();
  private readonly timer: ReturnType<typeof setTimeout>;
  private timedOut = false;
  private readonly onUserAbort: () => void;

  constructor(
    readonly timeoutMs: number,
    private readonly user: AbortSignal | undefined,
  ) {
    this.deadline = Date.now() + timeoutMs;
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort();
    }, timeoutMs);
    this.onUserAbort = () => this.controller.abort();
    if (user?.aborted) this.controller.abort();
    else user?.addEventListener('abort', this.onUserAbort, { once: true });
    this.signal = this.controller.signal;
  }

  remaining(): number {
    return Math.max(0, this.deadline - Date.now());
  }

  get cancelledByUser(): boolean {
    return !this.timedOut && (this.user?.aborted ?? false);
  }

  /** The error for an aborted call. */
  abortError(what: string, jobId?: string, cause?: unknown): BackgroundApiError {
    if (this.timedOut || !this.cancelledByUser) {
      const pickUp = jobId
        ? `; job ${jobId} may still be running — waitForJob(${JSON.stringify(jobId)}) picks it up`
        : '';
      return new BackgroundApiError(
        'E_TIMEOUT',
        `${what} did not finish within ${this.timeoutMs} ms${pickUp}. ` +
          'Raise timeoutMs (or BACKGROUND_TIMEOUT) for long jobs.',
        { jobId, retryable: true, cause },
      );
    }
    return new BackgroundApiError('E_CANCELLED', `${what} was cancelled by its AbortSignal.`, { jobId, cause });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.user?.removeEventListener('abort', this.onUserAbort);
  }
}

/** Waits `ms`, or less when `signal` aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
