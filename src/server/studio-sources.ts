/**
 * The studio modes' files on the server: a clean plate, a second shot and its clean plate, each
 * given like the photo — a multipart upload (fields `cleanPlate`, `secondInput`,
 * `secondCleanPlate`), a path inside INPUT_ROOTS (`…Path`) or a URL (`…Url`). They are checked
 * when the job is submitted, travel in the job payload as sources, are loaded when the job runs,
 * and their uploads are deleted with the job.
 */
import path from 'node:path';

import { z } from 'zod';

import { HttpError } from './http-errors.js';
import { STUDIO_ROLES, type JobSource, type StudioRole, type StudioSources } from './job-payload.js';

export { STUDIO_ROLES, type StudioRole, type StudioSources } from './job-payload.js';

/** The multipart file fields: the photo and the studio files. */
export const UPLOAD_FIELDS = ['file', ...STUDIO_ROLES] as const;
export type UploadField = (typeof UPLOAD_FIELDS)[number];

const what: Record<StudioRole, string> = {
  cleanPlate: 'the clean plate (the same framing without the product)',
  secondInput: 'the product shot over a second backdrop',
  secondCleanPlate: "the second backdrop's clean plate",
};

const pathField = (role: StudioRole) =>
  z.string().min(1).max(4096).optional().describe(`Absolute path on the server (inside INPUT_ROOTS) of ${what[role]}.`);
const urlField = (role: StudioRole) =>
  z.string().min(1).max(4096).optional().describe(`http(s) URL the server downloads ${what[role]} from.`);

/** Body fields naming the studio files by path or URL (uploads come as multipart files of the role's name). */
export const studioBodyFields = {
  cleanPlatePath: pathField('cleanPlate'),
  cleanPlateUrl: urlField('cleanPlate'),
  secondInputPath: pathField('secondInput'),
  secondInputUrl: urlField('secondInput'),
  secondCleanPlatePath: pathField('secondCleanPlate'),
  secondCleanPlateUrl: urlField('secondCleanPlate'),
};
export type StudioBodyFields = { [K in keyof typeof studioBodyFields]?: string | undefined };
export const STUDIO_BODY_KEYS = Object.keys(studioBodyFields) as (keyof typeof studioBodyFields)[];

export interface StudioChecks {
  path: (p: string, field: string) => string;
  url: (u: string, field: string) => Promise<string>;
}

/**
 * Each role's source from its upload, path or URL (at most one of them); a second shot needs its
 * clean plate and the other way round. Throws E_BAD_INPUT naming the fields.
 */
export async function studioSources(
  fields: StudioBodyFields,
  uploads: ReadonlyMap<string, string>,
  checks: StudioChecks,
): Promise<StudioSources | undefined> {
  const out: StudioSources = {};
  for (const role of STUDIO_ROLES) {
    const p = fields[`${role}Path`],
      u = fields[`${role}Url`],
      up = uploads.get(role);
    const given = [p, u, up].filter((x) => x !== undefined).length;
    if (given > 1) {
      const message = `Give only one of ${role}Path, ${role}Url and an uploaded \`${role}\` file.`;
      throw new HttpError(400, 'E_BAD_INPUT', message);
    }
    if (p !== undefined) out[role] = { kind: 'path', path: checks.path(p, `${role}Path`) };
    else if (u !== undefined) out[role] = { kind: 'url', url: await checks.url(u, `${role}Url`) };
    else if (up !== undefined) out[role] = { kind: 'upload', path: up };
  }
  if ((out.secondInput === undefined) !== (out.secondCleanPlate === undefined)) {
    const missing = out.secondInput === undefined ? 'secondInput' : 'secondCleanPlate';
    throw new HttpError(
      400,
      'E_BAD_INPUT',
      `${missing} is missing (as ${missing}Path, ${missing}Url or an uploaded \`${missing}\` file): ` +
        'two-shot matting takes the second shot and its clean plate together.',
    );
  }
  return Object.keys(out).length ? out : undefined;
}

/** The library's cleanPlate / second options from the loaded files. */
export async function loadStudioOptions(
  studio: StudioSources | undefined,
  load: (source: JobSource, field: string) => Promise<string | Buffer>,
): Promise<{ cleanPlate?: string | Buffer; second?: { input: string | Buffer; cleanPlate: string | Buffer } }> {
  if (!studio) return {};
  const plate = studio.cleanPlate ? await load(studio.cleanPlate, 'cleanPlate') : undefined;
  const { secondInput, secondCleanPlate } = studio;
  const second =
    secondInput && secondCleanPlate
      ? { input: await load(secondInput, 'secondInput'), cleanPlate: await load(secondCleanPlate, 'secondCleanPlate') }
      : undefined;
  return { ...(plate !== undefined ? { cleanPlate: plate } : {}), ...(second ? { second } : {}) };
}

/** The uploaded studio files of a job (inside `uploadsDir` only), to delete with it. */
export function studioUploads(studio: StudioSources | undefined, uploadsDir: string): string[] {
  if (!studio) return [];
  return Object.values(studio)
    .filter((s): s is Extract<JobSource, { kind: 'upload' }> => s?.kind === 'upload')
    .map((s) => s.path)
    .filter((p) => path.dirname(path.resolve(p)) === path.resolve(uploadsDir));
}
