/**
 * Which engine paints the background, and what happens when it cannot.
 *
 *   studio   always possible (procedural, no weights)
 *   local    when a diffusion model is configured (model.diffusion, BG_DIFFUSION_MODEL, MODEL_PATH)
 *   runway   when RUNWAY_API_KEY is set
 *   auto     local → runway → studio: each engine that is not configured is skipped, and a
 *            local failure that means "cannot generate here" (no weights, out of memory, no
 *            CUDA when demanded, unusable file) falls through to the next; a runway failure
 *            falls through to studio. Cancellation and bad input never fall through.
 * An explicit engine runs alone: its errors are the call's errors.
 * The outcome records the engine that ran, why, and why each earlier one was skipped.
 */
import { BgNativeError, toBgError, type ErrorCode } from '../errors.js';
import type { EngineName } from '../options.js';
import type { GenerateRequest, GeneratedBackground, Generator, GeneratorName } from './generator.js';

export interface SkippedEngine {
  engine: GeneratorName;
  reason: string;
  /** The error code, when the engine was tried and failed. */
  code?: ErrorCode;
}

export interface EngineSetup {
  /** The local engine, when a diffusion model is configured. */
  local?: Generator;
  /** The runway engine, when an API key is configured. */
  runway?: Generator;
  studio: Generator;
  /** How the local model was configured, for the reasons ("model.diffusion", "BG_DIFFUSION_MODEL"). */
  localSource?: string;
}

export interface EngineOutcome {
  engine: GeneratorName;
  /** Why this engine ran. */
  reason: string;
  skipped: SkippedEngine[];
  background: GeneratedBackground;
}

/** Local failures after which `auto` tries the next engine. */
const LOCAL_FALLBACK: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'E_OUT_OF_MEMORY',
  'E_MODEL_NOT_FOUND',
  'E_MODEL_FORMAT',
  'E_MODEL_UNSUPPORTED',
  'E_DEVICE_UNAVAILABLE',
  'E_ADDON_LOAD',
  'E_NUMERIC',
]);
const RUNWAY_FALLBACK: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['E_PROVIDER_FAILED', 'E_PROVIDER_REJECTED']);

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

export async function generateBackground(
  requested: EngineName,
  setup: EngineSetup,
  request: GenerateRequest,
): Promise<EngineOutcome> {
  if (requested !== 'auto') {
    const generator = setup[requested];
    if (!generator) {
      throw requested === 'local'
        ? new BgNativeError(
            'E_CONFIG',
            "engine 'local' needs a Stable Diffusion model: set model.diffusion (CLI --diffusion-model) or " +
              'BG_DIFFUSION_MODEL to a .safetensors checkpoint or a diffusers folder.',
          )
        : new BgNativeError(
            'E_CONFIG',
            "engine 'runway' needs an API key: set RUNWAY_API_KEY (see https://dev.runwayml.com).",
          );
    }
    const background = await generator.generate(request);
    return { engine: requested, reason: `engine '${requested}' was requested`, skipped: [], background };
  }

  // The generative engines in the order auto tries them; each one that is not configured or
  // fails in a way another engine can cover is recorded and passed over.
  const generative: {
    engine: GeneratorName;
    generator: Generator | undefined;
    fallback: ReadonlySet<ErrorCode>;
    ran: string;
    absent: string;
  }[] = [
    {
      engine: 'local',
      generator: setup.local,
      fallback: LOCAL_FALLBACK,
      ran: `a diffusion model is configured (${setup.localSource ?? 'model.diffusion'})`,
      absent: 'no diffusion model configured (model.diffusion or BG_DIFFUSION_MODEL)',
    },
    {
      engine: 'runway',
      generator: setup.runway,
      fallback: RUNWAY_FALLBACK,
      ran: 'the local engine could not run and RUNWAY_API_KEY is set',
      absent: 'RUNWAY_API_KEY is not set',
    },
  ];
  const skipped: SkippedEngine[] = [];
  for (const { engine, generator, fallback, ran, absent } of generative) {
    if (!generator) {
      skipped.push({ engine, reason: absent });
      continue;
    }
    try {
      return { engine, reason: ran, skipped, background: await generator.generate(request) };
    } catch (err) {
      const e = toBgError(err);
      if (!fallback.has(e.code) || request.signal?.aborted) throw e;
      skipped.push({ engine, reason: `failed: ${firstLine(e.message)}`, code: e.code });
    }
  }

  const background = await setup.studio.generate(request);
  const tried = skipped.some((s) => s.code !== undefined);
  const reason = tried
    ? "no generative engine could run: the studio engine painted the preset's procedural background"
    : "no diffusion model or Runway key is configured: the studio engine painted the preset's procedural background";
  return { engine: 'studio', reason, skipped, background };
}
