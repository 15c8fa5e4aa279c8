/**
 * A prompt's box and points checked against the decoded photo: everything must lie inside it
 * (photo pixels, after EXIF orientation). A failed check is E_BAD_INPUT naming the field.
 */
import type { SubjectPrompt } from '../compose/glass/product-extent.js';
import { BgNativeError } from '../errors.js';

const fmt = (v: number) => String(Math.round(v * 100) / 100);

export function checkPromptInImage(prompt: SubjectPrompt | undefined, width: number, height: number): void {
  if (!prompt) return;
  const size = `the ${width}×${height} photo`;
  if (prompt.box) {
    const [x, y, w, h] = prompt.box;
    if (![x, y, w, h].every(Number.isFinite) || w <= 0 || h <= 0) {
      throw new BgNativeError(
        'E_BAD_INPUT',
        `\`prompt.box\` must be [x, y, width, height] with a positive width and height; got ` +
          `[${prompt.box.join(', ')}].`,
      );
    }
    if (x < 0 || y < 0 || x + w > width + 0.5 || y + h > height + 0.5) {
      throw new BgNativeError(
        'E_BAD_INPUT',
        `\`prompt.box\` [${[x, y, w, h].map(fmt).join(', ')}] reaches outside ${size}: draw the box inside ` +
          `it (x + width ≤ ${width}, y + height ≤ ${height}).`,
      );
    }
  }
  (prompt.points ?? []).forEach((p, i) => {
    if (!(p.x >= 0 && p.y >= 0 && p.x < width && p.y < height)) {
      throw new BgNativeError(
        'E_BAD_INPUT',
        `\`prompt.points[${i}]\` (${fmt(p.x)}, ${fmt(p.y)}) lies outside ${size}: give points inside it.`,
      );
    }
  });
}
