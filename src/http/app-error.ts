import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Every error code the HTTP API answers with. */
export type ErrorCode =
  | 'bad_request'
  | 'invalid_range'
  | 'invalid_json'
  | 'validation_failed'
  | 'invalid_definition'
  | 'unauthorized'
  | 'forbidden'
  | 'csrf_failed'
  | 'project_required'
  | 'invalid_credentials'
  | 'signup_closed'
  | 'rate_limited'
  | 'not_published'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'signature_missing'
  | 'signature_malformed'
  | 'signature_invalid'
  | 'signature_expired'
  | 'unsupported_media_type'
  | 'service_unavailable'
  | 'internal';

const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  bad_request: 400,
  invalid_range: 400,
  invalid_json: 400,
  validation_failed: 422,
  invalid_definition: 422,
  unauthorized: 401,
  forbidden: 403,
  csrf_failed: 403,
  project_required: 400,
  invalid_credentials: 401,
  signup_closed: 409,
  rate_limited: 429,
  not_published: 409,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  signature_missing: 401,
  signature_malformed: 401,
  signature_invalid: 401,
  signature_expired: 401,
  unsupported_media_type: 415,
  service_unavailable: 503,
  internal: 500,
};

/** An error meant for the client: a stable code, a message in words, and details. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: ContentfulStatusCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.status = STATUS[code];
    this.details = details;
  }

  /** The response body of the contract: `{"error":{"code","message","details"}}`. */
  toJSON(): { error: { code: ErrorCode; message: string; details: Record<string, unknown> } } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/** A 404 that reads the same whether the row does not exist or belongs to another tenant. */
export const notFound = (what: string): AppError => new AppError('not_found', `${what} not found`);
