-- The SQL API for a training run. Both SDK transports (psycopg, and supabase-py's rpc) and the
-- edge function call these functions with the same named arguments.
--
-- The functions run with the caller's rights (security invoker): row-level security applies to
-- them exactly as to direct table writes. writable_session() turns "not yours" and "no such
-- session" into clear errors before a write would be silently filtered.

-- True when the caller is an end user (Supabase's anon/authenticated), whose writes are limited to
-- their own sessions. Trusted callers - service_role, a direct database login - write any session.
create function mltrack_internal.is_end_user() returns boolean
language sql stable
as $$
  select current_user in ('anon', 'authenticated')
      or coalesce(auth.role(), '') in ('anon', 'authenticated')
$$;

create function mltrack_internal.owns_run(run_id uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select exists (
    select from public.hyperparameter_runs h where h.id = owns_run.run_id and h.owner_id = auth.uid())
$$;

create function mltrack_internal.writable_session(session_id uuid) returns public.training_sessions
language plpgsql
set search_path = ''
as $$
declare
  found_session public.training_sessions;
begin
  if writable_session.session_id is null then
    perform mltrack_internal.reject('MT002', 'session_id', 'is required');
  end if;
  select * into found_session from public.training_sessions t where t.id = writable_session.session_id;
  if not found then
    perform mltrack_internal.reject('MT005', 'session_id', 'does not match any training session',
      writable_session.session_id::text, 'Start a session with start_session() first.');
  end if;
  if mltrack_internal.is_end_user() and found_session.owner_id is distinct from auth.uid() then
    perform mltrack_internal.reject('MT006', 'session_id',
      'belongs to another user: you may read it but not write to it',
      writable_session.session_id::text, 'Sign in as the owner, or use the service_role key on training machines.');
  end if;
  return found_session;
end
$$;

-- Checks a JSON batch (metrics or validation rows) before it is unpacked: an array of at most
-- max_rows objects whose keys are known and whose values have the right JSON type. Per-value
-- ranges are the table's CHECK constraints.
create function mltrack_internal.check_batch(
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
              or abs(e.value::numeric) between 1e-300 and 1e300))))
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

create function public.start_session(
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
  returning * into result;
  return result;
end
$$;
comment on function public.start_session is 'Creates a training session (running unless status says pending). Replaying with the same session_id returns the existing session.';

-- Upserts a batch of epochs of one session. Each element is an object with `epoch` and any of the
-- metric columns; a value given again replaces the old one, a value left out keeps it, so a
-- replayed batch changes nothing and a later partial write (say, validation losses) merges in.
create function public.log_epochs(session_id uuid, metrics jsonb) returns integer
language plpgsql
set search_path = ''
as $$
declare
  written integer;
begin
  perform mltrack_internal.writable_session(log_epochs.session_id);
  perform mltrack_internal.check_batch('metrics', log_epochs.metrics,
    '{box_loss,cls_loss,dfl_loss,total_loss,val_box_loss,val_cls_loss,val_dfl_loss,precision,recall,map50,map50_95,learning_rate,epoch_time_seconds,gpu_memory_mb}',
    '{epoch}', '{}', 10000);
  if jsonb_path_exists(log_epochs.metrics, '$[*] ? (!exists(@.epoch) || @.epoch == null)') then
    perform mltrack_internal.reject('MT002', 'epoch', 'is required in every row of metrics');
  end if;
  insert into public.training_metrics as m (
    session_id, epoch, box_loss, cls_loss, dfl_loss, total_loss, val_box_loss, val_cls_loss,
    val_dfl_loss, precision, recall, map50, map50_95, learning_rate, epoch_time_seconds,
    gpu_memory_mb, extra)
  select distinct on (r.epoch)
    log_epochs.session_id, r.epoch, r.box_loss, r.cls_loss, r.dfl_loss, r.total_loss, r.val_box_loss,
    r.val_cls_loss, r.val_dfl_loss, r.precision, r.recall, r.map50, r.map50_95, r.learning_rate,
    r.epoch_time_seconds, r.gpu_memory_mb, coalesce(r.extra, '{}')
  from jsonb_populate_recordset(null::public.training_metrics, log_epochs.metrics) with ordinality as r
  -- The last row of an epoch given twice in one batch wins.
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
comment on function public.log_epochs is 'Upserts a JSON array of epoch rows of one session; returns the number of rows written.';
