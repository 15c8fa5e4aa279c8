/**
 * `@vitrinealu/bg-native/client`: what a process needs to talk to a bg-native server, without the
 * native addon. Nothing under this entry point imports `native.ts` or loads a model (only option
 * *types* come from the library), so it loads on machines where the addon cannot.
 *
 *   import { createClient, brandPresets } from '@vitrinealu/bg-native/client';
 *   const bg = createClient();   // BACKGROUND_API_URL, API_TOKEN, BACKGROUND_TIMEOUT, …
 *   const job = await bg.replace({
 *     imagePath: '/media/chair.jpg',
 *     preset: 'vitrinealu',
 *     prompt: brandPresets.vitrinealu.prompts.garden,
 *     engine: 'auto',
 *     saveTo: 'out/chair.png',
 *   });
 */
export { createClient, parseRetryAfterHeader, type BackgroundClient } from './client.js';
export {
  DEFAULT_BASE_URL,
  resolveClientConfig,
  type ClientOptions,
  type ResolvedClientConfig,
  type RetryInfo,
} from './config.js';
export {
  BackgroundApiError,
  isBackgroundApiError,
  type BackgroundApiErrorInit,
  type ClientErrorCode,
} from './errors.js';
export { brandPresets, type BrandPresetName, type BrandPresets } from './brand-presets.generated.js';
export type {
  CallOptions,
  CleanupJobOptions,
  CleanupRequest,
  CompletedJob,
  EnqueueRequest,
  EnqueueResponse,
  Health,
  ImageBytes,
  ImageSource,
  Job,
  JobCallOptions,
  JobResult,
  JobStatus,
  ReplaceJobOptions,
  ReplaceRequest,
  StudioFile,
  StudioFiles,
  WaitOptions,
} from './types.js';
export type {
  CleanupMode,
  CleanupOptions,
  EngineOption,
  ImageInput,
  ModelProfileName,
  ModelVariant,
  OutputFormat,
  ReplaceOptions,
  SegmentOptions,
  SegmentationOptions,
} from '../options.js';
export type { ErrorCode } from '../errors.js';
export type { EngineFamily, ResultArtifacts, ResultMetadata } from '../result-format.js';
export { version } from '../version.js';
