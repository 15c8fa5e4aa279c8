/**
 * The API's documentation, generated from the routes' zod schemas: the OpenAPI document
 * (/openapi.json) and the Swagger UI page (/docs). Registered before the routes, so that it sees
 * every route as it is added.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';

import { version } from '../../version.js';

async function docs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'bg-native',
        description: 'Background replacement for product photos: jobs, results and signed webhooks.',
        version,
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

/** Registers the OpenAPI generator, /docs and /openapi.json on the root instance. */
export const docsPlugin = fp(docs, { name: 'bg-native-docs' });
