-- The SQL API, continued: one epoch, finishing, heartbeats, stop requests, stale sessions.

create function public.log_epoch(
  session_id uuid,
  epoch integer,
  box_loss double precision default null,
  cls_loss double precision default null,
  dfl_loss double precision default null,
  total_loss double precision default null,
  val_box_loss double precision default null,
  val_cls_loss double precision default null,
  val_dfl_loss double precision default null,
  "precision" double precision default null,
  recall double precision default null,
  map50 double precision default null,
  map50_95 double precision default null,
  learning_rate double precision default null,
  epoch_time_seconds double precision default null,
  gpu_memory_mb double precision default null,
  extra jsonb default '{}'
) returns public.training_metrics
language plpgsql
set search_path = ''
as $$
declare
  result public.training_metrics;
begin
  if log_epoch.epoch is null then
    perform mltrack_internal.reject('MT002', 'epoch', 'is required');
  end if;
  if log_epoch.extra is not null and jsonb_typeof(log_epoch.extra) <> 'object' then
    perform mltrack_internal.reject('MT001', 'extra', 'must be a JSON object', jsonb_typeof(log_epoch.extra));
  end if;
  -- One write path for one epoch and for many: the batch function with a one-row batch.
  perform public.log_epochs(log_epoch.session_id, jsonb_build_array(jsonb_build_object(
    'epoch', log_epoch.epoch, 'box_loss', log_epoch.box_loss, 'cls_loss', log_epoch.cls_loss,
    'dfl_loss', log_epoch.dfl_loss, 'total_loss', log_epoch.total_loss,
    'val_box_loss', log_epoch.val_box_loss, 'val_cls_loss', log_epoch.val_cls_loss,
    'val_dfl_loss', log_epoch.val_dfl_loss, 'precision', log_epoch."precision",
    'recall', log_epoch.recall, 'map50', log_epoch.map50, 'map50_95', log_epoch.map50_95,
    'learning_rate', log_epoch.learning_rate, 'epoch_time_seconds', log_epoch.epoch_time_seconds,
    'gpu_memory_mb', log_epoch.gpu_memory_mb, 'extra', coalesce(log_epoch.extra, '{}'))));
  select * into result from public.training_metrics m
   where m.session_id = log_epoch.session_id and m.epoch = log_epoch.epoch;
  return result;
end
$$;
comment on function public.log_epoch is 'Upserts one epoch of metrics (values left out keep what was logged before).';

create function public.finish_session(
  session_id uuid,
  status text default 'completed',
  status_reason text default null,
  final_map50 double precision default null,
  final_map50_95 double precision default null,
  final_precision double precision default null,
  final_recall double precision default null,
  final_loss double precision default null,
  model_path text default null,
  completed_at timestamptz default null
) returns public.training_sessions
language plpgsql
set search_path = ''
as $$
declare
  result public.training_sessions;
begin
  perform mltrack_internal.writable_session(finish_session.session_id);
  perform mltrack_internal.check_choice('status', finish_session.status, '{completed,failed,cancelled}', true);
  -- Finishing twice with the same status is a no-op for the status; the state machine trigger
  -- rejects any other change of a terminal session.
  update public.training_sessions t
     set status = finish_session.status,
         status_reason = coalesce(finish_session.status_reason, t.status_reason),
         final_map50 = coalesce(finish_session.final_map50, t.final_map50),
         final_map50_95 = coalesce(finish_session.final_map50_95, t.final_map50_95),
         final_precision = coalesce(finish_session.final_precision, t.final_precision),
         final_recall = coalesce(finish_session.final_recall, t.final_recall),
         final_loss = coalesce(finish_session.final_loss, t.final_loss),
         model_path = coalesce(finish_session.model_path, t.model_path),
         completed_at = coalesce(finish_session.completed_at, t.completed_at)
   where t.id = finish_session.session_id
  returning * into result;
  return result;
end
$$;
comment on function public.finish_session is 'Ends a session as completed, failed or cancelled; final metrics left out come from the best epoch.';

create function public.heartbeat(session_id uuid) returns boolean
language plpgsql
set search_path = ''
as $$
declare
  stop boolean;
begin
  perform mltrack_internal.writable_session(heartbeat.session_id);
  update public.training_sessions t
     set last_heartbeat_at = clock_timestamp()
   where t.id = heartbeat.session_id and t.status in ('pending', 'running')
  returning t.stop_requested into stop;
  if not found then
    select t.stop_requested into stop from public.training_sessions t where t.id = heartbeat.session_id;
  end if;
  return stop;
end
$$;
comment on function public.heartbeat is 'Marks the session alive; returns true when a stop was requested.';

create function public.request_stop(session_id uuid, reason text default null)
returns public.training_sessions
language plpgsql
set search_path = ''
as $$
declare
  result public.training_sessions;
begin
  result := mltrack_internal.writable_session(request_stop.session_id);
  if result.status in ('completed', 'failed', 'cancelled') then
    perform mltrack_internal.reject('MT004', 'status', 'is already ' || result.status || ': nothing to stop',
      result.status);
  end if;
  update public.training_sessions t
     set stop_requested = true,
         status_reason = coalesce(request_stop.reason, t.status_reason, 'stop requested')
   where t.id = request_stop.session_id
  returning * into result;
  return result;
end
$$;
comment on function public.request_stop is 'Asks the training process to stop; its next heartbeat returns true.';

-- Running sessions whose last sign of life is older than the timeout are marked failed. Runs with
-- the owner's rights: a scheduler (pg_cron) or a service_role caller cleans up every user's runs.
create function public.mark_stale_sessions(timeout_seconds integer default 120) returns setof uuid
language plpgsql
security definer
set search_path = ''
as $$
begin
  if mark_stale_sessions.timeout_seconds is null or mark_stale_sessions.timeout_seconds <= 0 then
    perform mltrack_internal.reject('MT001', 'timeout_seconds', 'must be a positive integer',
      mark_stale_sessions.timeout_seconds::text);
  end if;
  return query
  update public.training_sessions t
     set status = 'failed',
         status_reason = 'heartbeat lost: no heartbeat for ' || mark_stale_sessions.timeout_seconds
                         || ' seconds (last at ' || coalesce(t.last_heartbeat_at, t.started_at)::text || ')'
   where t.status = 'running'
     and coalesce(t.last_heartbeat_at, t.started_at, t.created_at)
         < clock_timestamp() - make_interval(secs => mark_stale_sessions.timeout_seconds)
  returning t.id;
end
$$;
comment on function public.mark_stale_sessions is 'Marks running sessions without a heartbeat for timeout_seconds as failed (heartbeat lost); returns their ids.';
