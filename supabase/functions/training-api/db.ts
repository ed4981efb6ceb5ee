// The connection pool, and one transaction per request in the caller's role with the caller's
// claims - what PostgREST does per request, so row-level security, the SQL API's ownership
// checks and auth.uid() see the same caller through this API as through PostgREST.

import postgres from "postgres";
import type { Caller } from "./auth.ts";

export type Sql = postgres.Sql;
export type Params = postgres.ParameterOrJSON<never>[];
type Rows = postgres.RowList<postgres.Row[]>;

export interface PoolOptions {
  /** Connections kept open (npm:postgres opens them lazily). */
  max: number;
  /** Server-side prepared statements; off behind a transaction pooler (Supabase's port 6543). */
  prepare: boolean;
}

/** The statements of one request's transaction. */
export interface Tx {
  /** A statement; its rows. */
  query(text: string, params: Params): Promise<Rows>;
  /** The transaction's last statement, sent together with its COMMIT; its rows. */
  last(text: string, params: Params): Promise<Rows>;
}

/** `url` parsed; libpq's empty host (`postgresql://user@/db?host=/run/dir`) reads as localhost. */
function parse(url: string): URL {
  return new URL(url.replace(/^(postgres(?:ql)?:\/\/(?:[^@/?#]*@)?)(?=[/?#]|$)/, "$1localhost"));
}

/**
 * A pool for `url`, as deployed edge functions get it in SUPABASE_DB_URL. A libpq-style Unix
 * socket URL (`postgresql://user@localhost:5432/db?host=/run/dir`, as `mltrack up` prints) works
 * too.
 */
export function connect(url: string, options: PoolOptions): Sql {
  const parsed = parse(url);
  const socketDir = parsed.searchParams.get("host");
  const port = parsed.searchParams.get("port");
  parsed.searchParams.delete("host");
  parsed.searchParams.delete("port");
  return postgres(parsed.toString(), {
    max: options.max,
    prepare: options.prepare,
    ...(socketDir?.startsWith("/") ? { host: socketDir } : {}),
    ...(port ? { port: Number(port) } : {}),
    connect_timeout: 5,
    idle_timeout: 60,
    // (fetch_types stays on: npm:postgres 3.4.9 never hands out a reserved connection without it)
    onnotice: () => {},
    connection: { application_name: "mltrack training-api" },
  });
}

/** Whether `url` points at a transaction pooler, where prepared statements do not survive. */
export function isPooler(url: string): boolean {
  const parsed = parse(url);
  return parsed.port === "6543" || parsed.searchParams.get("pgbouncer") === "true";
}

/** A string literal that is safe whatever standard_conforming_strings says. */
function literal(text: string): string {
  return "E'" + text.replace(/\\/g, "\\\\").replace(/'/g, "''") + "'";
}

/**
 * Run `work` in one transaction as `caller`: `set local role` and `request.jwt.claims` (plus
 * `request.method` and `request.path`, as PostgREST sets them) for this transaction only.
 *
 * The statements are pipelined: BEGIN with the settings, the request's statements and COMMIT
 * go out without waiting for each other. BEGIN and the settings travel in one message, so no
 * statement can run outside the transaction or in the pool's own role: if any of them fails,
 * the transaction is aborted and every later statement fails with it.
 */
export async function asCaller<T>(
  sql: Sql,
  caller: Caller,
  request: { method: string; path: string },
  prepare: boolean,
  work: (tx: Tx) => Promise<T>,
): Promise<T> {
  const conn = await sql.reserve();
  const setup = conn.unsafe(
    // set_config('role', r, true) is `set local role r` (PostgREST sets it so).
    `begin; select set_config('role', ${literal(caller.role)}, true),
      set_config('request.jwt.claims', ${literal(JSON.stringify(caller.claims))}, true),
      set_config('request.method', ${literal(request.method)}, true),
      set_config('request.path', ${literal(request.path)}, true)`,
  ).then(() => null, (error: unknown) => ({ error }));
  let ended = false;
  const tx: Tx = {
    query: (text, params) => conn.unsafe(text, params, { prepare }),
    last: async (text, params) => {
      ended = true;
      const [rows, commit] = await Promise.allSettled([
        conn.unsafe(text, params, { prepare }),
        conn.unsafe("commit"), // after a failed statement, Postgres rolls back instead
      ]);
      if (rows.status === "rejected") throw rows.reason;
      if (commit.status === "rejected") throw commit.reason;
      return rows.value;
    },
  };
  try {
    const result = await work(tx);
    const failed = await setup;
    if (failed) throw failed.error;
    if (!ended) await conn.unsafe("commit");
    return result;
  } catch (error) {
    const failed = await setup;
    if (!ended) await conn.unsafe("rollback").catch(() => {});
    throw failed ? failed.error : error;
  } finally {
    conn.release();
  }
}
