/**
 * The before/after slider: the result underneath, the original on top clipped to the left of
 * the handle. Drag anywhere on the picture (mouse, pen, touch) or focus the handle and use the
 * arrow keys (Shift: bigger steps), Page Up/Down, Home and End.
 */

export class Compare {
  private pos = 50;

  constructor(
    private readonly root: HTMLElement,
    private readonly handle: HTMLElement,
  ) {
    root.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      root.setPointerCapture(e.pointerId);
      root.classList.add('dragging');
      this.fromPointer(e);
      this.handle.focus({ preventScroll: true });
      e.preventDefault();
    });
    root.addEventListener('pointermove', (e) => {
      if (root.hasPointerCapture(e.pointerId)) this.fromPointer(e);
    });
    const end = (e: PointerEvent) => {
      if (root.hasPointerCapture(e.pointerId)) root.releasePointerCapture(e.pointerId);
      root.classList.remove('dragging');
    };
    root.addEventListener('pointerup', end);
    root.addEventListener('pointercancel', end);
    handle.addEventListener('keydown', (e) => {
      const step = e.shiftKey ? 10 : 2;
      const next: Record<string, number> = {
        ArrowLeft: this.pos - step,
        ArrowDown: this.pos - step,
        ArrowRight: this.pos + step,
        ArrowUp: this.pos + step,
        PageDown: this.pos - 10,
        PageUp: this.pos + 10,
        Home: 0,
        End: 100,
      };
      const v = next[e.key];
      if (v === undefined) return;
      e.preventDefault();
      this.set(v);
    });
    this.set(50);
  }

  /** The share of the picture (0–100 %, from the left) that shows the original. */
  get value(): number {
    return this.pos;
  }

  set(percent: number): void {
    this.pos = Math.round(Math.min(100, Math.max(0, percent)) * 10) / 10;
    this.root.style.setProperty('--pos', `${this.pos}%`);
    this.handle.setAttribute('aria-valuenow', String(Math.round(this.pos)));
    this.handle.setAttribute(
      'aria-valuetext',
      `${Math.round(this.pos)}% original, ${Math.round(100 - this.pos)}% result`,
    );
  }

  private fromPointer(e: PointerEvent): void {
    const r = this.root.getBoundingClientRect();
    if (r.width > 0) this.set(((e.clientX - r.left) / r.width) * 100);
  }
}
