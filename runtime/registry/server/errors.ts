// The error vocabulary of the OCI distribution spec (and Docker's Registry
// HTTP API v2). Clients match on `code`, not on the message: skopeo, for
// example, treats MANIFEST_UNKNOWN as "not there, push it" and UNAUTHORIZED as
// "ask for credentials", so each failure must carry the spec's code and status.

export const ERROR_STATUS = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  // Not in the OCI list; Distribution uses it for a bad `n` and so do we.
  PAGINATION_NUMBER_INVALID: 400,
  // Anything unexpected on our side.
  UNKNOWN: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** A failure that becomes `{"errors":[{code,message,detail}]}` with the code's status (or `status` when given). */
export class RegistryError extends Error {
  readonly status: number;
  /** Extra response headers, e.g. Range on a 416 or WWW-Authenticate on a 401. */
  headers: Record<string, string> = {};

  constructor(readonly code: ErrorCode, message: string, readonly detail?: unknown, status?: number) {
    super(message);
    this.status = status ?? ERROR_STATUS[code];
  }

  withHeaders(h: Record<string, string>): this {
    Object.assign(this.headers, h);
    return this;
  }

  body(): string {
    const e: { code: string; message: string; detail?: unknown } = { code: this.code, message: this.message };
    if (this.detail !== undefined) e.detail = this.detail;
    return JSON.stringify({ errors: [e] });
  }
}
