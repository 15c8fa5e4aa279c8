/**
 * The runway engine against a local server that follows Runway's documented contract
 * (test/helpers/runway-mock.ts). Poll and retry intervals are injected in milliseconds so the
 * file runs in a few seconds; the one Retry-After test waits the 1 s Runway asked for.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { RunwayClient, type RunwayLogEvent } from '../src/engines/runway/client.js';
import { createRunwayGenerator, type RunwayGeneratorOptions } from '../src/engines/runway/engine.js';
import type { GenerateRequest } from '../src/engines/generator.js';
import { BgNativeError } from '../src/errors.js';
import { getPreset } from '../src/index.js';
import type { Preset } from '../src/presets/schema.js';
import { startRunwayMock, type RunwayMock, type RunwayMockScenario } from './helpers/runway-mock.js';

const KEY = 'key_test_4f9c2a7e1b8d6053e1aa9c77d2b04f16';
const preset = getPreset('product-studio');

let mock: RunwayMock | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

function photo(width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      rgb[i] = (x * 255) / width;
      rgb[i + 1] = (y * 255) / height;
      rgb[i + 2] = 128;
    }
  }
  return rgb;
}

function request(width = 160, height = 120, extra: Partial<GenerateRequest> = {}): GenerateRequest {
  return {
    photo: photo(width, height),
    alpha: new Uint8Array(width * height).fill(255),
    width,
    height,
    preset,
    seed: 1234,
    device: 'cpu',
    ...extra,
  };
}

const logs: RunwayLogEvent[] = [];

async function setup(scenario: RunwayMockScenario = {}, options: Partial<RunwayGeneratorOptions> = {}) {
  mock = await startRunwayMock(KEY, scenario);
  const generator = createRunwayGenerator({
    apiKey: KEY,
    baseUrl: mock.url,
    pollIntervalMs: 20,
    retryBaseMs: 20,
    deadlineMs: 5000,
    logger: (e) => logs.push(e),
    ...options,
  });
  return { mock, generator };
}

async function failure(p: Promise<unknown>): Promise<BgNativeError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BgNativeError);
    return err as BgNativeError;
  }
  throw new Error('expected the generation to fail');
}

const posts = (m: RunwayMock) => m.requests.filter((r) => r.method === 'POST');
const polls = (m: RunwayMock) => m.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/tasks/'));

describe('runway engine: a generation that works', () => {
  it('returns a background the photo’s size, having sent the documented headers, body, the closest ratio', async () => {
    const { mock, generator } = await setup();
    const out = await generator.generate(request(160, 120));

    const [post] = posts(mock);
    expect(post?.path).toBe('/v1/text_to_image');
    expect(post?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(post?.headers['x-runway-version']).toBe('2024-11-06');
    expect(post?.headers['content-type']).toMatch(/^application\/json/);
    const body = post?.json as { referenceImages: { tag: string; uri: string }[]; [field: string]: unknown };
    expect(body.model).toBe('gen4_image');
    expect(body.ratio).toBe('1440:1080'); // 4:3 photo → the 4:3 size of the 1080p tier
    expect(body.promptText).toBe(preset.prompt.replace(/\s+/g, ' ').trim());
    expect(body.seed).toBe(1234);
    expect(body.referenceImages).toHaveLength(1);
    expect(body.referenceImages[0]?.tag).toBe('product');
    expect(body.referenceImages[0]?.uri).toMatch(/^data:image\/jpeg;base64,/);
    expect(Object.keys(body).sort()).toEqual(['model', 'promptText', 'ratio', 'referenceImages', 'seed']);

    expect(out.rgb.length).toBe(160 * 120 * 3);
    expect([out.rgb[0], out.rgb[1], out.rgb[2]]).toEqual([40, 120, 200]); // the mock's output colour
    const [task] = [...mock.tasks.values()];
    expect(out.info).toMatchObject({
      provider: 'runway',
      taskId: task?.id,
      model: 'gen4_image',
      ratio: '1440:1080',
      credits: 8,
    });
    expect(Object.keys(out.stages ?? {})).toEqual(expect.arrayContaining(['submit', 'wait', 'download']));
    expect(mock.deletes).toEqual([]);
  });

  it('downloads the output without sending the API key to the output host', async () => {
    const { mock, generator } = await setup();
    await generator.generate(request());
    expect(mock.outputFetches).toHaveLength(1);
    expect(mock.outputFetches[0]?.headers.authorization).toBeUndefined();
  });

  it('polls the task no faster than the configured interval', async () => {
    const { mock, generator } = await setup(
      { steps: [{ status: 'PENDING' }, { status: 'RUNNING' }, { status: 'RUNNING' }, { status: 'SUCCEEDED' }] },
      { pollIntervalMs: 60 },
    );
    await generator.generate(request());
    const times = polls(mock).map((r) => r.at);
    expect(times).toHaveLength(4);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(55);
  });

  it('uses gen4_image_turbo at 2 credits when asked', async () => {
    const { mock, generator } = await setup({}, { model: 'gen4_image_turbo' });
    const out = await generator.generate(request(90, 160));
    expect((posts(mock)[0]!.json as { model: string; ratio: string }).model).toBe('gen4_image_turbo');
    expect(out.info).toMatchObject({ model: 'gen4_image_turbo', ratio: '1080:1920', credits: 2 });
  });

  it('waits through THROTTLED and reports Runway’s progress', async () => {
    const { mock, generator } = await setup({
      steps: [
        { status: 'PENDING' },
        { status: 'THROTTLED' },
        { status: 'THROTTLED' },
        { status: 'RUNNING', progress: 0.3 },
        { status: 'RUNNING', progress: 0.7 },
        { status: 'SUCCEEDED' },
      ],
    });
    const fractions: number[] = [];
    const out = await generator.generate(request(160, 120, { onProgress: (f) => fractions.push(f) }));
    expect(out.rgb.length).toBe(160 * 120 * 3);
    expect(polls(mock)).toHaveLength(6);
    expect(fractions[0]).toBe(0);
    expect(fractions.at(-1)).toBe(1);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
    expect(fractions.some((f) => f > 0.2 && f < 0.35)).toBe(true);
    expect(mock.deletes).toEqual([]);
  });
});

describe('runway engine: retries', () => {
  it('retries a 429 after the time Retry-After asks for', async () => {
    const { mock, generator } = await setup({
      createReplies: [{ status: 429, headers: { 'retry-after': '1' }, body: { error: 'Too many requests' } }],
    });
    await generator.generate(request());
    const [first, second] = posts(mock);
    expect(posts(mock)).toHaveLength(2);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(990);
  });

  it('retries a 429 without Retry-After with backoff', async () => {
    const { mock, generator } = await setup({ createReplies: [{ status: 429 }, { status: 429 }] });
    await generator.generate(request());
    const [a, b, c] = posts(mock);
    expect(posts(mock)).toHaveLength(3);
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(18);
    expect(c!.at - b!.at).toBeGreaterThanOrEqual(38); // doubled
  });

  it('retries 503 on submit and 502 while polling, then succeeds', async () => {
    const { mock, generator } = await setup({
      createReplies: [{ status: 503 }],
      pollReplies: [{ status: 502, body: 'Bad Gateway' }],
    });
    const out = await generator.generate(request());
    expect(posts(mock)).toHaveLength(2);
    expect(mock.tasks.size).toBe(1);
    expect(out.info.taskId).toBe([...mock.tasks.keys()][0]);
  });

  it('gives up with E_PROVIDER_FAILED when retries run out', async () => {
    const { mock, generator } = await setup(
      { createReplies: [{ status: 503 }, { status: 503 }, { status: 503 }] },
      { maxRetries: 2 },
    );
    const err = await failure(generator.generate(request()));
    expect(err.code).toBe('E_PROVIDER_FAILED');
    expect(err.message).toMatch(/3 attempts.*HTTP 503/);
    expect(posts(mock)).toHaveLength(3);
  });
});

describe('runway engine: failures', () => {
  it('a SAFETY.INPUT failure is E_PROVIDER_REJECTED with Runway’s reason, and is not retried', async () => {
    const { mock, generator } = await setup({
      steps: [
        { status: 'RUNNING', progress: 0.1 },
        { status: 'FAILED', failureCode: 'SAFETY.INPUT.IMAGE', failure: 'The input image was flagged by moderation.' },
      ],
    });
    const err = await failure(generator.generate(request()));
    expect(err.code).toBe('E_PROVIDER_REJECTED');
    expect(err.message).toContain('SAFETY.INPUT.IMAGE');
    expect(err.message).toContain('flagged by moderation');
    expect(posts(mock)).toHaveLength(1);
    expect(mock.deletes).toEqual([]);
  });

  it('an internal task failure is E_PROVIDER_FAILED with its failure code', async () => {
    const { generator } = await setup({
      steps: [{ status: 'FAILED', failureCode: 'INTERNAL.BAD_OUTPUT.CODE01', failure: 'Bad output' }],
    });
    const err = await failure(generator.generate(request()));
    expect(err.code).toBe('E_PROVIDER_FAILED');
    expect(err.message).toContain('INTERNAL.BAD_OUTPUT.CODE01');
  });

  it('a 400 answer is E_PROVIDER_REJECTED with Runway’s message, and is not retried', async () => {
    const { mock, generator } = await setup({
      createReplies: [{ status: 400, body: { error: 'Invalid asset aspect ratio' } }],
    });
    const err = await failure(generator.generate(request()));
    expect(err.code).toBe('E_PROVIDER_REJECTED');
    expect(err.message).toContain('HTTP 400');
    expect(err.message).toContain('Invalid asset aspect ratio');
    expect(posts(mock)).toHaveLength(1);
  });

  it('a wrong API key is E_PROVIDER_REJECTED telling the user to check RUNWAY_API_KEY', async () => {
    const { mock, generator } = await setup({}, { apiKey: 'key_wrong_000000000000' });
    const err = await failure(generator.generate(request()));
    expect(err.code).toBe('E_PROVIDER_REJECTED');
    expect(err.message).toMatch(/HTTP 401.*RUNWAY_API_KEY/);
    expect(posts(mock)).toHaveLength(1);
  });

  it('a task slower than the deadline is E_PROVIDER_FAILED, and the task is cancelled on Runway', async () => {
    const { mock, generator } = await setup({ steps: [{ status: 'RUNNING', progress: 0.1 }] }, { deadlineMs: 400 });
    const err = await failure(generator.generate(request()));
    expect(err.code).toBe('E_PROVIDER_FAILED');
    expect(err.message).toMatch(/deadline/);
    const [id] = [...mock.tasks.keys()];
    expect(mock.deletes).toEqual([id]);
    expect(mock.tasks.get(id!)?.status).toBe('CANCELLED');
  });

  it('aborting cancels the Runway task and throws E_CANCELLED', async () => {
    const { mock, generator } = await setup({ steps: [{ status: 'RUNNING', progress: 0.2 }] });
    const ac = new AbortController();
    const p = generator.generate(request(160, 120, { signal: ac.signal, onProgress: (f) => f > 0 && ac.abort() }));
    const err = await failure(p);
    expect(err.code).toBe('E_CANCELLED');
    const [id] = [...mock.tasks.keys()];
    expect(mock.deletes).toEqual([id]);
    const del = mock.requests.find((r) => r.method === 'DELETE');
    expect(del?.path).toBe(`/v1/tasks/${id}`);
    expect(del?.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it('an already aborted signal sends nothing', async () => {
    const { mock, generator } = await setup();
    const err = await failure(generator.generate(request(160, 120, { signal: AbortSignal.abort() })));
    expect(err.code).toBe('E_CANCELLED');
    expect(mock.requests).toHaveLength(0);
  });

  it('an expired output URL is a clear E_PROVIDER_FAILED, after one try with a fresh URL', async () => {
    const { mock, generator } = await setup({ outputTtlMs: 0 });
    const err = await failure(generator.generate(request()));
    expect(err.code).toBe('E_PROVIDER_FAILED');
    expect(err.message).toMatch(/expired/);
    expect(err.message).toMatch(/HTTP 403/);
    expect(err.message).not.toContain('X-Amz-Signature');
    expect(mock.outputFetches.map((f) => f.status)).toEqual([403, 403]);
  });

  it('an output URL that expired before the download is replaced by a fresh one from the task', async () => {
    const { mock, generator } = await setup({ expireFirstOutputs: 1 });
    const out = await generator.generate(request());
    expect(out.rgb.length).toBe(160 * 120 * 3);
    expect(mock.outputFetches.map((f) => f.status)).toEqual([403, 200]);
    expect(mock.outputFetches[0]?.path).not.toBe(mock.outputFetches[1]?.path);
  });

  it('an output that is not an image is E_PROVIDER_FAILED', async () => {
    const { generator } = await setup({ outputBody: Buffer.from('definitely not an image') });
    const err = await failure(generator.generate(request()));
    expect(err.code).toBe('E_PROVIDER_FAILED');
    expect(err.message).toMatch(/not an image/);
  });

  it('a submit answer that is not JSON is E_PROVIDER_FAILED', async () => {
    const { mock, generator } = await setup({ createReplies: [{ status: 200, body: '{"id": "abc' }] });
    const err = await failure(generator.generate(request()));
    expect(err.code).toBe('E_PROVIDER_FAILED');
    expect(err.message).toMatch(/not JSON/);
    expect(posts(mock)).toHaveLength(1);
  });

  it('a task answer that is not JSON is E_PROVIDER_FAILED, and the task is cancelled', async () => {
    const { mock, generator } = await setup({
      pollReplies: [{ status: 200, body: '<html>gateway</html>', headers: { 'content-type': 'text/html' } }],
    });
    const err = await failure(generator.generate(request()));
    expect(err.code).toBe('E_PROVIDER_FAILED');
    expect(mock.deletes).toHaveLength(1);
  });

  it('a task answer with an unknown status is E_PROVIDER_FAILED', async () => {
    const { generator } = await setup({ pollReplies: [{ status: 200, body: { id: 'x', status: 'EXPLODED' } }] });
    const err = await failure(generator.generate(request()));
    expect(err.code).toBe('E_PROVIDER_FAILED');
    expect(err.message).toMatch(/not a task/);
  });
});

describe('runway engine: limits of the request', () => {
  it('caps promptText at 1000 characters, at a word boundary', async () => {
    const words = Array.from({ length: 400 }, (_, i) => `word${i}`).join(' ');
    const long: Preset = { ...preset, prompt: words };
    const { mock, generator } = await setup();
    const out = await generator.generate(request(160, 120, { preset: long }));
    const sent = (posts(mock)[0]!.json as { promptText: string }).promptText;
    expect(sent.length).toBeLessThanOrEqual(1000);
    expect(sent.length).toBeGreaterThan(950);
    expect(words.startsWith(sent)).toBe(true);
    expect(words[sent.length]).toBe(' ');
    expect(out.info.promptTruncated).toBe(true);
  });

  it('sends a seed outside Runway’s range wrapped into 0..4294967295', async () => {
    const { mock, generator } = await setup();
    await generator.generate(request(160, 120, { seed: -1 }));
    expect((posts(mock)[0]!.json as { seed: number }).seed).toBe(4294967295);
  });

  it('sends a reference that Runway accepts for a very wide photo (padded to 2:1)', async () => {
    const { mock, generator } = await setup();
    const out = await generator.generate(request(300, 100));
    expect(out.info.reference).toMatchObject({ width: 300, height: 150 });
    expect((posts(mock)[0]!.json as { ratio: string }).ratio).toBe('1808:768'); // the widest documented size
  });
});

describe('runway engine: configuration', () => {
  it('without a key, creating the generator is E_CONFIG naming RUNWAY_API_KEY', () => {
    let err: unknown;
    try {
      createRunwayGenerator({ env: {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BgNativeError);
    expect((err as BgNativeError).code).toBe('E_CONFIG');
    expect((err as BgNativeError).message).toContain('RUNWAY_API_KEY');
  });

  it('reads the key and the base URL from RUNWAY_API_KEY and RUNWAY_API_URL', async () => {
    mock = await startRunwayMock(KEY);
    const generator = createRunwayGenerator({
      env: { RUNWAY_API_KEY: KEY, RUNWAY_API_URL: `${mock.url}/` },
      pollIntervalMs: 10,
    });
    const out = await generator.generate(request());
    expect(out.info.provider).toBe('runway');
    expect(generator.name).toBe('runway');
  });

  it('never polls Runway’s own API faster than every 5 s', () => {
    expect(new RunwayClient({ apiKey: KEY, pollIntervalMs: 10 }).pollIntervalMs).toBe(5000);
    expect(new RunwayClient({ apiKey: KEY }).pollIntervalMs).toBe(5000);
    expect(new RunwayClient({ apiKey: KEY, env: {} }).baseUrl).toBe('https://api.dev.runwayml.com');
    expect(new RunwayClient({ apiKey: KEY, baseUrl: 'http://127.0.0.1:9', pollIntervalMs: 10 }).pollIntervalMs).toBe(
      10,
    );
  });
});

describe('runway engine: the API key stays secret', () => {
  it('never appears in errors, log events or results', async () => {
    const captured: string[] = [];
    const events: RunwayLogEvent[] = [];
    const capture = (v: unknown) => {
      if (v instanceof Error) {
        let e: unknown = v;
        while (e instanceof Error) {
          captured.push(e.message, e.stack ?? '', JSON.stringify(e), String(e));
          e = e.cause;
        }
        if (e !== undefined) captured.push(JSON.stringify(e) ?? String(e));
      } else {
        captured.push(JSON.stringify(v) ?? String(v));
      }
    };
    const scenarios: Array<[RunwayMockScenario, Partial<RunwayGeneratorOptions>, Partial<GenerateRequest>]> = [
      [{ steps: [{ status: 'THROTTLED' }, { status: 'RUNNING', progress: 0.5 }, { status: 'SUCCEEDED' }] }, {}, {}],
      // A server that echoes the key back in its error text.
      [{ createReplies: [{ status: 400, body: { error: `Key ${KEY} may not use this model` } }] }, {}, {}],
      [
        { createReplies: [{ status: 429 }, { status: 503, body: `upstream saw Bearer ${KEY}` }] },
        { maxRetries: 1 },
        {},
      ],
      [{ steps: [{ status: 'FAILED', failureCode: 'SAFETY.INPUT.TEXT', failure: `prompt ${KEY}` }] }, {}, {}],
      [{ steps: [{ status: 'RUNNING' }] }, { deadlineMs: 200 }, {}],
      [{ createReplies: [{ status: 200, body: `not json ${KEY}` }] }, {}, {}],
      [{ outputTtlMs: 0 }, {}, {}],
      [{ steps: [{ status: 'RUNNING', progress: 0.3 }] }, {}, { signal: AbortSignal.timeout(150) }],
    ];
    for (const [scenario, options, extra] of scenarios) {
      const { generator } = await setup(scenario, { ...options, logger: (e) => events.push(e) });
      try {
        capture(await generator.generate(request(64, 48, extra)));
      } catch (err) {
        capture(err);
      }
      await mock?.close();
      mock = undefined;
    }
    // A wrong key in the environment is not echoed either.
    try {
      createRunwayGenerator({ env: { RUNWAY_API_KEY: `${KEY} with spaces` } });
    } catch (err) {
      capture(err);
    }
    capture(events);
    expect(events.length).toBeGreaterThan(3);
    expect(captured.length).toBeGreaterThan(10);
    for (const text of captured) expect(text).not.toContain(KEY);
  });
});

describe('runway engine: log', () => {
  it('logs task creation and THROTTLED waits', async () => {
    logs.length = 0;
    const { generator } = await setup({ steps: [{ status: 'THROTTLED' }, { status: 'SUCCEEDED' }] });
    await generator.generate(request());
    expect(logs.map((e) => e.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/task created/), 'Runway task THROTTLED']),
    );
  });
});
