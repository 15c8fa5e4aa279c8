/**
 * The server's JSON replies as the tests read them. One type covers every route the tests call (a job,
 * an accepted job, an error, /health, /v1/status, the OpenAPI document): each field is declared as the
 * route that sends it has it, and a test reading a field its route did not send fails on its assertion.
 */
export interface ServerReply {
  jobId: string;
  status: string;
  progress: number;
  attempts: number;
  previewUrl: string;
  error: { code: string; message: string; details?: unknown };
  result: { outputUrl: string; maskUrl?: string; metrics: { elapsed_ms: number }; [field: string]: unknown };
  version: string;
  queue: Record<string, unknown>;
  presets: string[];
  backends: { name: string }[];
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

/** An operation of the OpenAPI document, down to the schemas of its request and responses. */
export interface OpenApiOperation {
  requestBody: { content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, { content: Record<string, { schema: JsonSchema }> }>;
}

/** A JSON Schema of the OpenAPI document, in the parts the tests look at. */
export interface JsonSchema {
  $ref?: string;
  type?: string;
  required?: string[];
  properties?: Record<string, JsonSchema>;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
}
