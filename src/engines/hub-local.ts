/**
 * The `local` engine for weights named by id (MODEL_ID=org/name): the id is resolved from the
 * Hugging Face cache — downloaded into it on first use — when the engine first runs, so a
 * studio-only call never touches the network and `auto` falls back with the reason when the
 * weights cannot be had.
 */
import type { Runtime } from '../context/runtime.js';
import type { DiffusionPrecision } from '../diffusion.js';
import { resolveHubModel, type HubModel } from '../models/hub.js';
import type { GenerateRequest, GeneratedBackground, Generator } from './generator.js';
import { createLocalGenerator } from './local.js';

export interface HubLocalOptions {
  /** org/name */
  id: string;
  tokenizer?: string;
  precision?: DiffusionPrecision;
  /** The context: its hub settings (cache, endpoint, revision, token, offline) and resolutions in flight. */
  runtime: Runtime;
}

/** The context's resolution of `id`: one download at a time per id and hub settings. */
function resolveOnce(options: HubLocalOptions, signal: AbortSignal | undefined): Promise<HubModel> {
  const { settings, hubResolutions } = options.runtime;
  const hub = settings.hub;
  const key = JSON.stringify([options.id, hub.revision, hub.cacheDir, hub.endpoint]);
  let p = hubResolutions.get(key);
  if (!p) {
    p = resolveHubModel(options.id, { ...hub, ...(signal ? { signal } : {}) });
    hubResolutions.set(key, p);
    p.catch(() => hubResolutions.delete(key));
    // A resolved path is re-checked on the next call (the cache may have been cleaned).
    p.then(
      () => hubResolutions.delete(key),
      () => undefined,
    );
  }
  return p;
}

export function createHubLocalGenerator(options: HubLocalOptions): Generator {
  return {
    name: 'local',
    async generate(request: GenerateRequest): Promise<GeneratedBackground> {
      const t0 = performance.now();
      const hub = await resolveOnce(options, request.signal);
      const resolveMs = Math.round((performance.now() - t0) * 10) / 10;
      const local = createLocalGenerator({
        model: hub.path,
        ...(options.tokenizer ? { tokenizer: options.tokenizer } : {}),
        ...(options.precision ? { precision: options.precision } : {}),
        runtime: options.runtime,
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
