/**
 * The page's only way to the server: fetch with the bearer token, and every failure turned into
 * an ApiError whose message is a plain sentence for the person in front of the page.
 */

export type Failure = 'offline' | 'unauthorized' | 'rejected' | 'server';

export class ApiError extends Error {
  constructor(
    readonly kind: Failure,
    message: string,
    /** The server's own code and message, shown under the sentence as a detail. */
    readonly code?: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface PresetInfo {
  name: string;
  description: string;
  promptTypes: string[];
  defaultPromptType?: string;
}

export interface Health {
  status: 'ok' | 'degraded';
  version: string;
  engines: { studio: boolean; local: boolean; runway: boolean };
  queue: { queued: number; running: number; max: number };
}

export interface JobResult {
  outputUrl: string;
  maskUrl: string;
  engine?: string;
  engineReason?: string;
  preset?: string;
  promptType?: string;
  seed?: number;
  width: number;
  height: number;
  format: string;
  metrics?: { elapsed_ms?: number };
}

export interface JobView {
  jobId: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  progress: number;
  stage?: string;
  /** While a job that asked for previews runs: its latest step preview (JPEG). */
  previewUrl?: string;
  result?: JobResult;
  error?: { code: string; message: string };
}

const TOKEN_KEY = 'bg-native.token';

/** The token: this tab's (sessionStorage) or, when "remember" was ticked, this browser's (localStorage). */
export const token = {
  get(): string | null {
    return sessionStorage.getItem(TOKEN_KEY) ?? localStorage.getItem(TOKEN_KEY);
  },
  set(value: string, remember: boolean): void {
    this.clear();
    (remember ? localStorage : sessionStorage).setItem(TOKEN_KEY, value);
  },
  clear(): void {
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(TOKEN_KEY);
  },
};

const serverName = () => location.origin;

/** A plain sentence for an error answer of the server. */
function sentenceFor(status: number, code: string, message: string): ApiError {
  if (status === 401) {
    return new ApiError(
      'unauthorized',
      'The server did not accept the access token. Enter the token it was started with (API_TOKEN).',
      code,
      message,
    );
  }
  if (status >= 500 && status !== 502 && status !== 503) {
    return new ApiError(
      'server',
      `The server ran into a problem (${code}). Try again; if it happens again, its log has the details.`,
      code,
      message,
    );
  }
  return new ApiError('rejected', message, code, message);
}

/** fetch with the token; throws ApiError (offline, unauthorized, rejected, server). */
export async function request(url: string, init: RequestInit = {}, tokenOverride?: string): Promise<Response> {
  const headers = new Headers(init.headers);
  const t = tokenOverride ?? token.get();
  if (t) headers.set('authorization', `Bearer ${t}`);
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers, cache: 'no-store' });
  } catch {
    throw new ApiError(
      'offline',
      `Cannot reach the bg-native server at ${serverName()}. Check that it is running (bg-native serve), ` +
        'then try again.',
    );
  }
  if (res.ok) return res;
  let code = `HTTP ${res.status}`;
  let message = res.statusText || 'The request failed.';
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    // not JSON: a proxy's page; keep the status line
  }
  if (res.status === 502 && !code.startsWith('E_')) {
    throw new ApiError(
      'offline',
      `Cannot reach the bg-native server behind ${serverName()} (the proxy answered ${res.status}). Check ` +
        'that it is running.',
      code,
    );
  }
  throw sentenceFor(res.status, code, message);
}

export async function getJson<T>(url: string, tokenOverride?: string): Promise<T> {
  const res = await request(url, {}, tokenOverride);
  return (await res.json()) as T;
}

export const api = {
  health: (t?: string) => getJson<Health>('/health', t),
  presets: async () => (await getJson<{ presets: PresetInfo[] }>('/v1/presets')).presets,
  /** Uploads one photo; answers at once (wait=0) with the job, which is then polled. */
  async replace(file: File, fields: Record<string, string>): Promise<JobView> {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('file', file, file.name);
    const res = await request('/v1/replace?wait=0', { method: 'POST', body: form });
    return (await res.json()) as JobView;
  },
  job: (id: string) => getJson<JobView>(`/v1/jobs/${encodeURIComponent(id)}`),
  cancel: async (id: string) => {
    await request(`/v1/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' });
  },
  /** An artifact (behind the token too) as a Blob. */
  async file(url: string): Promise<Blob> {
    return (await request(url)).blob();
  },
  /** A running job's latest step preview; undefined when there is none (yet, or any more). */
  async preview(url: string): Promise<Blob | undefined> {
    try {
      return await (await request(url)).blob();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'E_NOT_FOUND') return undefined;
      throw err;
    }
  },
};
