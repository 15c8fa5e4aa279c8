/**
 * The addon speaks one dialect (native/addon/args.h): a method that does work returns a Promise,
 * and a bad argument or a disposed instance rejects it with a coded error — never a synchronous
 * throw; the cheap synchronous methods throw coded errors. The table below names every export,
 * static method and instance method with its kind, so a new one has to be added (and checked).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadAddon } from '../src/native.js';
import { modelsDir, sd1Tiny, tokenizerDir } from './helpers/diffusion.js';
import { writeModel } from './helpers/onnx-builder.js';

type Kind = 'async' | 'sync';
/** How a method is called wrongly; `bad` undefined: it takes nothing that could be wrong. */
interface Method {
  kind: Kind;
  bad?: unknown[];
}
interface Export {
  /** A plain function. */
  call?: Method;
  /** A class: its static and instance methods, and how to load an instance (undefined: no fixture here). */
  statics?: Record<string, Method>;
  methods?: Record<string, Method>;
  load?: () => Promise<object> | undefined;
}

const asyncWith = (...bad: unknown[]): Method => ({ kind: 'async', bad });
const syncWith = (...bad: unknown[]): Method => ({ kind: 'sync', bad });
const sync: Method = { kind: 'sync' };
const badImage = [new Float32Array(4), 'not a shape'];

const fixture = (p: string) => (existsSync(p) ? p : undefined);
const te = fixture(path.join(modelsDir, 'te-sd1'));
const unet = fixture(path.join(modelsDir, 'unet-sd1'));
const vae = fixture(path.join(modelsDir, 'vae'));
const taesd = fixture(path.join(modelsDir, 'taesd-tiny'));
const tokenizer = fixture(path.join(tokenizerDir, 'vocab.json')) && tokenizerDir;
const checkpoint = fixture(sd1Tiny);

function tinyOnnx(): string {
  const x = { name: 'x', shape: [1, 1, 2, 2] };
  return writeModel(
    { inputs: [x], outputs: [{ name: 'y' }], nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] },
    'relu',
  );
}

type Fn = (...a: unknown[]) => unknown;
/** Every export as a function that may carry static methods (classes). */
const addon = loadAddon() as unknown as Record<string, Fn & Record<string, Fn>>;
const loadWith = (cls: string, file: string | undefined, options: object = { threads: 1 }) =>
  file === undefined ? undefined : () => addon[cls]!.load!(file, options) as Promise<object>;

const TABLE: Record<string, Export> = {
  backends: { call: sync },
  parsePromptWeights: { call: syncWith(42) },
  schedulerTrace: { call: syncWith({}) },
  pipelineTrace: { call: asyncWith({ kind: 'sideways' }) },
  readSafetensors: { call: asyncWith(42) },
  Segmenter: {
    statics: { load: asyncWith(42, { threads: -1 }) },
    methods: { run: asyncWith(...badImage), runInputs: asyncWith('inputs'), dispose: sync },
    load: () => addon.Segmenter!.load!(tinyOnnx(), { threads: 1 }) as Promise<object>,
  },
  ClipTokenizer: {
    statics: { load: asyncWith(42) },
    methods: { encode: syncWith(42), tokenize: syncWith(42), encodeWeighted: syncWith(42) },
    load: loadWith('ClipTokenizer', tokenizer, undefined),
  },
  TextEncoder: {
    statics: { load: asyncWith(42, { encoder: 3 }) },
    methods: { encode: asyncWith('ids'), dispose: sync },
    load: loadWith('TextEncoder', te),
  },
  UNet: {
    statics: { load: asyncWith(42, { precision: 16 }) },
    methods: { forward: asyncWith({ shape: [1] }), dispose: sync },
    load: loadWith('UNet', unet),
  },
  Vae: {
    statics: { load: asyncWith(42, 'options') },
    methods: { encode: asyncWith(...badImage), decode: asyncWith(...badImage), dispose: sync },
    load: loadWith('Vae', vae),
  },
  TinyVae: {
    statics: { load: asyncWith(42, { device: 'gpu' }) },
    methods: {
      encode: asyncWith(...badImage),
      decode: asyncWith(...badImage),
      scaleLatents: syncWith('latents'),
      dispose: sync,
    },
    load: loadWith('TinyVae', taesd),
  },
  DiffusionModel: {
    statics: { load: asyncWith(42, { loras: 'x' }), cachedModels: sync },
    methods: { generate: asyncWith({ prompt: 42 }), dispose: sync },
    load: loadWith('DiffusionModel', checkpoint, { threads: 1, tokenizer }),
  },
};

const ownMethods = (o: object) =>
  Object.getOwnPropertyNames(o)
    .filter((k) => k !== 'constructor' && typeof Object.getOwnPropertyDescriptor(o, k)?.value === 'function')
    .sort();
const isClass = (v: unknown): v is { prototype: object } =>
  typeof v === 'function' && ownMethods((v as { prototype: object }).prototype).length > 0;

/** Calls `fn` and says how it answered: a synchronous throw, or the Promise (settled) it returned. */
async function answer(
  fn: () => unknown,
): Promise<{ sync: boolean; promise: boolean; code?: string; message?: string }> {
  let r: unknown;
  try {
    r = fn();
  } catch (e) {
    return { sync: true, promise: false, code: (e as { code?: string }).code, message: (e as Error).message };
  }
  if (!(r instanceof Promise)) return { sync: false, promise: false };
  try {
    await r;
    return { sync: false, promise: true };
  } catch (e) {
    return { sync: false, promise: true, code: (e as { code?: string }).code, message: (e as Error).message };
  }
}

function expectDialect(what: string, m: Method, got: Awaited<ReturnType<typeof answer>>): void {
  if (m.kind === 'async') {
    expect(got.sync, `${what} threw synchronously: ${got.message}`).toBe(false);
    expect(got.promise, `${what} did not return a Promise`).toBe(true);
  } else {
    expect(got.sync, `${what} did not throw synchronously`).toBe(true);
  }
  expect(got.code, `${what}: ${got.message}`).toMatch(/^E_[A-Z_]+$/);
}

describe('the addon dialect', () => {
  it('every export, static and instance method is in the table', () => {
    expect(Object.keys(addon).sort()).toEqual(Object.keys(TABLE).sort());
    for (const [name, e] of Object.entries(TABLE)) {
      const v = addon[name] as unknown;
      expect(typeof v, name).toBe('function');
      if (!e.methods) {
        expect(isClass(v), `${name} is a function, not a class`).toBe(false);
        continue;
      }
      expect(isClass(v), `${name} is a class`).toBe(true);
      const cls = v as { prototype: object };
      expect(ownMethods(cls), `${name} statics`).toEqual(Object.keys(e.statics ?? {}).sort());
      expect(ownMethods(cls.prototype), `${name} methods`).toEqual(Object.keys(e.methods).sort());
    }
  });

  it('functions and static methods answer bad arguments in their kind, with a code', async () => {
    for (const [name, e] of Object.entries(TABLE)) {
      const calls: [string, Method, Fn][] = e.call
        ? [[name, e.call, addon[name]!]]
        : Object.entries(e.statics ?? {}).map(([k, m]) => {
            const cls = addon[name]!;
            return [`${name}.${k}`, m, cls[k]!.bind(cls)];
          });
      for (const [what, m, fn] of calls) {
        if (m.bad) expectDialect(what, m, await answer(() => fn(...m.bad!)));
      }
    }
  });

  it('a second, bad options argument of each load rejects too', async () => {
    for (const [name, e] of Object.entries(TABLE)) {
      const bad = e.statics?.load?.bad;
      if (!bad || bad.length < 2) continue;
      const got = await answer(() => addon[name]!.load!('model-path', bad[1]));
      expectDialect(`${name}.load(path, ${JSON.stringify(bad[1])})`, asyncWith(), got);
    }
  });

  it('constructors are not for JavaScript: new X() throws E_BAD_INPUT', () => {
    for (const [name, e] of Object.entries(TABLE)) {
      if (!e.methods) continue;
      const Cls = addon[name] as unknown as new () => object;
      expect(() => new Cls(), name).toThrow(expect.objectContaining({ code: 'E_BAD_INPUT' }));
    }
  });

  describe('instance methods', () => {
    const instances = new Map<string, Record<string, Fn>>();
    beforeAll(async () => {
      for (const [name, e] of Object.entries(TABLE)) {
        const loading = e.load?.();
        if (loading) instances.set(name, (await loading) as Record<string, Fn>);
      }
    }, 120_000);
    afterAll(() => {
      for (const obj of instances.values()) obj.dispose?.();
    });

    it('loads an instance of every class whose fixture is here (the ONNX one is always)', () => {
      const loadable = Object.entries(TABLE)
        .filter(([, e]) => e.load !== undefined)
        .map(([n]) => n);
      expect(loadable).toContain('Segmenter');
      expect([...instances.keys()].sort()).toEqual(loadable.sort());
    });

    it('answer bad arguments in their kind, with a code', async () => {
      for (const [name, obj] of instances) {
        for (const [k, m] of Object.entries(TABLE[name]!.methods!)) {
          if (m.bad) expectDialect(`${name}#${k}`, m, await answer(() => obj[k]!(...m.bad!)));
        }
      }
    });

    it('after dispose(), every asynchronous method rejects with E_BAD_INPUT saying so', async () => {
      for (const [name, obj] of instances) {
        const methods = TABLE[name]!.methods!;
        if (!methods.dispose) continue;
        obj.dispose!();
        for (const [k, m] of Object.entries(methods)) {
          if (m.kind !== 'async') continue;
          const got = await answer(() => obj[k]!(...(m.bad ?? [])));
          expectDialect(`${name}#${k} after dispose`, m, got);
          expect(got.code).toBe('E_BAD_INPUT');
          expect(got.message).toMatch(/disposed/);
        }
      }
    });
  });
});
