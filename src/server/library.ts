/**
 * The library context of a server or worker: made once per loaded configuration, from the
 * environment it was loaded from with the configuration's own settings on top (libraryConfig()),
 * and used by everything that runs or checks a job for it — so two servers in one process keep
 * their settings apart and none writes into process.env.
 */
import { createBgNative, type BgNative } from '../context/create.js';
import { libraryConfig, type ServerConfig } from './config.js';

const libraries = new WeakMap<ServerConfig, BgNative>();

/** The context of `cfg`, made on first use; E_CONFIG naming the setting when one is unusable. */
export function serverLibrary(cfg: ServerConfig): BgNative {
  let lib = libraries.get(cfg);
  if (!lib) {
    lib = createBgNative(libraryConfig(cfg));
    libraries.set(cfg, lib);
  }
  return lib;
}

/** Releases what `cfg`'s context holds (loaded models, pixel workers); the next use makes it again. */
export async function closeServerLibrary(cfg: ServerConfig): Promise<void> {
  const lib = libraries.get(cfg);
  libraries.delete(cfg);
  await lib?.close();
}

/** The engines a server can run with its settings (GET /v1/status). */
export function serverEngines(cfg: ServerConfig): { studio: true; local: boolean; runway: boolean } {
  const settings = serverLibrary(cfg).settings;
  return { studio: true, local: Boolean(cfg.modelPath || settings.diffusion), runway: Boolean(settings.runway.apiKey) };
}
