/**
 * Synthetic glass scenes with exact truth, for tests and `npm run eval:glass`.
 *
 * A scene is a product — a door, a window, a vitrine or a jar — composited over a background with
 * the matting equation C = α·F + (1−α)·B, where α and F (un-premultiplied, 0..255) are known for
 * every pixel:
 *   frames     aluminium, PVC or anthracite profiles with shading across the bar, a dark gasket
 *              where the glass sits, mullions and rails, handles (α = 1)
 *   panes      transmission 0.85–0.95 (α = 1 − T), a tint, and reflection bands that raise α and
 *              brighten F
 *   vitrine    an opaque plinth and top, glass front with glass shelves and an opaque object inside
 *   jar        a glass body with Fresnel edges (α rises towards the silhouette), a highlight
 *              stripe, a thick base and an opaque lid
 * Backgrounds: a photo (cropped, resized, defocused), or procedural 'garden' / 'interior'.
 * The region map says which pixels are background (0), opaque (1) or glass (2). Seeded: the same
 * seed, kind and size give the same product (α, F, region) whatever the backdrop, so two scenes
 * that differ only in `backdrop` / `backdropSeed` are two shots of one product.
 */
import sharp from 'sharp';

export type GlassSceneKind = 'door' | 'window' | 'vitrine' | 'jar';
export const GLASS_SCENE_KINDS: readonly GlassSceneKind[] = ['door', 'window', 'vitrine', 'jar'];

/** 'garden' | 'interior' (procedural) or the path of a photo. */
export type GlassBackdrop = 'garden' | 'interior' | { photo: string };

export const REGION_BACKGROUND = 0;
export const REGION_OPAQUE = 1;
export const REGION_GLASS = 2;

export interface GlassSceneSpec {
  kind: GlassSceneKind;
  backdrop: GlassBackdrop;
  width: number;
  height: number;
  /** Seeds the product (the same seed, kind and size give the same α and F over any backdrop). */
  seed: number;
  /** Seeds the backdrop and the sensor noise (default: `seed`). */
  backdropSeed?: number;
}

export interface GlassTruth {
  width: number;
  height: number;
  /** α per pixel, 0..1. */
  alpha: Float32Array;
  /** F per pixel, interleaved RGB, 0..255, un-premultiplied (0 where α = 0). */
  fg: Float32Array;
  /** 0 background, 1 opaque, 2 glass. */
  region: Uint8Array;
}

export interface GlassScene extends GlassTruth {
  kind: GlassSceneKind;
  backdropName: string;
  /** The photo: interleaved RGB 8-bit, C = α·F + (1−α)·B plus a little sensor noise. */
  image: Uint8Array;
  /** The background B, interleaved RGB 0..255. */
  background: Float32Array;
  /** The product's bounding box [x, y, w, h] in pixels. */
  productBox: [number, number, number, number];
}

type Rgb = [number, number, number];

/** mulberry32: a small seeded PRNG returning [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Smooth value noise in [0, 1]: `cells` random values across the width, bilinearly interpolated. */
function valueNoise(w: number, h: number, cells: number, rand: () => number): Float32Array {
  const gw = cells + 2;
  const gh = Math.ceil((cells * h) / w) + 2;
  const grid = new Float32Array(gw * gh);
  for (let i = 0; i < grid.length; i++) grid[i] = rand();
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const gy = (y / w) * cells;
    const y0 = Math.floor(gy);
    const fy = gy - y0;
    const sy = fy * fy * (3 - 2 * fy);
    for (let x = 0; x < w; x++) {
      const gx = (x / w) * cells;
      const x0 = Math.floor(gx);
      const fx = gx - x0;
      const sx = fx * fx * (3 - 2 * fx);
      const a = grid[y0 * gw + x0]!,
        b = grid[y0 * gw + x0 + 1]!;
      const c = grid[(y0 + 1) * gw + x0]!,
        d = grid[(y0 + 1) * gw + x0 + 1]!;
      out[y * w + x] = (a + (b - a) * sx) * (1 - sy) + (c + (d - c) * sx) * sy;
    }
  }
  return out;
}

function fractalNoise(w: number, h: number, base: number, octaves: number, rand: () => number): Float32Array {
  const out = new Float32Array(w * h);
  let amp = 1,
    total = 0;
  for (let o = 0; o < octaves; o++) {
    const n = valueNoise(w, h, base << o, rand);
    for (let i = 0; i < out.length; i++) out[i] = out[i]! + n[i]! * amp;
    total += amp;
    amp *= 0.5;
  }
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / total;
  return out;
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

function gardenBackground(w: number, h: number, rand: () => number): Float32Array {
  const out = new Float32Array(w * h * 3);
  const trees = fractalNoise(w, h, 6, 4, rand);
  const leaves = fractalNoise(w, h, 40, 2, rand);
  const grass = fractalNoise(w, h, 24, 3, rand);
  const horizon = 0.35 + rand() * 0.15;
  const lawn = 0.7 + rand() * 0.1;
  for (let y = 0; y < h; y++) {
    const v = y / h;
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      let c: Rgb = mix([120, 170, 225], [205, 225, 240], v / horizon);
      const treeTop = horizon - 0.18 * trees[i]!;
      if (v > treeTop) c = mix([40, 80, 35], [95, 140, 60], leaves[i]! * 0.8 + trees[i]! * 0.4);
      if (v > lawn + 0.03 * (trees[i]! - 0.5)) c = mix([70, 130, 45], [140, 185, 80], grass[i]!);
      out.set(c, i * 3);
    }
  }
  return out;
}

function interiorBackground(w: number, h: number, rand: () => number): Float32Array {
  const out = new Float32Array(w * h * 3);
  const wall: Rgb = mix([225, 215, 195], [190, 200, 205], rand());
  const wood: Rgb = mix([150, 105, 65], [190, 150, 105], rand());
  const grain = fractalNoise(w, h, 30, 2, rand);
  const plant = fractalNoise(w, h, 12, 3, rand);
  const floor = 0.68 + rand() * 0.08;
  const pic = { x0: 0.1 + rand() * 0.5, y0: 0.12 + rand() * 0.15, pw: 0.18 + rand() * 0.12, ph: 0.12 + rand() * 0.1 };
  const picColour: Rgb = [rand() * 200 + 30, rand() * 200 + 30, rand() * 200 + 30];
  const plantX = rand() < 0.5 ? 0.1 : 0.82;
  for (let y = 0; y < h; y++) {
    const v = y / h;
    for (let x = 0; x < w; x++) {
      const u = x / w;
      const i = y * w + x;
      let c: Rgb = mix(wall, [wall[0] * 0.8, wall[1] * 0.8, wall[2] * 0.8], u * 0.6 + v * 0.3);
      if (u > pic.x0 && u < pic.x0 + pic.pw && v > pic.y0 && v < pic.y0 + pic.ph) {
        const inner =
          u > pic.x0 + 0.015 && u < pic.x0 + pic.pw - 0.015 && v > pic.y0 + 0.02 && v < pic.y0 + pic.ph - 0.02;
        c = inner ? mix(picColour, [240, 240, 235], grain[i]! * 0.6) : [60, 45, 35];
      }
      const dx = (u - plantX) / 0.09,
        dy = (v - (floor - 0.12)) / 0.16;
      if (dx * dx + dy * dy < 0.6 + 0.6 * plant[i]!) c = mix([30, 70, 35], [90, 150, 70], plant[i]!);
      if (v > floor) {
        const plank = Math.floor((u + 0.3 * (v - floor)) * 9) % 2;
        c = mix(wood, [wood[0] * 0.75, wood[1] * 0.75, wood[2] * 0.75], grain[i]! * 0.7 + plank * 0.2);
      }
      out.set(c, i * 3);
    }
  }
  return out;
}

async function photoBackground(file: string, w: number, h: number, rand: () => number): Promise<Float32Array> {
  const meta = await sharp(file).metadata();
  const iw = meta.width ?? w,
    ih = meta.height ?? h;
  // A crop of 60–90 % of the photo at the scene's aspect, resized and defocused.
  const scale = 0.6 + rand() * 0.3;
  let cw = Math.round(iw * scale),
    ch = Math.round((cw * h) / w);
  if (ch > ih) {
    ch = Math.round(ih * scale);
    cw = Math.round((ch * w) / h);
  }
  const left = Math.floor(rand() * Math.max(1, iw - cw)),
    top = Math.floor(rand() * Math.max(1, ih - ch));
  const sigma = Math.max(0.5, Math.max(w, h) / 300);
  const raw = await sharp(file)
    .rotate()
    .extract({ left, top, width: Math.min(cw, iw - left), height: Math.min(ch, ih - top) })
    .resize(w, h, { fit: 'fill' })
    .removeAlpha()
    .toColourspace('srgb')
    .blur(sigma)
    .raw()
    .toBuffer();
  return Float32Array.from(raw);
}

/** The product being painted: premultiplied colour, α and the region map, with "over" layering. */
class Canvas {
  readonly alpha: Float32Array;
  readonly premul: Float32Array;
  readonly region: Uint8Array;
  constructor(
    readonly w: number,
    readonly h: number,
  ) {
    this.alpha = new Float32Array(w * h);
    this.premul = new Float32Array(w * h * 3);
    this.region = new Uint8Array(w * h);
  }
  /** Paints a layer with coverage `c` (0..1), opacity `a` and colour `f` over what is there. */
  put(i: number, c: number, a: number, f: Rgb, region: number): void {
    const k = Math.min(1, Math.max(0, c * a));
    if (k <= 0) return;
    this.alpha[i] = k + (1 - k) * this.alpha[i]!;
    for (let ch = 0; ch < 3; ch++) this.premul[i * 3 + ch] = k * f[ch]! + (1 - k) * this.premul[i * 3 + ch]!;
    if (c >= 0.5) this.region[i] = region;
  }
}

interface FrameStyle {
  base: Rgb;
  /** Shading across a bar: multiplier at position t (0..1 across the bar). */
  shade(t: number): number;
}

function frameStyle(rand: () => number): FrameStyle {
  const kind = rand();
  const base: Rgb = kind < 0.5 ? [168, 172, 176] : kind < 0.75 ? [236, 236, 232] : [62, 66, 71];
  const bevel = 0.12 + rand() * 0.12;
  return {
    base,
    shade: (t) => {
      // A rounded profile: lit top-left face, a highlight line, a darker inner face.
      const s = 1 + bevel * Math.cos(Math.PI * t) * 0.8;
      const line = Math.abs(t - 0.3) < 0.06 ? 1.12 : 1;
      return s * line;
    },
  };
}

/** Paints an axis-aligned bar (frame member) with profile shading across its short side. */
function bar(cv: Canvas, x0: number, y0: number, x1: number, y1: number, style: FrameStyle): void {
  const horizontal = x1 - x0 > y1 - y0;
  for (let y = Math.max(0, Math.round(y0)); y < Math.min(cv.h, Math.round(y1)); y++) {
    for (let x = Math.max(0, Math.round(x0)); x < Math.min(cv.w, Math.round(x1)); x++) {
      const t = horizontal ? (y - y0) / Math.max(1, y1 - y0) : (x - x0) / Math.max(1, x1 - x0);
      const s = style.shade(t);
      const f: Rgb = [style.base[0] * s, style.base[1] * s, style.base[2] * s];
      cv.put(y * cv.w + x, 1, 1, [Math.min(255, f[0]), Math.min(255, f[1]), Math.min(255, f[2])], REGION_OPAQUE);
    }
  }
}

interface GlassLook {
  transmission: number;
  tint: Rgb;
  reflection: Rgb;
  /** Band direction and spacing. */
  angle: number;
  period: number;
  phase: number;
  strength: number;
}

function glassLook(rand: () => number): GlassLook {
  const tints: Rgb[] = [
    [170, 215, 200],
    [185, 205, 225],
    [200, 205, 205],
    [175, 210, 215],
  ];
  return {
    transmission: 0.85 + rand() * 0.1,
    tint: tints[Math.floor(rand() * tints.length)]!,
    reflection: mix([235, 240, 245], [215, 228, 245], rand()),
    angle: 0.5 + rand() * 0.6,
    period: 0.35 + rand() * 0.3,
    phase: rand(),
    strength: 0.15 + rand() * 0.2,
  };
}

/** Paints a pane: α = 1 − T plus reflection bands, F = the tint and the reflection's light. */
function pane(cv: Canvas, x0: number, y0: number, x1: number, y1: number, look: GlassLook, scale: number): void {
  const ca = Math.cos(look.angle),
    sa = Math.sin(look.angle);
  for (let y = Math.max(0, Math.round(y0)); y < Math.min(cv.h, Math.round(y1)); y++) {
    for (let x = Math.max(0, Math.round(x0)); x < Math.min(cv.w, Math.round(x1)); x++) {
      const u = (x * ca + y * sa) / scale / look.period + look.phase;
      const f = u - Math.floor(u);
      // Soft bands: a broad one and a narrow bright one.
      const broad = Math.max(0, 1 - Math.abs(f - 0.3) / 0.14);
      const narrow = Math.max(0, 1 - Math.abs(f - 0.62) / 0.035);
      const r = look.strength * (broad * broad * (3 - 2 * broad)) * 0.7 + look.strength * narrow * 1.6;
      const a0 = 1 - look.transmission;
      const a = Math.min(0.95, a0 + r);
      const p: Rgb = [
        a0 * look.tint[0] + r * look.reflection[0],
        a0 * look.tint[1] + r * look.reflection[1],
        a0 * look.tint[2] + r * look.reflection[2],
      ];
      cv.put(
        y * cv.w + x,
        1,
        a,
        [Math.min(255, p[0] / a), Math.min(255, p[1] / a), Math.min(255, p[2] / a)],
        REGION_GLASS,
      );
    }
  }
}

function handle(cv: Canvas, cx: number, y0: number, y1: number, thick: number, rand: () => number): void {
  const steel = rand() < 0.5;
  const base: Rgb = steel ? [200, 202, 205] : [35, 35, 38];
  for (let y = Math.max(0, Math.round(y0)); y < Math.min(cv.h, Math.round(y1)); y++) {
    for (let x = Math.max(0, Math.round(cx - thick / 2)); x < Math.min(cv.w, Math.round(cx + thick / 2)); x++) {
      const t = (x - (cx - thick / 2)) / thick;
      const s = 0.75 + 0.45 * Math.sin(Math.PI * t);
      cv.put(
        y * cv.w + x,
        1,
        1,
        [Math.min(255, base[0] * s), Math.min(255, base[1] * s), Math.min(255, base[2] * s)],
        REGION_OPAQUE,
      );
    }
  }
}

/** A framed opening: outer frame of width `ft`, `cols`×`rows` panes split by mullions/rails. */
function framedPanes(
  cv: Canvas,
  box: [number, number, number, number],
  ft: number,
  cols: number,
  rows: number,
  style: FrameStyle,
  look: GlassLook,
  scale: number,
  railAt?: number[],
): void {
  const [x, y, w, h] = box;
  const mt = ft * 0.7;
  const colEdges = Array.from({ length: cols + 1 }, (_, i) => x + ft + ((w - 2 * ft) * i) / cols);
  const rowEdges = railAt
    ? [y + ft, ...railAt.map((r) => y + ft + (h - 2 * ft) * r), y + h - ft]
    : Array.from({ length: rows + 1 }, (_, i) => y + ft + ((h - 2 * ft) * i) / rows);
  for (let r = 0; r + 1 < rowEdges.length; r++) {
    for (let c = 0; c < cols; c++) {
      pane(
        cv,
        colEdges[c]! + (c > 0 ? mt / 2 : 0),
        rowEdges[r]! + (r > 0 ? mt / 2 : 0),
        colEdges[c + 1]! - (c < cols - 1 ? mt / 2 : 0),
        rowEdges[r + 1]! - (r + 2 < rowEdges.length ? mt / 2 : 0),
        look,
        scale,
      );
    }
  }
  bar(cv, x, y, x + w, y + ft, style);
  bar(cv, x, y + h - ft, x + w, y + h, style);
  bar(cv, x, y + ft, x + ft, y + h - ft, style);
  bar(cv, x + w - ft, y + ft, x + w, y + h - ft, style);
  for (let c = 1; c < cols; c++) bar(cv, colEdges[c]! - mt / 2, y + ft, colEdges[c]! + mt / 2, y + h - ft, style);
  for (let r = 1; r + 1 < rowEdges.length; r++)
    bar(cv, x + ft, rowEdges[r]! - mt / 2, x + w - ft, rowEdges[r]! + mt / 2, style);
}

function paintDoor(cv: Canvas, rand: () => number): [number, number, number, number] {
  const { w, h } = cv;
  const double = rand() < 0.5;
  const dw = Math.round(w * (double ? 0.62 + rand() * 0.12 : 0.36 + rand() * 0.12));
  const dh = Math.round(h * (0.78 + rand() * 0.1));
  const x = Math.round((w - dw) / 2 + (rand() - 0.5) * w * 0.1),
    y = Math.round(h * 0.06 + rand() * (h - dh - h * 0.08));
  const style = frameStyle(rand);
  const look = glassLook(rand);
  const ft = Math.max(3, Math.round(Math.min(dw, dh) * (0.05 + rand() * 0.03)));
  const leaves = double ? 2 : 1;
  const lw = dw / leaves;
  const rail = rand() < 0.6 ? [0.45 + rand() * 0.15] : undefined;
  for (let l = 0; l < leaves; l++) {
    const lx = x + l * lw;
    framedPanes(cv, [Math.round(lx), y, Math.round(lw), dh], ft, 1, rail ? 2 : 1, style, look, w, rail);
    const hx = double ? (l === 0 ? lx + lw - ft * 1.8 : lx + ft * 1.8) : lx + lw - ft * 1.8;
    handle(cv, hx, y + dh * 0.38, y + dh * 0.62, Math.max(2, ft * 0.45), rand);
  }
  // Kick plate at the bottom of each leaf.
  if (rand() < 0.5) bar(cv, x + ft, y + dh - ft - dh * 0.1, x + dw - ft, y + dh - ft, style);
  return [x, y, dw, dh];
}

function paintWindow(cv: Canvas, rand: () => number): [number, number, number, number] {
  const { w, h } = cv;
  const ww = Math.round(w * (0.5 + rand() * 0.3)),
    wh = Math.round(h * (0.45 + rand() * 0.3));
  const x = Math.round((w - ww) / 2 + (rand() - 0.5) * w * 0.1),
    y = Math.round((h - wh) / 2 + (rand() - 0.5) * h * 0.1);
  const style = frameStyle(rand);
  const ft = Math.max(3, Math.round(Math.min(ww, wh) * (0.05 + rand() * 0.03)));
  const cols = 1 + Math.floor(rand() * 3),
    rows = 1 + Math.floor(rand() * 2);
  framedPanes(cv, [x, y, ww, wh], ft, cols, rows, style, glassLook(rand), w);
  handle(cv, x + ww / cols - ft * 0.2, y + wh * 0.42, y + wh * 0.58, Math.max(2, ft * 0.4), rand);
  return [x, y, ww, wh];
}

function paintVitrine(cv: Canvas, rand: () => number): [number, number, number, number] {
  const { w, h } = cv;
  const vw = Math.round(w * (0.4 + rand() * 0.2)),
    vh = Math.round(h * (0.75 + rand() * 0.12));
  const x = Math.round((w - vw) / 2),
    y = Math.round((h - vh) / 2);
  const style = frameStyle(rand);
  const wood: FrameStyle = {
    base: mix([90, 60, 40], [45, 45, 50], rand()),
    shade: (t) => 1 + 0.1 * Math.sin(Math.PI * t),
  };
  const look = glassLook(rand);
  const top = Math.round(vh * 0.07),
    plinth = Math.round(vh * 0.14),
    post = Math.max(3, Math.round(vw * 0.05));
  // Inside: the object (on the lower shelf), then the shelves' front edges, then the glass front.
  const shelves = [0.36 + rand() * 0.05, 0.62 + rand() * 0.05].map((s) =>
    Math.round(y + top + (vh - top - plinth) * s),
  );
  const obj = { cx: x + vw * (0.35 + rand() * 0.3), cy: shelves[1]! - vh * 0.08, rx: vw * 0.12, ry: vh * 0.08 };
  const objColour: Rgb = [rand() * 180 + 40, rand() * 120 + 40, rand() * 180 + 40];
  pane(cv, x + post, y + top, x + vw - post, y + vh - plinth, look, w);
  for (let yy = Math.floor(obj.cy - obj.ry - 1); yy <= obj.cy + obj.ry + 1; yy++) {
    for (let xx = Math.floor(obj.cx - obj.rx - 1); xx <= obj.cx + obj.rx + 1; xx++) {
      if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
      const d = Math.hypot((xx - obj.cx) / obj.rx, (yy - obj.cy) / obj.ry);
      const c = Math.min(1, Math.max(0, (1 - d) * Math.min(obj.rx, obj.ry) + 0.5));
      const s = 0.7 + 0.4 * (1 - (xx - obj.cx + obj.rx) / (2 * obj.rx));
      cv.put(yy * w + xx, c, 1, [objColour[0] * s, objColour[1] * s, objColour[2] * s], REGION_OPAQUE);
    }
  }
  const shelfT = Math.max(2, Math.round(vh * 0.012));
  for (const sy of shelves) {
    for (let yy = sy; yy < sy + shelfT; yy++) {
      for (let xx = x + post; xx < x + vw - post; xx++) {
        cv.put(yy * w + xx, 1, 0.45, [150, 195, 180], REGION_GLASS);
      }
    }
  }
  bar(cv, x, y, x + vw, y + top, wood);
  bar(cv, x, y + vh - plinth, x + vw, y + vh, wood);
  bar(cv, x, y + top, x + post, y + vh - plinth, style);
  bar(cv, x + vw - post, y + top, x + vw, y + vh - plinth, style);
  handle(cv, x + vw - post * 2, y + vh * 0.45, y + vh * 0.55, Math.max(2, post * 0.4), rand);
  return [x, y, vw, vh];
}

function paintJar(cv: Canvas, rand: () => number): [number, number, number, number] {
  const { w, h } = cv;
  const jh = h * (0.6 + rand() * 0.15),
    jw = Math.min(w * 0.6, jh * (0.6 + rand() * 0.2));
  const cx = w / 2 + (rand() - 0.5) * w * 0.1,
    y0 = (h - jh) / 2;
  const lidH = jh * 0.14,
    neck = 0.82;
  const look = glassLook(rand);
  const bodyTop = y0 + lidH * 0.85;
  const lidColour: Rgb = rand() < 0.5 ? [200, 160, 70] : [235, 235, 235];
  // Half-width of the body at a row: a rounded shoulder under the lid, straight sides, a rounded foot.
  const halfAt = (y: number): number => {
    const t = (y - bodyTop) / (y0 + jh - bodyTop);
    if (t < 0 || t > 1) return 0;
    const shoulder = t < 0.12 ? neck + (1 - neck) * Math.sin((t / 0.12) * (Math.PI / 2)) : 1;
    const foot = t > 0.92 ? Math.sqrt(Math.max(0, 1 - ((t - 0.92) / 0.08) ** 2)) * 0.08 + 0.92 : 1;
    return (jw / 2) * shoulder * foot;
  };
  const baseH = jh * 0.06;
  for (let y = Math.floor(bodyTop); y < Math.ceil(y0 + jh) + 1 && y < h; y++) {
    const half = halfAt(y + 0.5);
    if (half <= 0) continue;
    for (let x = Math.floor(cx - half - 1); x <= Math.ceil(cx + half + 1); x++) {
      if (x < 0 || x >= w) continue;
      const c = Math.min(1, Math.max(0, half - Math.abs(x + 0.5 - cx) + 0.5));
      if (c <= 0) continue;
      const r = Math.min(1, Math.abs(x + 0.5 - cx) / half);
      // Fresnel: reflectance rises steeply towards grazing angles at the silhouette.
      const cosT = Math.sqrt(Math.max(0, 1 - r * r));
      const fres = (1 - cosT) ** 3;
      const stripe = Math.max(0, 1 - Math.abs((x + 0.5 - cx) / half + 0.45) / 0.07);
      const inBase = y > y0 + jh - baseH;
      const a0 = 1 - look.transmission;
      const rr = 0.55 * fres + 0.5 * stripe + (inBase ? 0.3 : 0);
      const a = Math.min(0.92, a0 + rr);
      const edgeTint: Rgb = [look.tint[0] * 0.6, look.tint[1] * 0.7, look.tint[2] * 0.68];
      const p: Rgb = [0, 1, 2].map(
        (k) =>
          a0 * look.tint[k]! + 0.55 * fres * edgeTint[k]! + (0.5 * stripe + (inBase ? 0.3 : 0)) * look.reflection[k]!,
      ) as Rgb;
      cv.put(
        y * w + x,
        c,
        a,
        [Math.min(255, p[0] / a), Math.min(255, p[1] / a), Math.min(255, p[2] / a)],
        REGION_GLASS,
      );
    }
  }
  // The lid: a rounded-top cylinder, shaded across.
  const lw = jw * neck * 1.06;
  for (let y = Math.floor(y0); y < Math.ceil(y0 + lidH); y++) {
    for (let x = Math.floor(cx - lw / 2 - 1); x <= Math.ceil(cx + lw / 2 + 1); x++) {
      if (x < 0 || x >= w || y < 0 || y >= h) continue;
      const dx = Math.abs(x + 0.5 - cx);
      const cornerR = lidH * 0.3;
      let inside = lw / 2 - dx + 0.5;
      if (y + 0.5 < y0 + cornerR && dx > lw / 2 - cornerR) {
        inside = cornerR - Math.hypot(dx - (lw / 2 - cornerR), y + 0.5 - (y0 + cornerR)) + 0.5;
      }
      const c = Math.min(1, Math.max(0, inside)) * Math.min(1, Math.max(0, y + 1 - y0));
      const s = 0.7 + 0.45 * Math.cos(((x + 0.5 - cx) / lw) * Math.PI);
      const ridge = Math.floor(((y - y0) / lidH) * 6) % 2 ? 0.92 : 1;
      cv.put(
        y * w + x,
        c,
        1,
        [
          Math.min(255, lidColour[0] * s * ridge),
          Math.min(255, lidColour[1] * s * ridge),
          Math.min(255, lidColour[2] * s * ridge),
        ],
        REGION_OPAQUE,
      );
    }
  }
  return [Math.round(cx - jw / 2), Math.round(y0), Math.round(jw), Math.round(jh)];
}

/** Makes a scene. Photo backdrops are read with sharp (hence async). */
export async function makeGlassScene(spec: GlassSceneSpec): Promise<GlassScene> {
  const { width: w, height: h, kind } = spec;
  const rand = seededRandom(spec.seed * 7919 + GLASS_SCENE_KINDS.indexOf(kind) * 104729 + 1);
  const backdropSeed = spec.backdropSeed ?? spec.seed;
  const bgRand = seededRandom(backdropSeed * 15485863 + 3);
  let background: Float32Array;
  let backdropName: string;
  if (spec.backdrop === 'garden') {
    background = gardenBackground(w, h, bgRand);
    backdropName = 'garden';
  } else if (spec.backdrop === 'interior') {
    background = interiorBackground(w, h, bgRand);
    backdropName = 'interior';
  } else {
    background = await photoBackground(spec.backdrop.photo, w, h, bgRand);
    backdropName = spec.backdrop.photo.replace(/^.*[\\/]/, '').replace(/\.[^.]+$/, '');
  }
  const cv = new Canvas(w, h);
  const paint = { door: paintDoor, window: paintWindow, vitrine: paintVitrine, jar: paintJar }[kind];
  const box = paint(cv, rand);
  const fg = new Float32Array(w * h * 3);
  const image = new Uint8Array(w * h * 3);
  const noise = seededRandom(backdropSeed * 2654435761 + 17);
  for (let i = 0; i < w * h; i++) {
    const a = cv.alpha[i]!;
    for (let c = 0; c < 3; c++) {
      const p = cv.premul[i * 3 + c]!;
      fg[i * 3 + c] = a > 0 ? Math.min(255, p / a) : 0;
      // Light sensor noise (±1 level), as a camera would add.
      const n = (noise() + noise() - 1) * 1.5;
      image[i * 3 + c] = Math.max(0, Math.min(255, Math.round(p + (1 - a) * background[i * 3 + c]! + n)));
    }
  }
  return {
    width: w,
    height: h,
    kind,
    backdropName,
    image,
    background,
    alpha: cv.alpha,
    fg,
    region: cv.region,
    productBox: box,
  };
}

/** The prompt box a user would draw: the product's bounding box grown by `margin` of the image's long side, clipped. */
export function promptBoxFor(
  scene: Pick<GlassScene, 'productBox' | 'width' | 'height'>,
  margin = 0.03,
): [number, number, number, number] {
  const m = Math.round(Math.max(scene.width, scene.height) * margin);
  const [x, y, w, h] = scene.productBox;
  const x0 = Math.max(0, x - m),
    y0 = Math.max(0, y - m);
  const x1 = Math.min(scene.width, x + w + m),
    y1 = Math.min(scene.height, y + h + m);
  return [x0, y0, x1 - x0, y1 - y0];
}

/** The photo as PNG bytes (lossless, so the truth holds exactly). */
export function scenePng(scene: GlassScene): Promise<Buffer> {
  return sharp(scene.image, { raw: { width: scene.width, height: scene.height, channels: 3 } })
    .png()
    .toBuffer();
}

/** Writes NAME.png (photo), NAME.alpha.png, NAME.fg.png, NAME.region.png (0/128/255) and NAME.json into `dir`. */
export async function writeGlassScene(scene: GlassScene, dir: string, name: string): Promise<void> {
  const { width, height } = scene;
  const n = width * height;
  const alpha = new Uint8Array(n),
    region = new Uint8Array(n),
    fg = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    alpha[i] = Math.round(scene.alpha[i]! * 255);
    region[i] = scene.region[i] === REGION_OPAQUE ? 255 : scene.region[i] === REGION_GLASS ? 128 : 0;
  }
  for (let i = 0; i < n * 3; i++) fg[i] = Math.round(scene.fg[i]!);
  const grey = (data: Uint8Array) => sharp(data, { raw: { width, height, channels: 1 } }).png();
  const { mkdir, writeFile } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  await Promise.all([
    sharp(scene.image, { raw: { width, height, channels: 3 } })
      .png()
      .toFile(`${dir}/${name}.png`),
    grey(alpha).toFile(`${dir}/${name}.alpha.png`),
    grey(region).toFile(`${dir}/${name}.region.png`),
    sharp(fg, { raw: { width, height, channels: 3 } })
      .png()
      .toFile(`${dir}/${name}.fg.png`),
    writeFile(
      `${dir}/${name}.json`,
      JSON.stringify(
        {
          kind: scene.kind,
          backdrop: scene.backdropName,
          width,
          height,
          productBox: scene.productBox,
          promptBox: promptBoxFor(scene),
        },
        null,
        2,
      ),
    ),
  ]);
}
