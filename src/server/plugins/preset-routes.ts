/** GET /v1/presets: the presets' names, descriptions and prompt types (the web page's menu). */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';

import type { BgNative } from '../../context/create.js';
import type { ServerConfig } from '../config.js';
import { serverLibrary } from '../library.js';
import { ErrorSchema, PresetListSchema } from '../schemas.js';

/** Each preset as the list shows it. */
function presetEntries(lib: BgNative) {
  return lib.listPresets().map((name) => {
    const p = lib.getPreset(name);
    return {
      name,
      description: p.description,
      promptTypes: p.promptTypes,
      ...(p.promptType !== undefined ? { defaultPromptType: p.promptType } : {}),
    };
  });
}

export async function presetRoutes(app: FastifyInstance, { cfg }: { cfg: ServerConfig }): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get('/v1/presets', {
    schema: {
      tags: ['client'],
      summary: 'The presets: names, descriptions and prompt types',
      response: { 200: PresetListSchema, 401: ErrorSchema },
    },
    handler: async () => ({ presets: presetEntries(serverLibrary(cfg)) }),
  });
}
