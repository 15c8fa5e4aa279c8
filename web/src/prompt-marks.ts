/**
 * Marks on the original photo that tell the server where the product is: drag a box around it,
 * click to add a point on it, Alt-click (or right-click) for a point that is not the product.
 * Coordinates are the photo's own pixels; the marks are drawn in an SVG over the picture. Works
 * only while the original is shown (before a run); the slider is left alone meanwhile.
 */

export interface PromptPoint {
  x: number;
  y: number;
  label: 0 | 1;
}

export interface Marks {
  box?: [number, number, number, number];
  points?: PromptPoint[];
}

const SVG = 'http://www.w3.org/2000/svg';
/** A press that moves less than this (CSS px) is a click: a point, not a box. */
const CLICK_PX = 5;

export class PromptMarks {
  private marks: Marks = {};
  private size: [number, number] = [0, 0];
  private start: { x: number; y: number; px: number; py: number } | undefined;
  private readonly svg: SVGSVGElement;

  constructor(
    private readonly layer: HTMLElement,
    /** Called when the user changes the marks (to store them with the photo). */
    private readonly onChange: (marks: Marks) => void,
  ) {
    this.svg = document.createElementNS(SVG, 'svg');
    this.svg.setAttribute('preserveAspectRatio', 'none');
    this.svg.setAttribute('aria-hidden', 'true');
    layer.append(this.svg);
    layer.addEventListener('contextmenu', (e) => e.preventDefault());
    // Clicks stay here: the frame around the picture reacts to clicks of its own.
    layer.addEventListener('click', (e) => e.stopPropagation());
    layer.addEventListener('pointerdown', (e) => {
      // The slider underneath must not move while marking.
      e.stopPropagation();
      e.preventDefault();
      if (!this.size[0]) return;
      layer.setPointerCapture(e.pointerId);
      const [x, y] = this.toPhoto(e);
      this.start = { x, y, px: e.clientX, py: e.clientY };
    });
    layer.addEventListener('pointermove', (e) => {
      if (!this.start || !layer.hasPointerCapture(e.pointerId)) return;
      if (Math.hypot(e.clientX - this.start.px, e.clientY - this.start.py) < CLICK_PX) return;
      this.marks = { ...this.marks, box: this.boxTo(e) };
      this.draw();
    });
    const end = (e: PointerEvent) => {
      if (!this.start) return;
      if (layer.hasPointerCapture(e.pointerId)) layer.releasePointerCapture(e.pointerId);
      const moved = Math.hypot(e.clientX - this.start.px, e.clientY - this.start.py) >= CLICK_PX;
      if (moved) this.marks = { ...this.marks, box: this.boxTo(e) };
      else {
        const label: 0 | 1 = e.altKey || e.button === 2 ? 0 : 1;
        const point = { x: this.start.x, y: this.start.y, label };
        this.marks = { ...this.marks, points: [...(this.marks.points ?? []), point] };
      }
      this.start = undefined;
      this.draw();
      this.onChange(this.marks);
    };
    layer.addEventListener('pointerup', end);
    layer.addEventListener('pointercancel', () => (this.start = undefined));
  }

  /** Shows the marks of a photo of `width`×`height` pixels. */
  show(marks: Marks, width: number, height: number): void {
    this.marks = marks;
    this.size = [width, height];
    this.svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    this.draw();
  }

  private toPhoto(e: PointerEvent): [number, number] {
    const r = this.layer.getBoundingClientRect();
    const [w, h] = this.size;
    const x = Math.min(w - 1, Math.max(0, ((e.clientX - r.left) / r.width) * w));
    const y = Math.min(h - 1, Math.max(0, ((e.clientY - r.top) / r.height) * h));
    return [Math.round(x), Math.round(y)];
  }

  private boxTo(e: PointerEvent): [number, number, number, number] {
    const [x, y] = this.toPhoto(e);
    const s = this.start!;
    const x0 = Math.min(s.x, x),
      y0 = Math.min(s.y, y);
    return [x0, y0, Math.max(1, Math.abs(x - s.x)), Math.max(1, Math.abs(y - s.y))];
  }

  private draw(): void {
    this.svg.replaceChildren();
    const unit = Math.max(this.size[0], this.size[1]) / 200;
    const b = this.marks.box;
    if (b) {
      const rect = document.createElementNS(SVG, 'rect');
      const attrs = { x: b[0], y: b[1], width: b[2], height: b[3] };
      for (const [k, v] of Object.entries(attrs)) rect.setAttribute(k, String(v));
      rect.setAttribute('class', 'mark-box');
      rect.setAttribute('stroke-width', String(unit * 0.8));
      this.svg.append(rect);
    }
    for (const p of this.marks.points ?? []) {
      const c = document.createElementNS(SVG, 'circle');
      c.setAttribute('cx', String(p.x));
      c.setAttribute('cy', String(p.y));
      c.setAttribute('r', String(unit * 2.2));
      c.setAttribute('stroke-width', String(unit * 0.6));
      c.setAttribute('class', p.label ? 'mark-point' : 'mark-point negative');
      this.svg.append(c);
    }
  }
}

/** The marks as the `prompt` form field (undefined when there are none). */
export function promptField(marks: Marks | undefined): string | undefined {
  if (!marks || (!marks.box && !marks.points?.length)) return undefined;
  const points = marks.points?.length ? { points: marks.points } : {};
  return JSON.stringify({ ...(marks.box ? { box: marks.box } : {}), ...points });
}
