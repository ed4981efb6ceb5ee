// The request handler: routing, the caller, one transaction per request, the answer.
//
// Paths: /api/training/<route> (the seed's, what `mltrack api` serves) and, deployed,
// /training-api/<route> (what Supabase passes the function for .../functions/v1/training-api/...).

import openapi from "./openapi.json" with { type: "json" };
import { callerOf, jwtKey, type Role } from "./auth.ts";
import { asCaller, connect, isPooler } from "./db.ts";
import { ApiError, errorBody, fromError, invalid } from "./errors.ts";
import { readBody } from "./input.ts";
import * as routes from "./routes.ts";

export interface Config {
  /** Postgres URL (SUPABASE_DB_URL on Supabase). */
  databaseUrl: string;
  /** The project's JWT secret (HS256); without it every token is refused. */
  jwtSecret?: string;
  /** Role of a request without a token; null: such a request is 401 (deployed). */
  tokenless: Role | null;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** Connections in the pool. */
  poolSize: number;
}

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
export const DEFAULT_POOL_SIZE = 10;

/** The configuration a deployed function reads from its environment. */
export function configFromEnv(tokenless: Role | null = null): Config {
  const databaseUrl = Deno.env.get("SUPABASE_DB_URL");
  if (!databaseUrl) {
    throw new Error("SUPABASE_DB_URL is not set: the function needs a Postgres URL");
  }
  return {
    databaseUrl,
    jwtSecret: Deno.env.get("MLTRACK_JWT_SECRET") || Deno.env.get("SUPABASE_JWT_SECRET") ||
      undefined,
    tokenless,
    maxBodyBytes: Number(Deno.env.get("MLTRACK_API_MAX_BODY_BYTES") || DEFAULT_MAX_BODY_BYTES),
    poolSize: Number(Deno.env.get("MLTRACK_API_POOL_SIZE") || DEFAULT_POOL_SIZE),
  };
}

type Handler = (request: routes.Request) => routes.Work;

// Handlers by the document's operationId.
const HANDLERS: Record<string, Handler> = {
  listSessions: routes.listSessions,
  createSession: routes.createSession,
  getSession: routes.getSession,
  updateSession: routes.patchSession,
  listMetrics: routes.listMetrics,
  logMetrics: routes.logMetrics,
  activeSessions: routes.activeSessions,
  leaderboard: routes.leaderboard,
};
const DOCUMENT_ONLY = "openapi";
const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]; // served before any token or database is needed

interface Route {
  pattern: RegExp;
  methods: Record<string, Handler | typeof DOCUMENT_ONLY>;
}

/** The routes are the OpenAPI document's paths: a route exists exactly when it is documented. */
function routesOf(paths: Record<string, Record<string, unknown>>): Route[] {
  const used = new Set<string>();
  const table = Object.entries(paths).map(([path, item]) => ({
    pattern: new RegExp("^" + path.replace(/\{[^}]+\}/g, "([^/]+)") + "$"),
    methods: Object.fromEntries(
      Object.entries(item)
        .filter(([key]) => HTTP_METHODS.includes(key))
        .map(([method, op]) => {
          const id = (op as { operationId: string }).operationId;
          used.add(id);
          if (id === DOCUMENT_ONLY) return [method.toUpperCase(), DOCUMENT_ONLY];
          if (!HANDLERS[id]) throw new Error(`openapi.json: no handler for ${id}`);
          return [method.toUpperCase(), HANDLERS[id]];
        }),
    ),
  }));
  const missing = Object.keys(HANDLERS).filter((id) => !used.has(id));
  if (missing.length) throw new Error(`openapi.json does not document ${missing.join(", ")}`);
  return table;
}

const ROUTES = routesOf(openapi.paths as Record<string, Record<string, unknown>>);

const PREFIX = /^(?:\/functions\/v1)?(?:\/training-api(?=\/|$))?(?:\/api\/training(?=\/|$))?/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "authorization, x-client-info, apikey, content-type",
  "access-control-allow-methods": "GET, POST, PATCH, OPTIONS",
};
const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", ...CORS };
const OPENAPI = JSON.stringify(openapi);

function respond(status: number, json: string, headers: Record<string, string> = {}): Response {
  return new Response(json, { status, headers: { ...JSON_HEADERS, ...headers } });
}

/** The route part of a path (`/sessions`), or null when the path is not under the API. */
function routeOf(pathname: string): string | null {
  const prefix = PREFIX.exec(pathname)?.[0] ?? "";
  if (prefix === "" || prefix === "/functions/v1") return null;
  const rest = pathname.slice(prefix.length).replace(/\/+$/, "");
  return rest;
}

/** A handler for Deno.serve, with its pool; `close()` ends the pool's connections. */
export async function createHandler(config: Config) {
  const key = await jwtKey(config.jwtSecret);
  const prepare = !isPooler(config.databaseUrl);
  const sql = connect(config.databaseUrl, { max: config.poolSize, prepare });

  async function serve(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS });
    const route = routeOf(url.pathname);
    const found = route === null ? undefined : ROUTES.find((r) => r.pattern.test(route));
    if (!found || route === null) {
      throw new ApiError(
        404,
        "PGRST125",
        `no route ${url.pathname}: the API's routes are under /api/training/`,
        null,
        "See GET /api/training/openapi.json.",
      );
    }
    const handler = Object.hasOwn(found.methods, req.method) ? found.methods[req.method] : null;
    if (handler === DOCUMENT_ONLY) return respond(200, OPENAPI);
    if (!handler) {
      const allow = Object.keys(found.methods).join(", ");
      throw new ApiError(
        405,
        "PGRST117",
        `${req.method} is not allowed on ${url.pathname} (allowed: ${allow})`,
        null,
        null,
        { allow },
      );
    }
    const caller = await callerOf(req.headers.get("authorization"), key, config.tokenless);
    const id = found.pattern.exec(route)?.[1] ?? "";
    if (id && !UUID.test(id)) throw invalid("id", "must be a UUID", id);
    const { text, body } = req.method === "GET"
      ? { text: "", body: {} }
      : await readBody(req, config.maxBodyBytes);
    const work = handler({ url, id, body, text }); // checks the request before any connection
    const answer = await asCaller(
      sql,
      caller,
      { method: req.method, path: url.pathname },
      prepare,
      work,
    );
    const headers: Record<string, string> = answer.status === 201
      ? { location: `${url.pathname}/${JSON.parse(answer.json).session.id}` }
      : {};
    return respond(answer.status, answer.json, headers);
  }

  return {
    handler: async (req: Request): Promise<Response> => {
      try {
        return await serve(req);
      } catch (error) {
        const e = fromError(error);
        return respond(e.status, errorBody(e), e.headers);
      }
    },
    close: () => sql.end({ timeout: 5 }),
  };
}
