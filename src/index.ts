/**
 * @vitrinealu/bg-native — offline background removal and replacement for Node.js.
 */
export { segment, type SegmentResult, type ModelInfo } from './pipeline/segment.js';
export { cleanup, type CleanupResult, type CleanupArtifacts } from './pipeline/cleanup.js';
export { replaceBackground, type ReplaceResult, type ReplaceArtifacts } from './pipeline/replace.js';
export { DEFAULT_PRESET } from './pipeline/replace-settings.js';
export { closeComposePool } from './workers/pixel-pool.js';
export { clearDiffusionModels } from './engines/local.js';
export type { Generator, GeneratorName, GenerateRequest, GeneratedBackground } from './engines/generator.js';
export type { SkippedEngine } from './engines/policy.js';
export type { Metrics } from './pipeline/timer.js';
export { backends, type BackendInfo } from './native.js';
export {
  DiffusionModel,
  type DiffusionGenerateParams,
  type DiffusionImage,
  type DiffusionLoadOptions,
  type DiffusionPrecision,
  type DiffusionProgress,
  type DiffusionRunOptions,
  type NativeDiffusionModel,
} from './diffusion.js';
export { BgNativeError, toBgError, type ErrorCode } from './errors.js';
export { resolveModel, cacheDir, type ResolvedModel, type ModelSource } from './models/resolve.js';
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
export { listPresets, getPreset, clearPresetCache, type GetPresetOptions, type PresetSourceOptions } from './presets/load.js';
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
export { resolveHubModel, hubCacheDir, type HubModel, type HubResolveOptions, type HubDownloadProgress } from './models/hub.js';
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
export { verifyWebhook, signWebhook, webhookHeaders, WebhookVerificationError, type VerifyWebhookOptions } from './webhooks/signature.js';
