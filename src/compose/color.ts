/**
 * Colour parsing for background options. Pure: no I/O.
 * Accepts '#rgb', '#rrggbb', 'rgb(r, g, b)' and a small set of CSS colour names.
 */
export interface RGB {
  r: number;
  g: number;
  b: number;
}

const NAMED: Record<string, RGB> = {
  white: { r: 255, g: 255, b: 255 },
  black: { r: 0, g: 0, b: 0 },
  red: { r: 255, g: 0, b: 0 },
  green: { r: 0, g: 128, b: 0 },
  lime: { r: 0, g: 255, b: 0 },
  blue: { r: 0, g: 0, b: 255 },
  yellow: { r: 255, g: 255, b: 0 },
  cyan: { r: 0, g: 255, b: 255 },
  magenta: { r: 255, g: 0, b: 255 },
  gray: { r: 128, g: 128, b: 128 },
  grey: { r: 128, g: 128, b: 128 },
  lightgray: { r: 211, g: 211, b: 211 },
  lightgrey: { r: 211, g: 211, b: 211 },
  silver: { r: 192, g: 192, b: 192 },
  whitesmoke: { r: 245, g: 245, b: 245 },
  beige: { r: 245, g: 245, b: 220 },
  ivory: { r: 255, g: 255, b: 240 },
  navy: { r: 0, g: 0, b: 128 },
};

/** The colour names `parseColor` understands, for help texts and messages. */
export const COLOR_NAMES: readonly string[] = Object.keys(NAMED);

/** Parses a colour; returns undefined when the text is not a colour we understand. */
export function parseColor(text: string): RGB | undefined {
  const s = text.trim().toLowerCase();
  const named = NAMED[s];
  if (named) return { ...named };
  let m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/.exec(s);
  if (m) {
    return { r: parseInt(m[1]! + m[1]!, 16), g: parseInt(m[2]! + m[2]!, 16), b: parseInt(m[3]! + m[3]!, 16) };
  }
  m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/.exec(s);
  if (m) return { r: parseInt(m[1]!, 16), g: parseInt(m[2]!, 16), b: parseInt(m[3]!, 16) };
  m = /^rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)$/.exec(s);
  if (m) {
    const [r, g, b] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (r <= 255 && g <= 255 && b <= 255) return { r, g, b };
  }
  return undefined;
}

/** Linear mix of two colours: t = 0 gives `a`, t = 1 gives `b`. */
export function mixColor(a: RGB, b: RGB, t: number): RGB {
  return {
    r: Math.round(a.r + (b.r - a.r) * t),
    g: Math.round(a.g + (b.g - a.g) * t),
    b: Math.round(a.b + (b.b - a.b) * t),
  };
}

// ── CIE L*a*b* (D65, sRGB primaries) ────────────────────────────────────────────────────────────

/** sRGB 8-bit code → linear light in [0, 1]. */
export const SRGB_TO_LINEAR: Float32Array = (() => {
  const t = new Float32Array(256);
  for (let v = 0; v < 256; v++) {
    const c = v / 255;
    t[v] = c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }
  return t;
})();

/** Linear value where code v stops rounding to v: encode(lin) = first v with lin < LINEAR_EDGES[v]. */
const LINEAR_EDGES: Float64Array = (() => {
  const t = new Float64Array(256);
  for (let v = 0; v < 255; v++) {
    const c = (v + 0.5) / 255;
    t[v] = c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }
  t[255] = Infinity;
  return t;
})();

/** Linear light → sRGB 8-bit code, exactly rounded (binary search over the code edges). */
export function linearToSrgb8(lin: number): number {
  if (!(lin > 0)) return 0;
  let lo = 0;
  let hi = 255;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (lin < LINEAR_EDGES[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const XN = 0.95047;
const ZN = 1.08883;
const LAB_E = 216 / 24389;
const LAB_K = 24389 / 27;

function labF(t: number): number {
  return t > LAB_E ? Math.cbrt(t) : (LAB_K * t + 16) / 116;
}

function labFInv(f: number): number {
  const f3 = f * f * f;
  return f3 > LAB_E ? f3 : (116 * f - 16) / LAB_K;
}

/** 8-bit sRGB → L*a*b*, written to out[o], out[o+1], out[o+2] (no allocation). */
export function srgbToLab(r: number, g: number, b: number, out: Float32Array | Float64Array, o = 0): void {
  const lr = SRGB_TO_LINEAR[r]!;
  const lg = SRGB_TO_LINEAR[g]!;
  const lb = SRGB_TO_LINEAR[b]!;
  const x = (0.4124564 * lr + 0.3575761 * lg + 0.1804375 * lb) / XN;
  const y = 0.2126729 * lr + 0.7151522 * lg + 0.072175 * lb;
  const z = (0.0193339 * lr + 0.119192 * lg + 0.9503041 * lb) / ZN;
  const fx = labF(x);
  const fy = labF(y);
  const fz = labF(z);
  out[o] = 116 * fy - 16;
  out[o + 1] = 500 * (fx - fy);
  out[o + 2] = 200 * (fy - fz);
}

/** L*a*b* → 8-bit sRGB (clipped to the gamut per channel), written to out[o..o+2]. */
export function labToSrgb(L: number, a: number, b: number, out: Uint8Array, o = 0): void {
  const fy = (L + 16) / 116;
  const x = labFInv(fy + a / 500) * XN;
  const y = L > LAB_K * LAB_E ? fy * fy * fy : L / LAB_K;
  const z = labFInv(fy - b / 200) * ZN;
  out[o] = linearToSrgb8(3.2404542 * x - 1.5371385 * y - 0.4985314 * z);
  out[o + 1] = linearToSrgb8(-0.969266 * x + 1.8760108 * y + 0.041556 * z);
  out[o + 2] = linearToSrgb8(0.0556434 * x - 0.2040259 * y + 1.0572252 * z);
}
