/**
 * The browser members the page tests use inside `page.evaluate`. The tests compile without the DOM
 * library (they run in Node), so the few members they touch are declared here; type-only, since a
 * function handed to `evaluate` runs in the page and can reference no module.
 */

/** An `<img>` as the tests read it. */
export interface PageImage {
  naturalWidth: number;
  naturalHeight: number;
  decode(): Promise<void>;
}

/** The page's `globalThis`. */
export interface PageGlobals {
  document: { activeElement: { blur?: () => void } | null };
  scrollTo(x: number, y: number): void;
  getComputedStyle(element: unknown): { clipPath: string };
  DataTransfer: new () => { items: { add(file: unknown): void } };
  File: new (parts: Uint8Array[], name: string, options: { type: string }) => unknown;
  fetch: typeof fetch;
  FormData: typeof FormData;
  /** What web-prompt's fetch wrapper saw in the form's `prompt` field. */
  sentPrompt?: ReturnType<FormData['get']>;
}
