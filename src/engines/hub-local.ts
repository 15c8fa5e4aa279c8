/**
 * The `local` engine for weights named by id (MODEL_ID=org/name): the id is resolved from the
 * Hugging Face cache — downloaded into it on first use — when the engine first runs, so a
 * studio-only call never touches the network and `auto` falls back with the reason when the
 * weights cannot be had.
 */
import type { DiffusionPrecision } from '../diffusion.js';
import { resolveHubModel, type HubModel } from '../models/hub.js';
import type { GenerateRequest, GeneratedBackground, Generator } from './generator.js';
import { createLocalGenerator } from './local.js';

export interface HubLocalOptions {
  /** org/name */
  id: string;
  tokenizer?: string;
  precision?: DiffusionPrecision;
  env?: NodeJS.ProcessEnv;
}

/** Resolutions in flight or done, per id and environment's cache/revision: one download per process. */
const resolved = new Map<string, Promise<HubModel>>();

export function createHubLocalGenerator(options: HubLocalOptions): Generator {
  const env = options.env ?? process.env;
  return {
    name: 'local',
    async generate(request: GenerateRequest): Promise<GeneratedBackground> {
      const key = JSON.stringify([options.id, env.MODEL_REVISION ?? '', env.HF_HUB_CACHE ?? '', env.HF_HOME ?? '', env.HF_ENDPOINT ?? '']);
      let p = resolved.get(key);
      if (!p) {
        p = resolveHubModel(options.id, { env, ...(request.signal ? { signal: request.signal } : {}) });
        resolved.set(key, p);
        p.catch(() => resolved.delete(key));
        // A resolved path is re-checked on the next call (the cache may have been cleaned).
        p.then(() => resolved.delete(key), () => undefined);
      }
      const t0 = performance.now();
      const hub = await p;
      const resolveMs = Math.round((performance.now() - t0) * 10) / 10;
      const local = createLocalGenerator({
        model: hub.path,
        ...(options.tokenizer ? { tokenizer: options.tokenizer } : {}),
        ...(options.precision ? { precision: options.precision } : {}),
      });
      const out = await local.generate(request);
      return {
        ...out,
        stages: { resolve: resolveMs, ...(out.stages ?? {}) },
        info: { ...out.info, modelId: hub.id, revision: hub.revision, commit: hub.commit, modelSource: hub.source },
      };
    },
  };
}
