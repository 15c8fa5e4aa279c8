/**
 * The web page: sign in with the server's token, drop photos, choose preset / prompt type /
 * engine / seed, follow each job's progress (polling /v1/jobs/:id), compare before and after,
 * look at the mask, download. Several photos form a grid; the selected one fills the viewer.
 * Settings live in the address (#preset=…&promptType=…&engine=…&seed=…) so a look can be shared.
 */
import { api, ApiError, token, type Health, type JobResult, type JobView, type PresetInfo } from './api.js';
import { Compare } from './compare.js';
import { PromptMarks, promptField, type Marks } from './prompt-marks.js';

// ---- small DOM helpers ----------------------------------------------------------------------------

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
}

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string>> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) if (v !== undefined) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

const show = (el: HTMLElement, on: boolean) => {
  el.hidden = !on;
};

// ---- words ----------------------------------------------------------------------------------------

const STAGES: Record<string, string> = {
  input: 'Reading the photo',
  segment: 'Finding the product',
  generate: 'Making the new background',
  compose: 'Putting it together',
  done: 'Saving the result',
};

const ENGINES: { value: string; label: string; needs?: keyof Health['engines']; missing?: string }[] = [
  { value: '', label: "Automatic (the server's choice)" },
  { value: 'studio', label: 'Studio backdrop (instant)', needs: 'studio' },
  {
    value: 'local',
    label: 'Generated scene, on this server',
    needs: 'local',
    missing: 'no diffusion model configured',
  },
  { value: 'runway', label: 'Generated scene, Runway', needs: 'runway', missing: 'no Runway key configured' },
];

const IMAGE_EXT = /\.(jpe?g|png|webp|avif|heic|heif|tiff?|gif)$/i;

function isPhoto(file: File): boolean {
  return file.type.startsWith('image/') || (file.type === '' && IMAGE_EXT.test(file.name));
}

function notAPhoto(name: string): string {
  return `“${name}” is not a photo. Choose JPEG, PNG, WebP, AVIF, HEIC, TIFF or GIF files.`;
}

/** A job's error in plain words (the server's own message stays available as the detail). */
function jobErrorText(name: string, err: { code: string; message: string }): string {
  switch (err.code) {
    case 'E_BAD_INPUT':
      if (/not an image|empty|decode|corrupt|unsupported/i.test(err.message))
        return `The server could not read “${name}” as a photo. Is it a real JPEG, PNG or WebP image?`;
      return err.message;
    case 'E_IMAGE_TOO_LARGE':
      return `“${name}” has more pixels than this server accepts. Use a smaller photo.`;
    case 'E_NO_SUBJECT':
      return `No product was found in “${name}”. Try a photo where the product stands out from its background.`;
    case 'E_CANCELLED':
      return 'Cancelled.';
    case 'E_TIMEOUT':
      return `“${name}” took too long and was stopped. Try again, or choose the studio engine.`;
    default:
      return err.message;
  }
}

function baseName(file: string): string {
  return (
    file
      .replace(/\.[^.]+$/, '')
      .replace(/[^\w.-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'photo'
  );
}

function formatMs(ms: number | undefined): string {
  if (ms === undefined) return '';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

// ---- state ----------------------------------------------------------------------------------------

type Status = 'ready' | 'uploading' | 'queued' | 'running' | 'done' | 'failed';

interface Item {
  id: number;
  file: File;
  beforeUrl: string;
  status: Status;
  progress: number;
  stage?: string;
  jobId?: string;
  result?: JobResult;
  afterUrl?: string;
  maskUrl?: string;
  /** The latest step preview while the job runs (an object URL). */
  previewUrl?: string;
  error?: string;
  errorDetail?: string;
  /** Box and points the user marked on the photo: where the product is (sent as `prompt`). */
  marks?: Marks;
  /** Bumped on each run so a stale poll of an earlier run does not write over a new one. */
  run: number;
  card: HTMLButtonElement;
}

const state = {
  presets: [] as PresetInfo[],
  health: undefined as Health | undefined,
  items: [] as Item[],
  selected: undefined as Item | undefined,
  view: 'compare' as 'compare' | 'result' | 'mask',
  nextId: 1,
};

// ---- elements -------------------------------------------------------------------------------------

const el = {
  gate: $('gate'),
  tokenForm: $<HTMLFormElement>('token-form'),
  tokenInput: $<HTMLInputElement>('token'),
  remember: $<HTMLInputElement>('remember'),
  tokenError: $('token-error'),
  app: $('app'),
  serverStatus: $('server-status'),
  serverText: $('server-text'),
  signOut: $<HTMLButtonElement>('sign-out'),
  drop: $('drop'),
  files: $<HTMLInputElement>('files'),
  preset: $<HTMLSelectElement>('preset'),
  presetDesc: $('preset-desc'),
  promptRow: $('prompt-row'),
  promptType: $<HTMLSelectElement>('prompt-type'),
  engine: $<HTMLSelectElement>('engine'),
  seed: $<HTMLInputElement>('seed'),
  seedDice: $<HTMLButtonElement>('seed-dice'),
  run: $<HTMLButtonElement>('run'),
  clear: $<HTMLButtonElement>('clear'),
  message: $('message'),
  empty: $('empty'),
  emptyPick: $<HTMLButtonElement>('empty-pick'),
  viewer: $('viewer'),
  viewerTitle: $('viewer-title'),
  tabs: [...document.querySelectorAll<HTMLButtonElement>('button[role="tab"][data-view]')],
  frame: $('frame'),
  compare: $('compare'),
  handle: $('handle'),
  beforeImg: $<HTMLImageElement>('before-img'),
  marks: $('marks'),
  marksBar: $('marks-bar'),
  marksClear: $<HTMLButtonElement>('marks-clear'),
  afterImg: $<HTMLImageElement>('after-img'),
  maskImg: $<HTMLImageElement>('mask-img'),
  working: $('working'),
  workingStage: $('working-stage'),
  workingSpinner: $('working-spinner'),
  workingPreview: $<HTMLImageElement>('working-preview'),
  workingBar: $('working-bar'),
  workingPct: $('working-pct'),
  cancel: $<HTMLButtonElement>('cancel'),
  failed: $('failed'),
  failedText: $('failed-text'),
  failedDetail: $('failed-detail'),
  meta: $('meta'),
  foot: $('viewer-foot'),
  downloads: $('downloads'),
  dlResult: $<HTMLAnchorElement>('dl-result'),
  dlMask: $<HTMLAnchorElement>('dl-mask'),
  grid: $('grid'),
  gridCount: $('grid-count'),
  gridItems: $('grid-items'),
};

// The before/after slider: its handlers are wired to the page and need nothing else from here.
new Compare(el.compare, el.handle);
const marks = new PromptMarks(el.marks, (m) => {
  if (state.selected) state.selected.marks = m;
  show(el.marksClear, true);
});

/** The selected photo's marks, once its original is shown (its pixel size is known then). */
function showMarks(): void {
  const item = state.selected;
  if (!item || !el.beforeImg.naturalWidth || el.beforeImg.getAttribute('src') !== item.beforeUrl) return;
  marks.show(item.marks ?? {}, el.beforeImg.naturalWidth, el.beforeImg.naturalHeight);
  show(el.marksClear, Boolean(item.marks?.box || item.marks?.points?.length));
}
el.marksClear.addEventListener('click', () => {
  if (state.selected) delete state.selected.marks;
  showMarks();
});

// ---- messages -------------------------------------------------------------------------------------

function say(text: string | undefined, detail?: string, action?: { label: string; run: () => void }): void {
  el.message.replaceChildren();
  if (!text) {
    show(el.message, false);
    return;
  }
  el.message.append(h('p', {}, text));
  if (detail && detail !== text) el.message.append(h('p', { class: 'detail' }, detail));
  if (action) {
    const b = h('button', { type: 'button', class: 'secondary small' }, action.label);
    b.addEventListener('click', action.run);
    el.message.append(b);
  }
  show(el.message, true);
}

function setServer(kind: 'ok' | 'down' | 'pending', text: string): void {
  el.serverStatus.dataset.state = kind;
  el.serverText.textContent = text;
}

/** What every failure of a call does: offline → status pill, 401 → back to the token form. */
function handleFailure(err: unknown): ApiError {
  const e =
    err instanceof ApiError
      ? err
      : new ApiError('server', `Something went wrong in this page: ${(err as Error).message}`);
  if (e.kind === 'offline') setServer('down', 'Server unreachable');
  if (e.kind === 'unauthorized') openGate(e.message);
  return e;
}

// ---- sign in ----------------------------------------------------------------------------------------

function openGate(error?: string): void {
  show(el.app, false);
  show(el.gate, true);
  show(el.signOut, false);
  setServer('pending', 'Not signed in');
  el.tokenError.textContent = error ?? '';
  show(el.tokenError, Boolean(error));
  el.tokenInput.focus();
}

el.tokenForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const value = el.tokenInput.value.trim();
  if (!value) return;
  void connect(value, el.remember.checked);
});

el.signOut.addEventListener('click', () => {
  token.clear();
  el.tokenInput.value = '';
  openGate();
});

async function connect(candidate?: string, remember = false): Promise<void> {
  setServer('pending', 'Connecting…');
  try {
    const health = await api.health(candidate);
    if (candidate) token.set(candidate, remember);
    state.health = health;
    state.presets = await api.presets();
  } catch (err) {
    const e = err instanceof ApiError ? err : undefined;
    if (e?.kind === 'unauthorized' || !token.get()) {
      token.clear();
      openGate(e?.message ?? (err as Error).message);
      if (e?.kind === 'offline') setServer('down', 'Server unreachable');
      return;
    }
    handleFailure(err);
    showApp();
    renderLayout();
    updateRun();
    say(e?.message ?? (err as Error).message, undefined, { label: 'Try again', run: () => void connect() });
    return;
  }
  showApp();
  fillSettings();
  const engine = state.health!.engines;
  setServer('ok', `Connected · v${state.health!.version}${engine.local ? ' · diffusion ready' : ''}`);
  say(undefined);
  applyHash();
  updateRun();
}

function showApp(): void {
  show(el.gate, false);
  show(el.app, true);
  show(el.signOut, true);
}

// ---- settings ---------------------------------------------------------------------------------------

function fillSettings(): void {
  const keep = el.preset.value;
  el.preset.replaceChildren(...state.presets.map((p) => h('option', { value: p.name }, p.name)));
  el.preset.value = state.presets.some((p) => p.name === keep)
    ? keep
    : (state.presets.find((p) => p.name === 'product-studio')?.name ?? state.presets[0]?.name ?? '');
  const engines = state.health?.engines;
  el.engine.replaceChildren(
    ...ENGINES.map((e) => {
      const available = !e.needs || !engines || engines[e.needs];
      const o = h('option', { value: e.value }, available ? e.label : `${e.label} — ${e.missing ?? 'not available'}`);
      o.disabled = !available;
      return o;
    }),
  );
  onPresetChange();
}

function currentPreset(): PresetInfo | undefined {
  return state.presets.find((p) => p.name === el.preset.value);
}

function onPresetChange(): void {
  const p = currentPreset();
  el.presetDesc.textContent = p?.description ?? '';
  const types = p?.promptTypes ?? [];
  el.promptType.replaceChildren(...types.map((t) => h('option', { value: t }, t)));
  if (p?.defaultPromptType) el.promptType.value = p.defaultPromptType;
  show(el.promptRow, types.length > 0);
}

function seedValue(): number | undefined | 'bad' {
  const t = el.seed.value.trim();
  if (t === '') return undefined;
  if (!/^\d{1,15}$/.test(t)) return 'bad';
  return Number(t);
}

function settingsFields(): Record<string, string> {
  const f: Record<string, string> = { preset: el.preset.value };
  if (!el.promptRow.hidden && el.promptType.value) f.promptType = el.promptType.value;
  if (el.engine.value) f.engine = el.engine.value;
  const s = seedValue();
  if (typeof s === 'number') f.seed = String(s);
  return f;
}

function writeHash(): void {
  const f = settingsFields();
  const q = new URLSearchParams(f);
  history.replaceState(null, '', `#${q.toString()}`);
}

/** Applies #preset=…&promptType=…&engine=…&seed=… (a shared link); names what it cannot apply. */
function applyHash(): void {
  const q = new URLSearchParams(location.hash.slice(1));
  const problems: string[] = [];
  const preset = q.get('preset');
  if (preset !== null) {
    if (state.presets.some((p) => p.name === preset)) {
      el.preset.value = preset;
      onPresetChange();
    } else {
      problems.push(
        `This server has no preset “${preset}”, so ${el.preset.value} is selected. Available presets: ` +
          `${state.presets.map((p) => p.name).join(', ')}.`,
      );
    }
  }
  const pt = q.get('promptType');
  if (pt !== null && !el.promptRow.hidden) {
    if (currentPreset()?.promptTypes.includes(pt)) el.promptType.value = pt;
    else problems.push(`The preset ${el.preset.value} has no prompt type “${pt}”.`);
  }
  const engine = q.get('engine');
  if (engine !== null) {
    const o = [...el.engine.options].find((x) => x.value === engine);
    if (o && !o.disabled) el.engine.value = engine;
    else problems.push(`The engine “${engine}” is not available on this server; the server will choose.`);
  }
  const seed = q.get('seed');
  if (seed !== null) el.seed.value = seed;
  if (problems.length) say(problems.join(' '));
}

el.preset.addEventListener('change', () => {
  onPresetChange();
  writeHash();
});
for (const input of [el.promptType, el.engine]) input.addEventListener('change', writeHash);
el.seed.addEventListener('input', () => {
  el.seed.setCustomValidity(
    seedValue() === 'bad' ? 'A seed is a whole number (0 to 999999999999999), or empty for a random one.' : '',
  );
  writeHash();
  updateRun();
});
el.seedDice.addEventListener('click', () => {
  el.seed.value = String(Math.floor(Math.random() * 2 ** 31));
  el.seed.setCustomValidity('');
  writeHash();
  updateRun();
});

// ---- photos -----------------------------------------------------------------------------------------

function addFiles(list: FileList | File[]): void {
  const files = [...list];
  const rejected = files.filter((f) => !isPhoto(f));
  const photos = files.filter(isPhoto);
  if (rejected.length === 1) say(notAPhoto(rejected[0]!.name));
  else if (rejected.length > 1)
    say(
      `${rejected.length} files are not photos (${rejected.map((f) => `“${f.name}”`).join(', ')}). Choose ` +
        'JPEG, PNG, WebP, AVIF, HEIC, TIFF or GIF files.',
    );
  else say(undefined);
  for (const file of photos) {
    const item: Item = {
      id: state.nextId++,
      file,
      beforeUrl: URL.createObjectURL(file),
      status: 'ready',
      progress: 0,
      run: 0,
      card: h('button', { type: 'button', class: 'card' }),
    };
    item.card.addEventListener('click', () => select(item));
    state.items.push(item);
    el.gridItems.append(item.card);
    renderCard(item);
  }
  if (photos.length)
    select(photos.length === 1 || !state.selected ? state.items[state.items.length - photos.length]! : state.selected);
  renderLayout();
  updateRun();
}

el.files.addEventListener('change', () => {
  if (el.files.files) addFiles(el.files.files);
  el.files.value = '';
});
el.emptyPick.addEventListener('click', () => el.files.click());

let dragDepth = 0;
document.addEventListener('dragenter', (e) => {
  if (!e.dataTransfer?.types.includes('Files') || el.app.hidden) return;
  dragDepth++;
  document.body.classList.add('dropping');
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) document.body.classList.remove('dropping');
});
document.addEventListener('dragover', (e) => {
  if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
});
document.addEventListener('drop', (e) => {
  e.preventDefault();
  dragDepth = 0;
  document.body.classList.remove('dropping');
  if (!el.app.hidden && e.dataTransfer?.files.length) addFiles(e.dataTransfer.files);
});

el.clear.addEventListener('click', () => {
  for (const item of state.items) {
    if (item.jobId && (item.status === 'queued' || item.status === 'running'))
      void api.cancel(item.jobId).catch(() => undefined);
    for (const u of [item.beforeUrl, item.afterUrl, item.maskUrl]) if (u) URL.revokeObjectURL(u);
    item.run++;
  }
  state.items = [];
  state.selected = undefined;
  el.gridItems.replaceChildren();
  say(undefined);
  renderLayout();
  updateRun();
});

// ---- running ----------------------------------------------------------------------------------------

const busy = (i: Item) => i.status === 'uploading' || i.status === 'queued' || i.status === 'running';

function updateRun(): void {
  const n = state.items.length;
  const running = state.items.filter(busy).length;
  el.run.disabled = n === 0 || running > 0 || seedValue() === 'bad' || state.presets.length === 0;
  el.run.textContent = running
    ? `Working on ${running} photo${running > 1 ? 's' : ''}…`
    : n > 1
      ? `Replace ${n} backgrounds`
      : 'Replace background';
  show(el.clear, n > 0);
}

el.run.addEventListener('click', () => void runAll());

async function runAll(): Promise<void> {
  say(undefined);
  offline = undefined;
  const fields = settingsFields();
  const queue = [...state.items];
  for (const item of queue) {
    item.status = 'uploading';
    item.progress = 0;
    item.error = item.errorDetail = undefined;
    delete item.stage;
    if (item.previewUrl) URL.revokeObjectURL(item.previewUrl);
    delete item.previewUrl;
    item.run++;
    renderCard(item);
  }
  renderSelected();
  updateRun();
  // Two uploads at a time: the server's queue takes it from there.
  const workers = Array.from({ length: Math.min(2, queue.length) }, async () => {
    for (let item = queue.shift(); item; item = queue.shift()) await runOne(item, fields, item.run);
  });
  await Promise.all(workers);
  updateRun();
  const lost = offline as ApiError | undefined; // set by runOne while awaited
  if (lost) return say(lost.message, undefined, { label: 'Try again', run: () => void runAll() });
  const failed = state.items.filter((i) => i.status === 'failed');
  if (failed.length > 1) say(`${failed.length} of ${state.items.length} photos failed; select one to see why.`);
}

/** The last "server unreachable" error of a run: said once for the whole batch. */
let offline: ApiError | undefined;

function update(item: Item, run: number, patch: Partial<Item>): boolean {
  if (item.run !== run) return false;
  Object.assign(item, patch);
  renderCard(item);
  if (state.selected === item) renderSelected();
  else renderLayout();
  return true;
}

/** Replaces the item's step preview (undefined: none), releasing the previous one. */
function setPreview(item: Item, run: number, url: string | undefined): void {
  if (item.run !== run) {
    if (url) URL.revokeObjectURL(url);
    return;
  }
  const old = item.previewUrl;
  update(item, run, { previewUrl: url });
  if (old) URL.revokeObjectURL(old);
}

async function runOne(item: Item, fields: Record<string, string>, run: number): Promise<void> {
  const fail = (e: ApiError | { message: string; detail?: string }) => {
    setPreview(item, run, undefined);
    update(item, run, { status: 'failed', error: e.message, errorDetail: e.detail });
    if (state.items.length === 1 || state.selected === item) say(undefined);
  };
  try {
    // Every step of the local engine sends a small preview, shown while the job runs.
    const prompt = promptField(item.marks);
    let job: JobView = await api.replace(item.file, { ...fields, previewEvery: '1', ...(prompt ? { prompt } : {}) });
    if (!update(item, run, { jobId: job.jobId })) return;
    let previewAt: number | undefined;
    while (job.status === 'queued' || job.status === 'running') {
      if (
        !update(item, run, { status: job.status, progress: job.progress, ...(job.stage ? { stage: job.stage } : {}) })
      )
        return;
      if (job.previewUrl && job.progress !== previewAt) {
        const blob = await api.preview(job.previewUrl).catch(() => undefined);
        if (item.run !== run) return;
        if (blob) {
          previewAt = job.progress;
          setPreview(item, run, URL.createObjectURL(blob));
        }
      }
      await new Promise((r) => setTimeout(r, 400));
      if (item.run !== run) return;
      job = await api.job(job.jobId);
    }
    setPreview(item, run, undefined);
    if (job.status === 'succeeded' && job.result) {
      const [out, mask] = await Promise.all([api.file(job.result.outputUrl), api.file(job.result.maskUrl)]);
      if (item.run !== run) return;
      for (const u of [item.afterUrl, item.maskUrl]) if (u) URL.revokeObjectURL(u);
      update(item, run, {
        status: 'done',
        progress: 1,
        result: job.result,
        afterUrl: URL.createObjectURL(out),
        maskUrl: URL.createObjectURL(mask),
      });
      return;
    }
    const err = job.error ?? { code: 'E_INTERNAL', message: 'The job failed.' };
    fail({ message: jobErrorText(item.file.name, err), detail: `${err.code}: ${err.message}` });
  } catch (err) {
    const e = handleFailure(err);
    if (e.kind === 'rejected' && e.code)
      fail({
        message: jobErrorText(item.file.name, { code: e.code, message: e.message }),
        detail: `${e.code}: ${e.detail ?? e.message}`,
      });
    else if (e.kind === 'offline')
      fail({ message: 'Not finished: the server could not be reached.', detail: e.message });
    else fail(e);
    if (e.kind === 'offline' && item.run === run) {
      offline = e;
      say(e.message);
    }
  }
}

el.cancel.addEventListener('click', () => {
  const item = state.selected;
  if (!item?.jobId || !busy(item)) return;
  void api.cancel(item.jobId).catch((err) => say(handleFailure(err).message));
});

// ---- rendering --------------------------------------------------------------------------------------

function statusLine(item: Item): string {
  switch (item.status) {
    case 'ready':
      return 'Ready';
    case 'uploading':
      return 'Uploading…';
    case 'queued':
      return 'Waiting for the server…';
    case 'running':
      return `${STAGES[item.stage ?? ''] ?? 'Working'} · ${Math.round(item.progress * 100)}%`;
    case 'done': {
      const ms = item.result?.metrics?.elapsed_ms;
      return ms !== undefined ? `Done in ${formatMs(ms)}` : 'Done';
    }
    case 'failed':
      return item.error === 'Cancelled.' ? 'Cancelled' : 'Failed';
  }
}

function renderCard(item: Item): void {
  const c = item.card;
  c.dataset.status = item.status;
  c.setAttribute('aria-pressed', String(state.selected === item));
  c.setAttribute('aria-label', `${item.file.name}: ${statusLine(item)}`);
  const img = h('img', { src: item.afterUrl ?? item.beforeUrl, alt: '' });
  img.addEventListener('error', () => img.replaceWith(h('span', { class: 'no-preview' }, 'No preview')));
  const bar = h('span', { class: 'bar' }, h('span', { class: 'bar-fill' }));
  (bar.firstChild as HTMLElement).style.setProperty(
    '--p',
    `${Math.round((item.status === 'done' ? 1 : item.progress) * 100)}%`,
  );
  c.replaceChildren(
    h('span', { class: 'thumb' }, img),
    h(
      'span',
      { class: 'card-text' },
      h('span', { class: 'card-name' }, item.file.name),
      h('span', { class: 'card-status' }, statusLine(item)),
    ),
    bar,
  );
}

function select(item: Item | undefined): void {
  const prev = state.selected;
  state.selected = item;
  if (prev) renderCard(prev);
  if (item) renderCard(item);
  renderSelected();
}

function renderLayout(): void {
  const n = state.items.length;
  show(el.empty, n === 0);
  show(el.viewer, n > 0);
  show(el.grid, n > 1);
  el.gridCount.textContent = `${n} photos · ${state.items.filter((i) => i.status === 'done').length} done`;
  el.drop.classList.toggle('compact', n > 0);
}

function setView(view: typeof state.view): void {
  state.view = view;
  for (const t of el.tabs) t.setAttribute('aria-selected', String(t.dataset.view === view));
  renderSelected();
}
for (const t of el.tabs) t.addEventListener('click', () => setView(t.dataset.view as typeof state.view));

function setRatio(w: number, h: number): void {
  if (!(w > 0 && h > 0)) return;
  el.compare.style.setProperty('--rw', String(w));
  el.compare.style.setProperty('--rh', String(h));
}
el.beforeImg.addEventListener('load', () => {
  el.compare.classList.remove('no-image');
  if (!state.selected?.result) setRatio(el.beforeImg.naturalWidth, el.beforeImg.naturalHeight);
  showMarks();
});
// A file the browser cannot show (HEIC in some browsers, or not an image at all): no broken-image icon.
el.beforeImg.addEventListener('error', () => el.compare.classList.add('no-image'));

function renderSelected(): void {
  renderLayout();
  const item = state.selected;
  if (!item) return;
  el.viewerTitle.textContent = item.file.name;
  const done = item.status === 'done' && item.afterUrl;
  el.frame.dataset.view = done ? state.view : 'before';
  el.frame.dataset.status = item.status;
  if (el.beforeImg.getAttribute('src') !== item.beforeUrl) el.beforeImg.src = item.beforeUrl;
  if (done && el.afterImg.getAttribute('src') !== item.afterUrl) el.afterImg.src = item.afterUrl!;
  if (item.maskUrl && el.maskImg.getAttribute('src') !== item.maskUrl) el.maskImg.src = item.maskUrl;
  if (item.result) setRatio(item.result.width, item.result.height);
  for (const t of el.tabs) t.disabled = !done;
  // Marks are drawn on the original before a run (and after a failed one).
  show(el.marksBar, !done && !busy(item));
  showMarks();

  show(el.working, busy(item));
  // The background as it forms replaces the spinner while the local engine sends previews.
  const preview = busy(item) ? item.previewUrl : undefined;
  show(el.workingPreview, Boolean(preview));
  show(el.workingSpinner, !preview);
  if (preview && el.workingPreview.getAttribute('src') !== preview) el.workingPreview.src = preview;
  if (!preview && el.workingPreview.hasAttribute('src')) el.workingPreview.removeAttribute('src');
  const pct = item.status === 'uploading' ? 0 : Math.round(item.progress * 100);
  el.workingStage.textContent = item.status === 'running' ? (STAGES[item.stage ?? ''] ?? 'Working') : statusLine(item);
  el.workingPct.textContent = item.status === 'running' ? `${pct}%` : '';
  el.workingBar.style.setProperty('--p', `${pct}%`);
  el.workingBar.setAttribute('aria-valuenow', String(pct));
  show(el.cancel, Boolean(item.jobId) && (item.status === 'queued' || item.status === 'running'));

  show(el.failed, item.status === 'failed');
  el.failedText.textContent = item.error ?? '';
  el.failedDetail.textContent = item.errorDetail && item.errorDetail !== item.error ? item.errorDetail : '';

  show(el.downloads, Boolean(done));
  show(el.foot, Boolean(done));
  el.meta.replaceChildren();
  if (done && item.result) {
    const r = item.result;
    const ext = r.format === 'jpeg' ? 'jpg' : r.format;
    const look = [r.preset, r.promptType].filter(Boolean).join('-') || 'result';
    el.dlResult.href = item.afterUrl!;
    el.dlResult.download = `${baseName(item.file.name)}-${look}.${ext}`;
    el.dlMask.href = item.maskUrl!;
    el.dlMask.download = `${baseName(item.file.name)}-mask.png`;
    const row = (k: string, v: string | Node) => el.meta.append(h('div', {}, h('dt', {}, k), h('dd', {}, v)));
    row('Preset', [r.preset, r.promptType].filter(Boolean).join(' · '));
    row('Engine', r.engine ?? '');
    if (r.seed !== undefined) {
      const reuse = h(
        'button',
        { type: 'button', class: 'link', title: 'Use this seed for the next run' },
        String(r.seed),
      );
      reuse.addEventListener('click', () => {
        el.seed.value = String(r.seed);
        el.seed.dispatchEvent(new Event('input'));
      });
      row('Seed', reuse);
    }
    row('Size', `${r.width} × ${r.height}`);
    if (r.metrics?.elapsed_ms !== undefined) row('Time', formatMs(r.metrics.elapsed_ms));
    if (r.engineReason && r.engine !== el.engine.value && el.engine.value !== '')
      el.meta.append(h('p', { class: 'note' }, r.engineReason));
  }
}

// ---- start ------------------------------------------------------------------------------------------

window.addEventListener('hashchange', () => {
  if (state.presets.length) applyHash();
});

document.body.classList.add('ready');
if (token.get()) void connect();
else openGate();
