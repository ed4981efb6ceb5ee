// Who is calling: a bearer JWT signed with the project's JWT secret (HS256), as PostgREST reads
// it. Its `role` claim picks the database role of the request's transaction and its claims
// become `request.jwt.claims` (so `auth.uid()` is its `sub`): row-level security then applies
// exactly as through PostgREST.

import { ApiError } from "./errors.ts";

export type Role = "anon" | "authenticated" | "service_role";
const ROLES: readonly string[] = ["anon", "authenticated", "service_role"];

export interface Caller {
  role: Role;
  claims: Record<string, unknown>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TOKEN_HINT = "Send Authorization: Bearer <JWT> signed with the project's JWT secret (a " +
  "user's access token, or the service_role key on training machines).";

/** The HMAC key of the project's JWT secret; null when none is configured. */
export async function jwtKey(secret: string | undefined): Promise<CryptoKey | null> {
  if (!secret) return null;
  return await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
}

function unauthorized(code: string, message: string, hint = TOKEN_HINT): ApiError {
  return new ApiError(401, code, message, "authorization", hint);
}

function base64url(part: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw unauthorized("PGRST301", "the token is not a JWT");
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/") + "==".slice(0, (4 - part.length % 4) % 4);
  try {
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch {
    throw unauthorized("PGRST301", "the token is not a JWT");
  }
}

function jsonPart(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(base64url(part)));
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw unauthorized("PGRST301", `the token's ${what} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw unauthorized("PGRST301", `the token's ${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * The caller of a request from its Authorization header. `tokenless` is the role of a request
 * without one (only `mltrack api`, bound to loopback, sets it); otherwise such a request is 401.
 */
export async function callerOf(
  header: string | null,
  key: CryptoKey | null,
  tokenless: Role | null,
  now = Date.now() / 1000,
): Promise<Caller> {
  if (header === null || header.trim() === "") {
    if (tokenless) return { role: tokenless, claims: { role: tokenless } };
    throw unauthorized("PGRST302", "authorization is required: no bearer token was sent");
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthorized("PGRST301", "authorization must be 'Bearer <JWT>'");
  const parts = match[1].split(".");
  if (parts.length !== 3) throw unauthorized("PGRST301", "the token is not a JWT");
  const head = jsonPart(parts[0], "header");
  if (head.alg !== "HS256") {
    throw unauthorized(
      "PGRST301",
      `the token must be signed with HS256 (got ${JSON.stringify(head.alg ?? null)})`,
    );
  }
  if (key === null) {
    throw unauthorized(
      "PGRST301",
      "this API has no JWT secret configured, so it cannot verify tokens",
      "Set MLTRACK_JWT_SECRET to the project's JWT secret (mltrack api --jwt-secret).",
    );
  }
  const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  if (!(await crypto.subtle.verify("HMAC", key, base64url(parts[2]), signed))) {
    throw unauthorized("PGRST301", "the token's signature does not match the project's JWT secret");
  }
  const claims = jsonPart(parts[1], "payload");
  if (typeof claims.exp === "number" && claims.exp <= now) {
    throw unauthorized(
      "PGRST303",
      `JWT expired (at ${new Date(claims.exp * 1000).toISOString()})`,
      "Refresh the access token and send the new one.",
    );
  }
  if (typeof claims.nbf === "number" && claims.nbf > now) {
    throw unauthorized("PGRST301", "the token is not valid yet (nbf is in the future)");
  }
  const role = claims.role;
  if (typeof role !== "string" || !ROLES.includes(role)) {
    throw unauthorized(
      "PGRST301",
      `the token's role must be anon, authenticated or service_role (got ${JSON.stringify(role)})`,
    );
  }
  if (role === "authenticated" && (typeof claims.sub !== "string" || !UUID.test(claims.sub))) {
    throw unauthorized("PGRST301", "the token's sub must be the user's id (a UUID)");
  }
  return { role: role as Role, claims };
}
