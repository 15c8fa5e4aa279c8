/**
 * Error mapping: every failure answers `{ error: { code, message } }` with its HTTP status —
 * HttpError as thrown, request validation as 400 E_BAD_INPUT naming the fields, size limits as
 * 413, bad JSON as 400, library and job errors by their code, a refused URL as 403; anything
 * else is a logged 500. Unknown routes answer 404 E_NOT_FOUND.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

import { BgNativeError } from '../../errors.js';
import { UrlRefusedError } from '../../net/guard.js';
import { JobFailure } from '../../queue/types.js';
import type { ServerConfig } from '../config.js';
import { HttpError, statusForCode } from '../http-errors.js';

export interface ErrorMappingOptions {
  cfg: ServerConfig;
}

interface MappedError {
  status: number;
  code: string;
  message: string;
}

interface ValidationEntry {
  instancePath?: string;
  message?: string;
  params?: unknown;
}

/** What fastify and its plugins put on the errors they throw. */
interface FastifyErrorFields {
  code?: string;
  statusCode?: number;
  message?: string;
  validation?: ValidationEntry[];
  validationContext?: string;
}

const TOO_LARGE = new Set([
  'FST_ERR_CTP_BODY_TOO_LARGE',
  'FST_REQ_FILE_TOO_LARGE',
  'FST_PARTS_LIMIT',
  'FST_FILES_LIMIT',
  'FST_FIELDS_LIMIT',
]);

/** One validation entry as text: "`field` message", or the unknown keys by name. */
function validationPart(v: ValidationEntry): string {
  const field = (v.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
  const keys = (v.params as { issue?: { code?: string; keys?: string[] } } | undefined)?.issue;
  if (keys?.code === 'unrecognized_keys' && keys.keys) {
    const names = keys.keys.map((k) => `\`${k}\``).join(', ');
    return `unknown field${keys.keys.length > 1 ? 's' : ''} ${names}${field ? ` in \`${field}\`` : ''}`;
  }
  const text = (v.message ?? 'is invalid').replace(/^Invalid input: /, '');
  return field ? `\`${field}\` ${text}` : text;
}

function tooLargeMessage(code: string, cfg: ServerConfig): string {
  if (code === 'FST_REQ_FILE_TOO_LARGE') {
    return `The upload is larger than the server's limit (UPLOAD_LIMIT, ${cfg.uploadLimit} bytes).`;
  }
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return `The request body is larger than the server's limit (BODY_LIMIT, ${cfg.bodyLimit} bytes).`;
  }
  return 'Too many parts in the multipart request: send one `file` (and the studio files), then the option fields.';
}

/** The answer for an error: status, code and message (headers of an HttpError are set on `reply`). */
export function mapError(err: unknown, reply: FastifyReply, cfg: ServerConfig): MappedError {
  const e = err as FastifyErrorFields;
  if (err instanceof HttpError) {
    for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
    return { status: err.statusCode, code: err.code, message: err.message };
  }
  if (e.validation) {
    const where = e.validationContext ?? 'body';
    const message = `Invalid request ${where}: ${e.validation.map(validationPart).join('; ')}.`;
    return { status: 400, code: 'E_BAD_INPUT', message };
  }
  if (e.code !== undefined && TOO_LARGE.has(e.code)) {
    return { status: 413, code: 'E_TOO_LARGE', message: tooLargeMessage(e.code, cfg) };
  }
  if (/INVALID_JSON/.test(e.code ?? '') || err instanceof SyntaxError || e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return { status: 400, code: 'E_BAD_JSON', message: `The request body is not valid JSON: ${e.message}` };
  }
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { status: 415, code: 'E_UNSUPPORTED_MEDIA_TYPE', message: 'Send application/json or multipart/form-data.' };
  }
  if (err instanceof BgNativeError || err instanceof JobFailure) {
    const code = err.code;
    const status =
      code === 'E_FORBIDDEN' ? 403 : code === 'E_BAD_INPUT' && err instanceof JobFailure ? 422 : statusForCode(code);
    return { status, code, message: err.message };
  }
  if (err instanceof UrlRefusedError) return { status: 403, code: 'E_FORBIDDEN', message: err.message };
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, code: 'E_BAD_REQUEST', message: e.message ?? 'Bad request.' };
  }
  return { status: 500, code: 'E_INTERNAL', message: 'Internal error; see the server log.' };
}

async function errorMapping(app: FastifyInstance, { cfg }: ErrorMappingOptions): Promise<void> {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const { status, code, message } = mapError(err, reply, cfg);
    if (status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ code, status }, message);
    void reply.status(status).send({ error: { code, message } });
  });

  app.setNotFoundHandler((req, reply) => {
    const message = `No route ${req.method} ${req.url.split('?')[0]}.`;
    void reply.status(404).send({ error: { code: 'E_NOT_FOUND', message } });
  });
}

/** Sets the root instance's error and not-found handlers. */
export const errorMappingPlugin = fp(errorMapping, { name: 'bg-native-errors' });
