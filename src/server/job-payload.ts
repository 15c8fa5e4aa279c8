/**
 * What a job carries through the queue: the operation, where its photo (and the studio files)
 * come from, and the options a client set. Types only, shared by the routes that build payloads,
 * the runner that reads them and the retention sweep that deletes their uploads.
 */

/** Where a file comes from: a path inside INPUT_ROOTS, a URL, or an upload under OUTPUT_DIR. */
export type JobSource =
  | { kind: 'path'; path: string }
  | { kind: 'url'; url: string }
  | { kind: 'upload'; path: string };

/** The studio modes' files: a clean plate, a second shot and its clean plate. */
export const STUDIO_ROLES = ['cleanPlate', 'secondInput', 'secondCleanPlate'] as const;
export type StudioRole = (typeof STUDIO_ROLES)[number];
export type StudioSources = Partial<Record<StudioRole, JobSource>>;

export interface JobPayload {
  op: 'replace' | 'cleanup';
  source: JobSource;
  /** replaceBackground / cleanup options a client may set (already validated). */
  options: Record<string, unknown>;
  mediaId?: string;
  projectId?: string;
  callbackUrl?: string;
  /** The studio modes' files (clean plate, second shot and its plate), loaded like the photo. */
  studio?: StudioSources;
}
