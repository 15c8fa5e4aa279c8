/**
 * The latest step preview of a running job: OUTPUT_DIR/<jobId>/preview.jpg, replaced atomically
 * at each preview the local engine reports and removed when the try ends. A file rather than
 * memory, so the serving processes see the previews of jobs that separate workers run (they
 * share OUTPUT_DIR); it is ephemeral all the same: only a running job's preview is served.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';

import { writeFileAtomic } from '../image/atomic-write.js';
import { encodeImage } from '../image/encode.js';
import type { ReplacePreview } from '../options.js';

export const PREVIEW_FILE = 'preview.jpg';
/** JPEG quality of previews: small files, good enough at 256 px. */
const PREVIEW_QUALITY = 80;

/** Where a job's latest preview lies. */
export function previewPath(outputDir: string, jobId: string): string {
  return path.join(outputDir, jobId, PREVIEW_FILE);
}

export interface PreviewWriter {
  /** Takes a preview; the newest one wins when they arrive faster than they are written. */
  push(preview: ReplacePreview): void;
  /** Waits for the write under way, then removes the preview (the try is over). */
  close(): Promise<void>;
}

/**
 * Writes previews to `file` one at a time, newest first: a preview that arrives while another is
 * being written replaces any still waiting. Failures to encode or write only lose that preview.
 */
export function createPreviewWriter(file: string): PreviewWriter {
  let waiting: ReplacePreview | undefined;
  let closed = false;
  // A preview left by an earlier try of the same job is not this try's.
  let running: Promise<void> = rm(file, { force: true }).catch(() => undefined);
  let busy = false;

  async function drain(): Promise<void> {
    while (waiting && !closed) {
      const p = waiting;
      waiting = undefined;
      try {
        const jpeg = await encodeImage({ data: p.pixels, width: p.width, height: p.height, channels: 3 }, 'jpeg', {
          quality: PREVIEW_QUALITY,
        });
        if (!closed) await writeFileAtomic(file, jpeg);
      } catch {
        // A preview that cannot be written is skipped; the job goes on.
      }
    }
    busy = false;
  }

  return {
    push(preview) {
      if (closed) return;
      waiting = preview;
      if (busy) return;
      busy = true;
      running = running.then(drain);
    },
    async close() {
      closed = true;
      waiting = undefined;
      await running;
      await rm(file, { force: true }).catch(() => undefined);
    },
  };
}
