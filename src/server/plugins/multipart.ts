/**
 * Multipart uploads: the photo (`file`) and the studio files stream to OUTPUT_DIR/.uploads under
 * random names, capped at UPLOAD_LIMIT; a field other than those, or one sent twice, is refused
 * and what was stored is deleted. The option fields become the JSON body shape (multipartToBody),
 * so one schema validates both kinds of request.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

import multipart, { type MultipartFile } from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

import type { ServerConfig } from '../config.js';
import { HttpError } from '../http-errors.js';
import { uploadsDir } from '../jobs.js';
import { UPLOAD_FIELDS, type UploadField } from '../studio-sources.js';

export interface UploadsOptions {
  cfg: ServerConfig;
}

/** A request's uploaded files by field (`file`, and the studio files). */
const uploads = new WeakMap<FastifyRequest, Map<UploadField, string>>();

/** The files a request uploaded, by field (undefined when it uploaded none). */
export function requestUploads(req: FastifyRequest): ReadonlyMap<UploadField, string> | undefined {
  return uploads.get(req);
}

export async function removeUploads(files: ReadonlyMap<string, string> | undefined): Promise<void> {
  await Promise.all([...(files?.values() ?? [])].map((f) => rm(f, { force: true })));
}

function coerceField(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = v.trim();
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if (t.startsWith('{') || t.startsWith('[')) {
    try {
      return JSON.parse(t);
    } catch {
      return v;
    }
  }
  return v;
}

/** multipart fields (keyValues) → the JSON body shape; the file itself stays out of the body. */
export async function multipartToBody(req: FastifyRequest): Promise<void> {
  if (!req.isMultipart()) return;
  const raw = (req.body ?? {}) as Record<string, unknown>;
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if ((UPLOAD_FIELDS as readonly string[]).includes(k)) continue;
    if (k === 'options') {
      const parsed = coerceField(v);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new HttpError(400, 'E_BAD_INPUT', 'The multipart field `options` must be a JSON object.');
      }
      Object.assign(body, parsed);
    } else body[k] = coerceField(v);
  }
  req.body = body;
}

function wrongField(field: string, twice: boolean): HttpError {
  const message = twice
    ? `The multipart field \`${field}\` came twice: upload each file once.`
    : 'Upload the photo in the multipart field `file`, studio files in `cleanPlate`, `secondInput` and ' +
      `\`secondCleanPlate\` (got \`${field}\`).`;
  return new HttpError(400, 'E_BAD_INPUT', message);
}

async function multipartUploads(app: FastifyInstance, { cfg }: UploadsOptions): Promise<void> {
  await app.register(multipart, {
    attachFieldsToBody: 'keyValues',
    limits: {
      fileSize: cfg.uploadLimit,
      files: UPLOAD_FIELDS.length,
      fields: 64,
      fieldSize: cfg.bodyLimit,
      parts: 64 + UPLOAD_FIELDS.length + 1,
    },
    async onFile(this: FastifyRequest, part: MultipartFile) {
      const field = part.fieldname as UploadField;
      const files = uploads.get(this) ?? new Map<UploadField, string>();
      uploads.set(this, files);
      if (!(UPLOAD_FIELDS as readonly string[]).includes(field) || files.has(field)) {
        part.file.resume();
        await removeUploads(files);
        throw wrongField(part.fieldname, files.has(field));
      }
      const ext = /^\.[a-z0-9]{1,5}$/.exec(path.extname(part.filename ?? '').toLowerCase())?.[0] ?? '';
      const dest = path.join(uploadsDir(cfg), `${randomUUID()}${ext}`);
      await pipeline(part.file, createWriteStream(dest));
      if (part.file.truncated) {
        await rm(dest, { force: true });
        await removeUploads(files);
        const message = `The upload is larger than the server's limit (UPLOAD_LIMIT, ${cfg.uploadLimit} bytes).`;
        throw new HttpError(413, 'E_TOO_LARGE', message);
      }
      files.set(field, dest);
      (part as unknown as { value: unknown }).value = '';
    },
  });
}

/** Registers @fastify/multipart on the root instance, storing the uploads as described above. */
export const multipartPlugin = fp(multipartUploads, { name: 'bg-native-multipart' });
