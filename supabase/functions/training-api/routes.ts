// The seed's routes. Writes call mltrack's SQL API functions with their named arguments, so the
// database's checks, triggers, ownership rules and errors are this API's; reads select from the
// tables and views under the caller's role. Postgres builds every answer's JSON (to_json), so
// timestamps, numbers and JSON columns come out as PostgREST would give them.

import { ApiError, invalid } from "./errors.ts";
import { type Body, type Fields, fieldsOf, limitOf, queryOf } from "./input.ts";
import type { Params, Tx } from "./db.ts";

/** An answer: its HTTP status and its JSON text. */
export interface Answer {
  status: number;
  json: string;
}

/** A request checked and ready: the statements it runs in its transaction. */
export type Work = (tx: Tx) => Promise<Answer>;

/** What a route reads from its request. */
export interface Request {
  url: URL;
  id: string;
  body: Body;
  text: string;
}

const STATUSES = ["pending", "running", "completed", "failed", "cancelled"];
const TERMINAL = ["completed", "failed", "cancelled"];
const FINALS = ["final_map50", "final_map50_95", "final_precision", "final_recall", "final_loss"];

const METRIC_NUMBERS = [
  "box_loss",
  "cls_loss",
  "dfl_loss",
  "total_loss",
  "val_box_loss",
  "val_cls_loss",
  "val_dfl_loss",
  "precision",
  "recall",
  "map50",
  "map50_95",
  "learning_rate",
  "epoch_time_seconds",
  "gpu_memory_mb",
];

const SESSION_FIELDS: Fields = {
  session_name: "text",
  model_type: "text",
  epochs: "integer",
  dataset_name: "text",
  dataset_size: "integer",
  batch_size: "integer",
  learning_rate: "number",
  img_size: "integer",
  config: "object",
  hardware_info: "object",
  hyperparameter_run_id: "uuid",
  session_id: "uuid",
  status: "text",
  owner_id: "uuid",
};

const SQL_TYPES: Record<string, string> = {
  text: "text",
  integer: "integer",
  number: "double precision",
  // JSON travels as text (the driver would encode a jsonb parameter a second time).
  object: "text::jsonb",
  uuid: "uuid",
};

/** `select <body> from fn(a => $1::t, ...)`: every argument passed, so one prepared statement. */
function callOf(fn: string, fields: Fields, alias: string, body: string): string {
  const args = Object.entries(fields).map(([name, kind], i) =>
    `${name === "precision" ? '"precision"' : name} => $${i + 1}::${SQL_TYPES[kind]}`
  );
  return `select (${body})::text from ${fn}(${args.join(", ")}) ${alias}`;
}

const START_SESSION = callOf(
  "public.start_session",
  SESSION_FIELDS,
  "s",
  "json_build_object('success', true, 'session', to_json(s))",
);

const METRIC_FIELDS: Fields = {
  session_id: "uuid",
  epoch: "integer",
  ...Object.fromEntries(METRIC_NUMBERS.map((k) => [k, "number"])),
  extra: "object",
};

const LOG_EPOCH = callOf(
  "public.log_epoch",
  METRIC_FIELDS,
  "m",
  "json_build_object('success', true, 'metric', to_json(m))",
);

const FINISH_FIELDS: Fields = {
  session_id: "uuid",
  status: "text",
  status_reason: "text",
  ...Object.fromEntries(FINALS.map((k) => [k, "number"])),
  model_path: "text",
};

const FINISH_SESSION = callOf(
  "public.finish_session",
  FINISH_FIELDS,
  "s",
  "json_build_object('success', true, 'session', to_json(s))",
);

const PATCH_FIELDS: Fields = {
  status: "text",
  status_reason: "text",
  ...Object.fromEntries(FINALS.map((k) => [k, "number"])),
  model_path: "text",
  stop_requested: "boolean",
  started_at: "timestamp",
  completed_at: "timestamp",
};

/** The answer of a statement that builds it (its first column) as its transaction's last. */
function answer(status: number, query: string, params: Params, id?: string): Work {
  return async (tx) => {
    const rows = await tx.last(query, params);
    const json = rows[0] ? Object.values(rows[0])[0] as string : null;
    if (json === null) throw notFound(id ?? String(params[0]));
    return { status, json };
  };
}

function notFound(id: string): ApiError {
  return new ApiError(
    404,
    "MT005",
    `session_id does not match any training session (got ${id})`,
    "session_id",
    "List sessions with GET /api/training/sessions.",
  );
}

function paramsOf(values: Record<string, unknown>): Params {
  return Object.values(values) as Params;
}

function checkStatus(value: unknown): void {
  if (value !== null && !STATUSES.includes(value as string)) {
    throw invalid("status", `must be one of ${STATUSES.join(", ")}`, value);
  }
}

export function createSession({ body }: Request): Work {
  const values = fieldsOf(body, SESSION_FIELDS);
  // The seed's flow: a session is created pending and PATCHed to running when training starts
  // (the database stamps started_at then).
  values.status ??= "pending";
  return answer(201, START_SESSION, paramsOf(values));
}

export function listSessions({ url }: Request): Work {
  const q = queryOf(url, {
    status: "text",
    model_type: "text",
    dataset_name: "text",
    limit: "integer",
  });
  checkStatus(q.status);
  return answer(
    200,
    `select json_build_object('success', true,
              'sessions', coalesce(json_agg(s order by s.created_at desc, s.id), '[]'),
              'count', count(*))::text
       from (select * from public.training_sessions t
              where ($1::text is null or t.status = $1)
                and ($2::text is null or t.model_type = $2)
                and ($3::text is null or t.dataset_name = $3)
              order by t.created_at desc, t.id
              limit $4) s`,
    [q.status, q.model_type, q.dataset_name, limitOf(q.limit, 1000, 50)] as Params,
  );
}

export function getSession({ url, id }: Request): Work {
  queryOf(url, {});
  return answer(
    200,
    `select json_build_object('success', true, 'session', to_json(s),
              'metrics', coalesce((select json_agg(m order by m.epoch)
                from public.training_metrics m where m.session_id = s.id), '[]'),
              'validation_results', coalesce((select json_agg(v order by v.split,
                  v.class_id nulls first, v.class_name)
                from public.validation_results v where v.session_id = s.id), '[]'),
              'benchmarks', coalesce((select json_agg(b order by b.created_at, b.id)
                from public.model_benchmarks b where b.session_id = s.id), '[]'))::text
       from public.training_sessions s where s.id = $1::uuid`,
    [id],
  );
}

const SESSION_ANSWER = "json_build_object('success', true, 'session', to_json(s))::text";

export function patchSession({ id, body }: Request): Work {
  const v = fieldsOf(body, PATCH_FIELDS);
  const set = Object.keys(body).filter((k) => body[k] !== null);
  if (set.length === 0) {
    throw invalid(
      "body",
      `must set at least one of: ${Object.keys(PATCH_FIELDS).join(", ")}`,
      undefined,
      "MT002",
    );
  }
  if (v.stop_requested === false) {
    throw invalid("stop_requested", "can only be true: a stop request cannot be withdrawn", false);
  }
  checkStatus(v.status);
  if (v.stop_requested === true) {
    const other = set.find((k) => !["stop_requested", "status_reason"].includes(k));
    if (other) {
      throw invalid(
        other,
        "cannot be sent with stop_requested: ask the run to stop, then let it finish",
      );
    }
  }
  if (v.status !== null && !TERMINAL.includes(v.status as string)) noFinalsYet(v);
  // The database stamps started_at and completed_at when the status changes; a client's own
  // clock is not stored (the seed's clients send them), and the answer says so.
  const ignored = ["started_at", "completed_at"].filter((k) => v[k] !== null);
  return async (tx) => {
    const result = await patchWork(tx, id, v);
    if (ignored.length === 0) return result;
    return { status: result.status, json: JSON.stringify({ ...JSON.parse(result.json), ignored }) };
  };
}

/** Final metrics and the model's path belong to a session that finishes. */
function noFinalsYet(v: Record<string, unknown>): void {
  const early = [...FINALS, "model_path"].find((k) => v[k] !== null);
  if (early) {
    throw invalid(
      early,
      "can be set only when the session finishes (status completed, failed or cancelled)",
      v[early],
    );
  }
}

async function patchWork(tx: Tx, id: string, v: Record<string, unknown>): Promise<Answer> {
  if (v.stop_requested === true) {
    return await answer(
      200,
      `select ${SESSION_ANSWER} from public.request_stop($1::uuid, $2::text) s`,
      [id, v.status_reason] as Params,
    )(tx);
  }
  // The owner check and "no such session" come from the SQL API, before anything is written.
  const found = await tx.query(
    "select s.status from mltrack_internal.writable_session($1::uuid) s",
    [id],
  );
  const target = (v.status ?? found[0].status) as string;
  if (TERMINAL.includes(target)) {
    return await answer(200, FINISH_SESSION, [
      id,
      target,
      v.status_reason,
      ...FINALS.map((k) => v[k]),
      v.model_path,
    ] as Params)(tx);
  }
  noFinalsYet(v);
  // No SQL API function starts a pending session: the row is updated under the caller's role,
  // where the same row-level security and state-machine trigger decide.
  return await answer(
    200,
    `update public.training_sessions s
        set status = $2::text, status_reason = coalesce($3::text, s.status_reason)
      where s.id = $1::uuid
     returning ${SESSION_ANSWER}`,
    [id, target, v.status_reason] as Params,
  )(tx);
}

export function logMetrics({ body, text }: Request): Work {
  if ("metrics" in body) {
    // A batch: {"session_id": ..., "metrics": [{epoch, ...}, ...]}. Postgres reads the numbers
    // from the request text itself (JavaScript would round or overflow some) and log_epochs
    // checks every row.
    fieldsOf(body, { session_id: "uuid", metrics: "array" });
    if (body.session_id === undefined || body.session_id === null) {
      throw invalid("session_id", "is required", undefined, "MT002");
    }
    return answer(
      200,
      `select json_build_object('success', true, 'count',
              public.log_epochs($1::uuid, $2::text::jsonb -> 'metrics'))::text`,
      [body.session_id, text] as Params,
    );
  }
  const values = fieldsOf(
    body,
    METRIC_FIELDS,
    ' Send a batch as {"session_id", "metrics": [...]}.',
  );
  return answer(200, LOG_EPOCH, paramsOf(values));
}

export function listMetrics({ url }: Request): Work {
  const q = queryOf(url, { session_id: "uuid" });
  if (q.session_id === null) throw invalid("session_id", "is required", undefined, "MT002");
  return answer(
    200,
    `select json_build_object('success', true, 'session_id', s.id,
              'metrics', coalesce(x.rows, '[]'), 'count', coalesce(x.n, 0))::text
       from public.training_sessions s
       left join lateral (select json_agg(m order by m.epoch) as rows, count(*) as n
                            from public.training_metrics m where m.session_id = s.id) x on true
      where s.id = $1::uuid`,
    [q.session_id] as Params,
  );
}

export function activeSessions({ url }: Request): Work {
  queryOf(url, {});
  return answer(
    200,
    `select json_build_object('success', true,
              'sessions', coalesce(json_agg(a order by a.started_at desc, a.id), '[]'),
              'count', count(*))::text
       from public.active_training_sessions a`,
    [],
  );
}

export function leaderboard({ url }: Request): Work {
  const q = queryOf(url, { limit: "integer" });
  return answer(
    200,
    `select json_build_object('success', true,
              'leaderboard', coalesce(json_agg(l order by l.rank), '[]'),
              'count', count(*))::text
       from (select * from public.models_leaderboard order by rank limit $1) l`,
    [limitOf(q.limit, 50, 50)],
  );
}
