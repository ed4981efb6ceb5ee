// Reading a request: the body (bounded, JSON, an object) and the JSON type of each field. Ranges,
// choices and limits are the database's rules; here only what JSON alone can get wrong (a string
// where a number belongs, an unknown field) is refused before the call, with the same error
// shape and codes.

import { ApiError, invalid } from "./errors.ts";

export type Kind =
  | "text"
  | "integer"
  | "number"
  | "object"
  | "array"
  | "uuid"
  | "boolean"
  | "timestamp";
export type Fields = Record<string, Kind>;
export type Body = Record<string, unknown>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/i;

/** A request body over `limit` bytes is refused (413) without reading the rest. */
export async function readBody(req: Request, limit: number): Promise<{ text: string; body: Body }> {
  const tooLarge = (got: string) =>
    new ApiError(
      413,
      "MT003",
      `body must be at most ${limit} bytes (got ${got})`,
      "body",
      "Send fewer rows per request.",
    );
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (declared > limit) throw tooLarge(`${declared} bytes`);
  // A declared length within the limit is read in one go (the server stops at that length);
  // a body without one is counted while it is read.
  const bytes = Number.isFinite(declared)
    ? new Uint8Array(await req.arrayBuffer())
    : await readCounted(req, limit, tooLarge);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw invalid("body", "must be UTF-8 text");
  }
  if (text.trim() === "") {
    throw invalid("body", "is required: send a JSON object", undefined, "MT002");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw invalid("body", `must be valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid("body", "must be a JSON object", Array.isArray(value) ? "an array" : value);
  }
  return { text, body: value as Body };
}

async function readCounted(
  req: Request,
  limit: number,
  tooLarge: (got: string) => ApiError,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    const reader = req.body.getReader();
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      size += next.value.byteLength;
      if (size > limit) {
        await reader.cancel();
        throw tooLarge(`more than ${limit} bytes`);
      }
      chunks.push(next.value);
    }
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

function checkValue(field: string, kind: Kind, value: unknown): unknown {
  switch (kind) {
    case "text":
      if (typeof value === "string") return value;
      throw invalid(field, "must be a string", value);
    case "integer":
      if (typeof value === "number" && Number.isInteger(value)) {
        if (value >= -2147483648 && value <= 2147483647) return value;
        throw invalid(field, "must be an integer between -2147483648 and 2147483647", value);
      }
      throw invalid(field, "must be an integer", value);
    case "number":
      if (typeof value === "number") {
        if (Number.isFinite(value)) return value;
        // JSON.parse turns 1e400 into Infinity: never store what the client did not send.
        throw invalid(field, "must be a finite number within the range of double precision");
      }
      throw invalid(field, "must be a number", value);
    case "object":
      if (typeof value === "object" && value !== null && !Array.isArray(value)) {
        return JSON.stringify(value);
      }
      throw invalid(field, "must be a JSON object", value);
    case "array":
      if (Array.isArray(value)) return value;
      throw invalid(field, "must be a JSON array", value);
    case "uuid":
      if (typeof value === "string" && UUID.test(value)) return value;
      throw invalid(field, "must be a UUID", value);
    case "boolean":
      if (typeof value === "boolean") return value;
      throw invalid(field, "must be true or false", value);
    case "timestamp":
      if (typeof value === "string" && TIMESTAMP.test(value) && !isNaN(Date.parse(value))) {
        return value;
      }
      throw invalid(field, "must be an ISO 8601 timestamp (2025-11-04T14:30:00Z)", value);
  }
}

/**
 * The body's fields as SQL parameters (objects as JSON text, null for absent or null): an
 * unknown field or a value of the wrong JSON type is a 400 naming the field.
 */
export function fieldsOf(body: Body, fields: Fields, extraHint = ""): Record<string, unknown> {
  const known = Object.keys(fields);
  const out: Record<string, unknown> = Object.fromEntries(known.map((k) => [k, null]));
  for (const [field, value] of Object.entries(body)) {
    const kind = fields[field];
    if (kind === undefined) {
      throw invalid(
        field,
        "is not a known field",
        undefined,
        "MT001",
        `Known fields: ${known.join(", ")}.${extraHint}`,
      );
    }
    if (value !== null) out[field] = checkValue(field, kind, value);
  }
  return out;
}

/** The value of each query parameter; an unknown one is a 400. */
export function queryOf(url: URL, params: Fields): Record<string, unknown> {
  const known = Object.keys(params);
  const out: Record<string, unknown> = Object.fromEntries(known.map((k) => [k, null]));
  for (const [name, raw] of url.searchParams) {
    const kind = params[name];
    if (kind === undefined) {
      throw invalid(
        name,
        "is not a known query parameter",
        undefined,
        "MT001",
        `Known: ${known.join(", ") || "none"}.`,
      );
    }
    const value = kind === "integer" && /^-?\d+$/.test(raw) ? Number(raw) : raw;
    out[name] = checkValue(name, kind, value);
  }
  return out;
}

/** `value` (an integer parameter or null) within 1..max, else `fallback` when absent. */
export function limitOf(value: unknown, max: number, fallback: number): number {
  if (value === null) return fallback;
  const n = value as number;
  if (n < 1 || n > max) throw invalid("limit", `must be between 1 and ${max}`, n);
  return n;
}
