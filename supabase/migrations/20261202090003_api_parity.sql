-- One rule for a value whichever path carries it, and replays of one id that return the row.
--
-- - log_epochs (JSON: replays, psql, PostgREST clients) accepted only numbers within 1e-300..1e300
--   while log_epoch_columns (the live path) takes any double precision: a run logged live with
--   box_loss 1e-320 was rejected whole when replayed from the spool. Both now take exactly the
--   finite doubles. And -0 is stored as 0 on both (the JSON path cannot carry a negative zero).
-- - Concurrent replays of start_session / create_hyperparameter_run with one id raised 23505
--   instead of returning the row.
-- - A replayed benchmark_id or run_id of another user returned that user's row.
-- - Names made only of control characters, zero-width or no-break spaces counted as not blank.

create or replace function public.start_session(
  session_name text,
  model_type text,
  epochs integer,
  dataset_name text default null,
  dataset_size integer default null,
  batch_size integer default null,
  learning_rate double precision default null,
  img_size integer default null,
  config jsonb default '{}',
  hardware_info jsonb default '{}',
  hyperparameter_run_id uuid default null,
  session_id uuid default null,
  status text default 'running',
  owner_id uuid default null
) returns public.training_sessions
language plpgsql
set search_path = ''
as $$
declare
  result public.training_sessions;
begin
  if start_session.session_id is not null
     and exists (select from public.training_sessions t where t.id = start_session.session_id) then
    -- A replayed start (the SDK retries after an outage): the session already exists.
    return mltrack_internal.writable_session(start_session.session_id);
  end if;
  if mltrack_internal.is_end_user() and start_session.owner_id is distinct from auth.uid()
     and start_session.owner_id is not null then
    perform mltrack_internal.reject('MT006', 'owner_id', 'must be your own user id',
      start_session.owner_id::text, 'Leave owner_id out; it defaults to the signed-in user.');
  end if;
  if start_session.hyperparameter_run_id is not null then
    if not exists (select from public.hyperparameter_runs h where h.id = start_session.hyperparameter_run_id) then
      perform mltrack_internal.reject('MT005', 'hyperparameter_run_id', 'does not match any hyperparameter run',
        start_session.hyperparameter_run_id::text);
    elsif mltrack_internal.is_end_user() and not mltrack_internal.owns_run(start_session.hyperparameter_run_id) then
      perform mltrack_internal.reject('MT006', 'hyperparameter_run_id',
        'belongs to another user: a session may join only your own hyperparameter runs',
        start_session.hyperparameter_run_id::text);
    end if;
  end if;
  insert into public.training_sessions (
    id, owner_id, session_name, model_type, dataset_name, dataset_id, dataset_size, epochs,
    batch_size, learning_rate, img_size, config, hardware_info, hyperparameter_run_id, status)
  values (
    coalesce(start_session.session_id, gen_random_uuid()),
    coalesce(start_session.owner_id, auth.uid()),
    start_session.session_name, start_session.model_type, start_session.dataset_name,
    (select d.id from public.training_datasets d where d.name = start_session.dataset_name),
    start_session.dataset_size, start_session.epochs, start_session.batch_size,
    start_session.learning_rate, start_session.img_size,
    coalesce(start_session.config, '{}'), coalesce(start_session.hardware_info, '{}'),
    start_session.hyperparameter_run_id, coalesce(start_session.status, 'running'))
  -- Two replays of one start at once: both pass the check above, one inserts, the other finds
  -- the row here instead of failing on the primary key.
  on conflict (id) do nothing
  returning * into result;
  if result.id is null then
    return mltrack_internal.writable_session(start_session.session_id);
  end if;
  return result;
end
$$;

create or replace function mltrack_internal.check_batch(
  field text, rows_json jsonb, number_keys text[], integer_keys text[], text_keys text[], max_rows integer
) returns void
language plpgsql
set search_path = ''
as $$
declare
  bad record;
begin
  if rows_json is null then
    perform mltrack_internal.reject('MT002', field, 'is required');
  elsif jsonb_typeof(rows_json) <> 'array' then
    perform mltrack_internal.reject('MT001', field, 'must be a JSON array of objects', jsonb_typeof(rows_json));
  elsif jsonb_array_length(rows_json) > max_rows then
    perform mltrack_internal.reject('MT003', field, 'must hold at most ' || max_rows || ' rows per call',
      jsonb_array_length(rows_json)::text, 'Send the rows in several calls.');
  end if;
  select a.idx, jsonb_typeof(a.elem) as kind into bad
    from jsonb_array_elements(rows_json) with ordinality a(elem, idx)
   where jsonb_typeof(a.elem) <> 'object'
   limit 1;
  if found then
    perform mltrack_internal.reject('MT001', field || '[' || (bad.idx - 1) || ']', 'must be a JSON object', bad.kind);
  end if;
  select a.idx, e.key, jsonb_typeof(e.value) as kind, e.value into bad
    from jsonb_array_elements(rows_json) with ordinality a(elem, idx),
         jsonb_each(a.elem) e
   where not (
       (e.key = any (number_keys) and (jsonb_typeof(e.value) = 'null'
          or (jsonb_typeof(e.value) = 'number' and (e.value::numeric = 0
              or abs(e.value::numeric) between 2.4703282292062328e-324 and 1.7976931348623157e308))))
    -- Written as a JSON integer (3, not 3.0) within Postgres' integer range.
    or (e.key = any (integer_keys) and (jsonb_typeof(e.value) = 'null'
          or (e.value::text ~ '^-?[0-9]{1,10}$' and e.value::numeric between -2147483648 and 2147483647)))
    or (e.key = any (text_keys) and jsonb_typeof(e.value) in ('string', 'null'))
    or (e.key = 'extra' and jsonb_typeof(e.value) = 'object'))
   limit 1;
  if found then
    if bad.key = any (number_keys) and bad.value in ('"NaN"', '"Infinity"', '"-Infinity"') then
      -- How jsonb spells a non-finite float8 (log_epoch passes its numbers through JSON).
      perform mltrack_internal.reject('MT001', bad.key,
        'must be a finite number (in ' || field || '[' || (bad.idx - 1) || '])', bad.value #>> '{}',
        'NaN or infinity usually means the training diverged.');
    elsif bad.key = any (number_keys || integer_keys || text_keys || '{extra}'::text[]) then
      perform mltrack_internal.reject('MT001', bad.key,
        'must be ' || case when bad.key = 'extra' then 'a JSON object'
                           when bad.key = any (integer_keys) then 'an integer'
                           when bad.key = any (text_keys) then 'a string'
                           else 'a number' end
        || ' (in ' || field || '[' || (bad.idx - 1) || '])', bad.value::text);
    else
      perform mltrack_internal.reject('MT001', bad.key,
        'is not a known field (in ' || field || '[' || (bad.idx - 1) || '])', null,
        'Known fields: ' || array_to_string(number_keys || integer_keys || text_keys, ', ')
        || '; put anything else in "extra".');
    end if;
  end if;
end
$$;

create or replace function public.log_epoch_columns(
  session_id uuid,
  epoch integer[],
  box_loss double precision[] default null,
  cls_loss double precision[] default null,
  dfl_loss double precision[] default null,
  total_loss double precision[] default null,
  val_box_loss double precision[] default null,
  val_cls_loss double precision[] default null,
  val_dfl_loss double precision[] default null,
  "precision" double precision[] default null,
  recall double precision[] default null,
  map50 double precision[] default null,
  map50_95 double precision[] default null,
  learning_rate double precision[] default null,
  epoch_time_seconds double precision[] default null,
  gpu_memory_mb double precision[] default null,
  extra jsonb[] default null
) returns integer
language plpgsql
set search_path = ''
as $$
declare
  n_rows integer := cardinality(log_epoch_columns.epoch);
  fields constant text[] := '{epoch,box_loss,cls_loss,dfl_loss,total_loss,val_box_loss,val_cls_loss,val_dfl_loss,precision,recall,map50,map50_95,learning_rate,epoch_time_seconds,gpu_memory_mb,extra}'::text[];
  lengths integer[];
  dims integer[];
  written integer;
begin
  perform mltrack_internal.writable_session(log_epoch_columns.session_id);
  if log_epoch_columns.epoch is null then
    perform mltrack_internal.reject('MT002', 'epoch', 'is required');
  elsif n_rows > 10000 then
    perform mltrack_internal.reject('MT003', 'epoch', 'must hold at most 10000 rows per call',
      n_rows::text, 'Send the rows in several calls.');
  end if;
  -- Element i of every array is row i: an array of another length (or shape) is a client bug
  -- that would silently shift values into the wrong epochs. A null array leaves its field out.
  lengths := array[n_rows, cardinality(log_epoch_columns.box_loss),
    cardinality(log_epoch_columns.cls_loss), cardinality(log_epoch_columns.dfl_loss),
    cardinality(log_epoch_columns.total_loss), cardinality(log_epoch_columns.val_box_loss),
    cardinality(log_epoch_columns.val_cls_loss), cardinality(log_epoch_columns.val_dfl_loss),
    cardinality(log_epoch_columns."precision"), cardinality(log_epoch_columns.recall),
    cardinality(log_epoch_columns.map50), cardinality(log_epoch_columns.map50_95),
    cardinality(log_epoch_columns.learning_rate), cardinality(log_epoch_columns.epoch_time_seconds),
    cardinality(log_epoch_columns.gpu_memory_mb), cardinality(log_epoch_columns.extra)];
  dims := array[array_ndims(log_epoch_columns.epoch), array_ndims(log_epoch_columns.box_loss),
    array_ndims(log_epoch_columns.cls_loss), array_ndims(log_epoch_columns.dfl_loss),
    array_ndims(log_epoch_columns.total_loss), array_ndims(log_epoch_columns.val_box_loss),
    array_ndims(log_epoch_columns.val_cls_loss), array_ndims(log_epoch_columns.val_dfl_loss),
    array_ndims(log_epoch_columns."precision"), array_ndims(log_epoch_columns.recall),
    array_ndims(log_epoch_columns.map50), array_ndims(log_epoch_columns.map50_95),
    array_ndims(log_epoch_columns.learning_rate), array_ndims(log_epoch_columns.epoch_time_seconds),
    array_ndims(log_epoch_columns.gpu_memory_mb), array_ndims(log_epoch_columns.extra)];
  for i in 1 .. cardinality(fields) loop
    if dims[i] > 1 then
      perform mltrack_internal.reject('MT001', fields[i], 'must be a one-dimensional array',
        dims[i] || ' dimensions');
    elsif lengths[i] <> n_rows then
      perform mltrack_internal.reject('MT001', fields[i], 'must have one value per epoch',
        lengths[i] || ' values for ' || n_rows || ' epochs',
        'Pass arrays of equal length, or null for a field left out.');
    end if;
  end loop;
  if array_position(log_epoch_columns.epoch, null) is not null then
    perform mltrack_internal.reject('MT002', 'epoch', 'is required in every row',
      'null at index ' || array_position(log_epoch_columns.epoch, null) - 1);
  end if;
  -- The same upsert as log_epochs: a value given replaces the old one, a null keeps it, and the
  -- last row of an epoch given twice wins.
  insert into public.training_metrics as m (
    session_id, epoch, box_loss, cls_loss, dfl_loss, total_loss, val_box_loss, val_cls_loss,
    val_dfl_loss, precision, recall, map50, map50_95, learning_rate, epoch_time_seconds,
    gpu_memory_mb, extra)
  select distinct on (r.epoch)
    -- "+ 0" turns -0 into 0, as the JSON path does (numeric has no negative zero).
    log_epoch_columns.session_id, r.epoch, r.box_loss + 0, r.cls_loss + 0, r.dfl_loss + 0,
    r.total_loss + 0, r.val_box_loss + 0, r.val_cls_loss + 0, r.val_dfl_loss + 0, r.precision + 0,
    r.recall + 0, r.map50 + 0, r.map50_95 + 0, r.learning_rate + 0, r.epoch_time_seconds + 0,
    r.gpu_memory_mb + 0, coalesce(r.extra, '{}')
  from unnest(log_epoch_columns.epoch, log_epoch_columns.box_loss, log_epoch_columns.cls_loss,
              log_epoch_columns.dfl_loss, log_epoch_columns.total_loss, log_epoch_columns.val_box_loss,
              log_epoch_columns.val_cls_loss, log_epoch_columns.val_dfl_loss,
              log_epoch_columns."precision", log_epoch_columns.recall, log_epoch_columns.map50,
              log_epoch_columns.map50_95, log_epoch_columns.learning_rate,
              log_epoch_columns.epoch_time_seconds, log_epoch_columns.gpu_memory_mb,
              log_epoch_columns.extra)
       with ordinality as r(epoch, box_loss, cls_loss, dfl_loss, total_loss, val_box_loss,
                            val_cls_loss, val_dfl_loss, precision, recall, map50, map50_95,
                            learning_rate, epoch_time_seconds, gpu_memory_mb, extra, ordinality)
  order by r.epoch, r.ordinality desc
  on conflict on constraint training_metrics_pkey do update set
    box_loss = coalesce(excluded.box_loss, m.box_loss),
    cls_loss = coalesce(excluded.cls_loss, m.cls_loss),
    dfl_loss = coalesce(excluded.dfl_loss, m.dfl_loss),
    total_loss = coalesce(excluded.total_loss, m.total_loss),
    val_box_loss = coalesce(excluded.val_box_loss, m.val_box_loss),
    val_cls_loss = coalesce(excluded.val_cls_loss, m.val_cls_loss),
    val_dfl_loss = coalesce(excluded.val_dfl_loss, m.val_dfl_loss),
    precision = coalesce(excluded.precision, m.precision),
    recall = coalesce(excluded.recall, m.recall),
    map50 = coalesce(excluded.map50, m.map50),
    map50_95 = coalesce(excluded.map50_95, m.map50_95),
    learning_rate = coalesce(excluded.learning_rate, m.learning_rate),
    epoch_time_seconds = coalesce(excluded.epoch_time_seconds, m.epoch_time_seconds),
    gpu_memory_mb = coalesce(excluded.gpu_memory_mb, m.gpu_memory_mb),
    extra = m.extra || excluded.extra,
    recorded_at = now();
  get diagnostics written = row_count;
  return written;
end
$$;

create or replace function public.create_hyperparameter_run(
  name text,
  search_space jsonb default '{}',
  objective text default 'map50_95',
  direction text default null,
  n_trials integer default null,
  model_type text default null,
  dataset_name text default null,
  run_id uuid default null
) returns public.hyperparameter_runs
language plpgsql
set search_path = ''
as $$
declare
  result public.hyperparameter_runs;
begin
  insert into public.hyperparameter_runs (
    id, name, search_space, objective, direction, n_trials, model_type, dataset_name)
  values (
    coalesce(create_hyperparameter_run.run_id, gen_random_uuid()), create_hyperparameter_run.name,
    coalesce(create_hyperparameter_run.search_space, '{}'),
    coalesce(create_hyperparameter_run.objective, 'map50_95'),
    -- Loss is minimised; every other objective (mAP, precision, recall) is maximised.
    coalesce(create_hyperparameter_run.direction,
             case when create_hyperparameter_run.objective = 'loss' then 'minimize' else 'maximize' end),
    create_hyperparameter_run.n_trials, create_hyperparameter_run.model_type,
    create_hyperparameter_run.dataset_name)
  -- A replay (the same run_id, perhaps several at once) returns the existing run - if it is yours.
  on conflict (id) do nothing
  returning * into result;
  if result.id is null then
    select * into result from public.hyperparameter_runs h where h.id = create_hyperparameter_run.run_id;
    if mltrack_internal.is_end_user() and result.owner_id is distinct from auth.uid() then
      perform mltrack_internal.reject('MT006', 'run_id',
        'belongs to another user: you may read the run but not write to it',
        create_hyperparameter_run.run_id::text, 'Leave run_id out to create a new run.');
    end if;
  end if;
  return result;
end
$$;

create or replace function public.record_benchmark(
  session_id uuid,
  avg_inference_ms double precision,
  min_inference_ms double precision default null,
  max_inference_ms double precision default null,
  p50_inference_ms double precision default null,
  p95_inference_ms double precision default null,
  fps double precision default null,
  device text default 'cpu',
  device_name text default null,
  model_format text default 'pytorch',
  dtype text default 'fp32',
  batch_size integer default 1,
  img_size integer default null,
  num_runs integer default null,
  warmup_runs integer default null,
  preprocess_ms double precision default null,
  postprocess_ms double precision default null,
  hardware_info jsonb default '{}',
  benchmark_id uuid default null
) returns public.model_benchmarks
language plpgsql
set search_path = ''
as $$
declare
  result public.model_benchmarks;
begin
  perform mltrack_internal.writable_session(record_benchmark.session_id);
  insert into public.model_benchmarks as b (
    id, session_id, avg_inference_ms, min_inference_ms, max_inference_ms, p50_inference_ms,
    p95_inference_ms, fps, device, device_name, model_format, dtype, batch_size, img_size,
    num_runs, warmup_runs, preprocess_ms, postprocess_ms, hardware_info)
  values (
    coalesce(record_benchmark.benchmark_id, gen_random_uuid()), record_benchmark.session_id,
    record_benchmark.avg_inference_ms, record_benchmark.min_inference_ms,
    record_benchmark.max_inference_ms, record_benchmark.p50_inference_ms,
    record_benchmark.p95_inference_ms, record_benchmark.fps,
    coalesce(record_benchmark.device, 'cpu'), record_benchmark.device_name,
    coalesce(record_benchmark.model_format, 'pytorch'), coalesce(record_benchmark.dtype, 'fp32'),
    coalesce(record_benchmark.batch_size, 1), record_benchmark.img_size, record_benchmark.num_runs,
    record_benchmark.warmup_runs, record_benchmark.preprocess_ms, record_benchmark.postprocess_ms,
    coalesce(record_benchmark.hardware_info, '{}'))
  -- A replayed benchmark (same benchmark_id) is recorded once.
  on conflict (id) do nothing
  returning * into result;
  if result.id is null then
    select * into result from public.model_benchmarks b where b.id = record_benchmark.benchmark_id;
    -- A benchmark_id is a replay only of a benchmark of the same session.
    if result.session_id is distinct from record_benchmark.session_id then
      perform mltrack_internal.reject('MT001', 'benchmark_id', 'is already the id of another session''s benchmark',
        record_benchmark.benchmark_id::text, 'Leave benchmark_id out to record a new benchmark.');
    end if;
  end if;
  return result;
end
$$;

-- Blank: nothing but white space, control characters and invisible format characters (zero-width
-- and no-break spaces, word joiners, byte order marks). The SDK's checks.BLANK is the same set.
create or replace function mltrack_internal.check_name(field text, v text, max_len integer)
returns boolean language sql volatile
as $$
  select case
    when v is null
      or v ~ '^[\u0001-\u0020\u007f-\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]*$' then
      mltrack_internal.reject('MT002', field, 'is required and must not be blank')
    when length(v) > max_len then
      mltrack_internal.reject('MT003', field, 'must be at most ' || max_len || ' characters',
                              length(v) || ' characters')
    else true
  end
$$;

-- Splinter's function_search_path_mutable: is_end_user is called, never inlined, so it pins its
-- search_path like every other function. The check helpers of the validation helpers migration
-- stay unpinned on purpose: a SET clause stops Postgres from inlining them into the CHECK
-- constraints, and they name every object with its schema instead (see that migration).
alter function mltrack_internal.is_end_user() set search_path = '';
