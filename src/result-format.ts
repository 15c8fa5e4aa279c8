/**
 * The metadata of the seeds' result format as it travels as JSON: what the server stores and
 * shows, what the client and the orchestrator return. One definition for all of them (types only:
 * the client imports it without loading anything).
 */
export interface ResultMetadata {
  width: number;
  height: number;
  format: string;
  metrics: unknown;
  /** replace: the engine that painted the background. */
  engine?: string;
  /** replace: why that engine ran. */
  engineReason?: string;
  preset?: string;
  promptType?: string;
  /** replace: the prompt a generative engine used. */
  prompt?: string;
  seed?: number;
  /** cleanup: the background mode. */
  mode?: string;
}
