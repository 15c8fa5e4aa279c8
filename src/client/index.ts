/**
 * `@vitrinealu/bg-native/client`: what a process needs to talk to a bg-native server, without the
 * native addon. This entry point imports only option types and constants — never `native.ts` —
 * so it loads on machines where the addon cannot. The HTTP client itself arrives with the server.
 */
export type {
  CleanupMode,
  CleanupOptions,
  ImageInput,
  ModelProfileName,
  ModelVariant,
  OutputFormat,
  SegmentOptions,
  SegmentationOptions,
} from '../options.js';
export type { ErrorCode } from '../errors.js';
export { version } from '../version.js';
