// One error shape for every failure, and the one place that turns a Postgres or connection error
// into an HTTP status:
//
//   {"success": false, "error": {"code", "message", "hint", "field"}}
//
// Codes: the database's SQLSTATEs (MT001-MT006 from mltrack's SQL API, 42501 from Postgres),
// PostgREST's codes where the API answers what PostgREST would (PGRST301-303 tokens, PGRST117
// method, PGRST125 path), and 08001/08006 when the database cannot be reached.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
    readonly hint: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A bad value in the request: 400 with the database's codes (MT001 invalid, MT002 missing). */
export function invalid(
  field: string,
  rule: string,
  got?: unknown,
  code = "MT001",
  hint: string | null = null,
): ApiError {
  const shown = got === undefined ? "" : ` (got ${describe(got)})`;
  return new ApiError(400, code, `${field} ${rule}${shown}`, field, hint ?? README_HINT);
}

const README_HINT = 'See "REST API" in the mltrack README.';

function describe(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

// SQLSTATEs of mltrack's SQL API (README "Error codes") and the status each means over HTTP.
const STATUS_OF_CODE: Record<string, number> = {
  MT001: 400, // invalid value
  MT002: 400, // missing value
  MT003: 400, // value too large
  MT004: 409, // invalid status transition
  MT005: 404, // no such session or hyperparameter run
  MT006: 403, // not the owner
  "42501": 403, // no privilege (anon), or row-level security refused the row
  "23505": 409, // unique violation
  "57014": 503, // statement timeout: the database is overloaded
  "53300": 503, // too many connections
  "57P01": 503, // the server is shutting down
  "57P02": 503,
  "57P03": 503, // the server is starting up
};

// Errors of the driver (npm:postgres) and of the socket: the database cannot be reached.
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EPIPE",
  "ENOENT", // a Unix socket that is not there
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

interface DriverError {
  code?: unknown;
  message?: unknown;
  hint?: unknown;
  column_name?: unknown;
  severity?: unknown;
}

/** Map anything thrown while serving a request to an ApiError (unknown errors become 500). */
export function fromError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const e = (error ?? {}) as DriverError;
  const code = typeof e.code === "string" ? e.code : "";
  const message = typeof e.message === "string" ? e.message : String(error);
  if (UNREACHABLE.has(code)) {
    const lost = code.startsWith("CONNECTION_") || code === "ECONNRESET" || code === "EPIPE";
    return new ApiError(
      503,
      lost ? "08006" : "08001",
      lost
        ? "the connection to the database was lost; the request may not have been applied"
        : `the database cannot be reached (${code})`,
      null,
      "Try again shortly; check that the database is running and SUPABASE_DB_URL is right.",
    );
  }
  if (typeof e.severity === "string" && /^[0-9A-Z]{5}$/.test(code)) {
    const hint = typeof e.hint === "string" ? e.hint : null;
    const field = typeof e.column_name === "string" ? e.column_name : null;
    const status = STATUS_OF_CODE[code] ??
      (code.startsWith("08") ? 503 : /^(22|23)/.test(code) ? 400 : 500);
    return new ApiError(status, code, message, field, hint);
  }
  console.error("training-api: unexpected error", error);
  return new ApiError(500, "XX000", "internal error: " + message, null, null);
}

/** The JSON body of an error answer. */
export function errorBody(error: ApiError): string {
  return JSON.stringify({
    success: false,
    error: { code: error.code, message: error.message, hint: error.hint, field: error.field },
  });
}
