/**
 * What Runway's `POST /v1/text_to_image` accepts, as its API reference (version 2024-11-06)
 * documents it, and the small pure functions that fit our request into it:
 *
 *   ratio       one of a fixed list of output sizes "W:H" (pixels); gen4_image renders 720p and
 *               1080p sizes, billed 5 and 8 credits; gen4_image_turbo is billed 2 at any size
 *   promptText  1..1000 characters
 *   seed        an integer 0..4294967295
 *   tag         3..16 characters: letters, digits and '_', starting with a letter
 */

export const RUNWAY_MODELS = ['gen4_image', 'gen4_image_turbo'] as const;
export type RunwayModel = (typeof RUNWAY_MODELS)[number];

export const RUNWAY_RESOLUTIONS = ['720p', '1080p'] as const;
export type RunwayResolution = (typeof RUNWAY_RESOLUTIONS)[number];

/** The documented ratio enum of the gen4 image models, grouped by the tier each is billed at. */
export const RUNWAY_RATIOS: Record<RunwayResolution, readonly string[]> = {
  '1080p': [
    '1920:1080',
    '1080:1920',
    '1024:1024',
    '1360:768',
    '1080:1080',
    '1168:880',
    '1440:1080',
    '1080:1440',
    '1808:768',
    '2112:912',
  ],
  '720p': ['1280:720', '720:1280', '720:720', '960:720', '720:960', '1680:720'],
};
export const ALL_RUNWAY_RATIOS: readonly string[] = [...RUNWAY_RATIOS['1080p'], ...RUNWAY_RATIOS['720p']];

/** Credits a successful task costs, per the documented price list. */
export function runwayCredits(model: RunwayModel, resolution: RunwayResolution): number {
  if (model === 'gen4_image_turbo') return 2;
  return resolution === '1080p' ? 8 : 5;
}

export const MAX_PROMPT_CHARS = 1000;
export const MAX_SEED = 4294967295;
/** Reference image tags: 3–16 characters, letters/digits/underscore, first one a letter. */
export const RUNWAY_TAG = /^[A-Za-z][A-Za-z0-9_]{2,15}$/;

export function parseRatio(ratio: string): { width: number; height: number } {
  const [w, h] = ratio.split(':').map(Number);
  return { width: w ?? 0, height: h ?? 0 };
}

/**
 * The documented ratio whose aspect is closest to width/height (distance in log-aspect, so 2:1
 * and 1:2 are equally far from 1:1), among the sizes of one resolution tier. Ties go to the
 * larger size (1080:1080 over 1024:1024).
 */
export function pickRatio(width: number, height: number, resolution: RunwayResolution = '1080p'): string {
  if (!(width > 0 && height > 0)) throw new RangeError(`pickRatio: expected a positive size, got ${width}×${height}`);
  const target = Math.log(width / height);
  let best = '';
  let bestDist = Infinity;
  let bestArea = 0;
  for (const r of RUNWAY_RATIOS[resolution]) {
    const { width: w, height: h } = parseRatio(r);
    const dist = Math.abs(Math.log(w / h) - target);
    const area = w * h;
    if (dist < bestDist - 1e-9 || (Math.abs(dist - bestDist) <= 1e-9 && area > bestArea)) {
      best = r;
      bestDist = dist;
      bestArea = area;
    }
  }
  return best;
}

/** Any integer seed folded into Runway's range 0..2^32-1 (a 32-bit wrap, so -1 → 4294967295). */
export function runwaySeed(seed: number): number {
  if (!Number.isFinite(seed)) return 0;
  const m = 2 ** 32;
  return ((Math.trunc(seed) % m) + m) % m;
}

/**
 * Whitespace collapsed, then cut to at most `max` UTF-16 units at the last word boundary
 * (trailing commas/semicolons dropped). A single word longer than `max` is cut hard, never
 * through a surrogate pair.
 */
export function capPrompt(text: string, max = MAX_PROMPT_CHARS): string {
  const clean = text.replace(/\s+/g, ' ').trim();
  if (clean.length <= max) return clean;
  const head = clean.slice(0, max + 1);
  const cut = head.lastIndexOf(' ');
  let out = cut > 0 ? head.slice(0, cut) : clean.slice(0, max);
  if (cut <= 0) {
    const last = out.charCodeAt(out.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) out = out.slice(0, -1);
  }
  return out.replace(/[\s,;:]+$/, '');
}
