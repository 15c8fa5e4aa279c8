/**
 * @vitrinealu/bg-native — offline background removal and replacement for Node.js.
 */
export {
  cleanup,
  clearDiffusionModels,
  clearPresetCache,
  DiffusionModel,
  getPreset,
  hubCacheDir,
  cacheDir,
  listPresets,
  replaceBackground,
  resetDefaultContext,
  resolveHubModel,
  resolveModel,
  segment,
} from './context/default.js';
export {
  createBgNative,
  fromEnv,
  type BgNative,
  type BgNativeConfig,
  type BgNativeSettings,
  type DefaultDevice,
  type Environment,
  type HubConfig,
  type RunwayConfig,
} from './context/index.js';
export type { SegmentResult, ModelInfo } from './pipeline/segment.js';
export type { CleanupResult, CleanupArtifacts } from './pipeline/cleanup.js';
export type { ReplaceResult, ReplaceArtifacts } from './pipeline/replace.js';
export { DEFAULT_PRESET } from './pipeline/replace-settings.js';
export { closeComposePool } from './workers/pixel-pool.js';
export type { Generator, GeneratorName, GenerateRequest, GeneratedBackground } from './engines/generator.js';
export type { SkippedEngine } from './engines/policy.js';
export type { Metrics } from './pipeline/timer.js';
export { backends, type BackendInfo } from './native.js';
export type {
  DiffusionModelLoader,
  DiffusionModelLoadOptions,
  DiffusionGenerateParams,
  DiffusionImage,
  DiffusionLoadOptions,
  DiffusionPrecision,
  DiffusionProgress,
  DiffusionRunOptions,
  NativeDiffusionModel,
} from './diffusion.js';
export { BgNativeError, toBgError, type ErrorCode } from './errors.js';
export type { ResolvedModel, ModelSource } from './models/resolve.js';
export { clearSegmenters } from './models/segmenters.js';
export {
  CleanupOptionsSchema,
  ReplaceOptionsSchema,
  EngineSchema,
  FramingOptionSchema,
  ShadowOptionSchema,
  type Device,
  type EngineName,
  type EngineOption,
  type FramingOption,
  type ReplaceOptions,
  type ReplaceProgress,
  type SamplerName,
  type ShadowOption,
  SegmentOptionsSchema,
  SegmentationOptionsSchema,
  DEFAULT_MAX_PIXELS,
  type CleanupMode,
  type CleanupOptions,
  type ImageInput,
  type ModelProfileName,
  type ModelVariant,
  type OutputFormat,
  type SegmentOptions,
  type SegmentationOptions,
} from './options.js';
export type { GetPresetOptions, PresetSourceOptions } from './presets/load.js';
export type { Preset, PresetOverrides } from './presets/schema.js';
export { version } from './version.js';
export {
  ResultMetadataSchema,
  toResultMetadata,
  type EngineFamily,
  type ResultArtifacts,
  type ResultMetadata,
} from './result-format.js';
export {
  runWorkflowNode,
  renderTemplate,
  type WorkflowNode,
  type WorkflowNodeOptions,
  type WorkflowNodeResult,
  type WorkflowNodeType,
} from './orchestrator/index.js';
export type { HubModel, HubResolveOptions, HubDownloadProgress } from './models/hub.js';
export {
  createServer,
  startServer,
  startWorker,
  type BgServer,
  type BgWorker,
  type CreateServerOptions,
  type ServerConfig,
  type ServerConfigInput,
} from './server/index.js';
export {
  verifyWebhook,
  signWebhook,
  webhookHeaders,
  WebhookVerificationError,
  type VerifyWebhookOptions,
} from './webhooks/signature.js';
