-- Columns the database derives are the database's alone, and a run whose heartbeat comes back
-- after the stale check failed it ends in the state that tells the truth.
--
-- Row-level security lets an owner update their own sessions directly (as a Supabase client
-- does). Without this guard an owner could set the summary (epochs_completed, best_*), the
-- fastest benchmark, a heartbeat ten years ahead (never marked stale), or rewrite the results of
-- a finished run (final_map50_95 = 1.0 with a 1 µs duration: rank 1 on the leaderboard).

alter table public.training_sessions add column heartbeat_lost_at timestamptz;
comment on column public.training_sessions.heartbeat_lost_at is
  'When the stale-heartbeat check last marked this run failed; kept when its heartbeat came back and the run went on.';

-- True when the stale check failed this row and nothing has ended it since: the run may come back.
create function mltrack_internal.heartbeat_lost(s public.training_sessions) returns boolean
language sql immutable
set search_path = ''
as $$
  select s.status = 'failed' and s.heartbeat_lost_at is not null
     and s.heartbeat_lost_at = s.completed_at
$$;

-- Derived columns: written by mltrack's triggers and security-definer functions only. Clients of
-- the API roles (anon, authenticated, service_role) writing a row directly - or through an SQL
-- API function, which runs with their rights - may not set them. A trusted database login (the
-- migrations' owner, a superuser) is not checked: it can disable any trigger anyway.
create function mltrack_internal.session_guard() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  derived text;
begin
  if tg_op = 'UPDATE' and new.epochs < old.epochs and exists (
      select from public.training_metrics m where m.session_id = new.id and m.epoch > new.epochs) then
    perform mltrack_internal.reject('MT001', 'epochs', 'must not be below an epoch already logged',
      new.epochs::text || ' < ' || (select max(m.epoch) from public.training_metrics m where m.session_id = new.id),
      'Delete the later epochs first, or keep the planned epochs.');
  end if;
  if pg_trigger_depth() > 1 or current_user not in ('anon', 'authenticated', 'service_role') then
    return new;
  end if;
  if tg_op = 'INSERT' then
    derived := case
      when new.current_epoch is not null then 'current_epoch'
      when new.epochs_completed <> 0 then 'epochs_completed'
      when new.best_epoch is not null then 'best_epoch'
      when new.best_map50 is not null then 'best_map50'
      when new.best_map50_95 is not null then 'best_map50_95'
      when new.best_inference_ms is not null then 'best_inference_ms'
      when new.best_fps is not null then 'best_fps'
      when new.heartbeat_lost_at is not null then 'heartbeat_lost_at'
      when new.started_at is not null then 'started_at'
      when new.completed_at is not null then 'completed_at'
    end;
  else
    derived := case
      when new.current_epoch is distinct from old.current_epoch then 'current_epoch'
      when new.epochs_completed is distinct from old.epochs_completed then 'epochs_completed'
      when new.best_epoch is distinct from old.best_epoch then 'best_epoch'
      when new.best_map50 is distinct from old.best_map50 then 'best_map50'
      when new.best_map50_95 is distinct from old.best_map50_95 then 'best_map50_95'
      when new.best_inference_ms is distinct from old.best_inference_ms then 'best_inference_ms'
      when new.best_fps is distinct from old.best_fps then 'best_fps'
      when new.heartbeat_lost_at is distinct from old.heartbeat_lost_at then 'heartbeat_lost_at'
      when new.started_at is distinct from old.started_at then 'started_at'
      when new.completed_at is distinct from old.completed_at then 'completed_at'
    end;
  end if;
  if derived is not null then
    perform mltrack_internal.reject('MT001', derived, 'is derived by the database and cannot be set', null,
      'Log epochs, benchmarks and heartbeats through the SQL API; the database keeps the summary.');
  end if;
  -- A heartbeat says "alive now": never in the future, or the run could never be found stale.
  if new.last_heartbeat_at > clock_timestamp()
     and (tg_op = 'INSERT' or new.last_heartbeat_at is distinct from old.last_heartbeat_at) then
    perform mltrack_internal.reject('MT001', 'last_heartbeat_at', 'must not be in the future',
      new.last_heartbeat_at::text, 'Call heartbeat(session_id) instead.');
  end if;
  -- The results of a finished run are final (only its model_path and notes may still change).
  if tg_op = 'UPDATE' and old.status in ('completed', 'failed', 'cancelled')
     and not mltrack_internal.heartbeat_lost(old) then
    derived := case
      when new.final_map50 is distinct from old.final_map50 then 'final_map50'
      when new.final_map50_95 is distinct from old.final_map50_95 then 'final_map50_95'
      when new.final_precision is distinct from old.final_precision then 'final_precision'
      when new.final_recall is distinct from old.final_recall then 'final_recall'
      when new.final_loss is distinct from old.final_loss then 'final_loss'
      when new.epochs is distinct from old.epochs then 'epochs'
    end;
    if derived is not null then
      perform mltrack_internal.reject('MT004', derived,
        'cannot change: the session is ' || old.status || ' and its results are final', null,
        'Start a new session to train again.');
    end if;
  end if;
  return new;
end
$$;

-- Named to fire before the state machine (triggers of one event fire in name order), so it
-- judges what the caller wrote, not what the state machine stamps.
create trigger training_sessions_derived_guard before insert or update on public.training_sessions
  for each row execute function mltrack_internal.session_guard();

-- The state machine, with one more edge (see the diagram in the session triggers migration):
--
--   failed (by the stale check, heartbeat_lost_at = completed_at) ──► running | completed | cancelled
--
-- A run marked failed because its heartbeat stopped may have been alive behind a broken link.
-- When it speaks again (a heartbeat, or its finish_session replayed from the spool) it goes on
-- running or ends as it says; heartbeat_lost_at keeps the record of what happened. A failure for
-- any other reason stays final.
create or replace function mltrack_internal.session_state_machine() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  best public.training_metrics;
  revived boolean := false;
begin
  -- An unknown status is an invalid value (MT001), not a transition (MT004).
  perform mltrack_internal.check_choice('status', new.status, '{pending,running,completed,failed,cancelled}', true);
  if tg_op = 'INSERT' then
    if new.status not in ('pending', 'running') then
      perform mltrack_internal.reject('MT004', 'status', 'of a new session must be pending or running',
                                      new.status, 'Create the session first, then finish it.');
    end if;
  elsif new.status is distinct from old.status then
    revived := mltrack_internal.heartbeat_lost(old) and new.status in ('running', 'completed', 'cancelled');
    if revived then
      -- The stale check's stamp and reason no longer describe the run.
      if new.completed_at is not distinct from old.completed_at then
        new.completed_at := null;
      end if;
      if new.status_reason is not distinct from old.status_reason then
        new.status_reason := null;
      end if;
    elsif old.status in ('completed', 'failed', 'cancelled') then
      perform mltrack_internal.reject('MT004', 'status',
        'cannot change: the session is already ' || old.status || ' and terminal states are final',
        new.status, 'Start a new session (or resume a running one) to train again.');
    elsif not ((old.status = 'pending' and new.status in ('running', 'failed', 'cancelled'))
            or (old.status = 'running' and new.status in ('completed', 'failed', 'cancelled'))) then
      perform mltrack_internal.reject('MT004', 'status',
        'cannot go from ' || old.status || ' to ' || new.status, new.status,
        'Allowed: pending -> running | failed | cancelled; running -> completed | failed | cancelled.');
    end if;
  end if;

  -- clock_timestamp, not now(): a session started and finished in one transaction still gets a
  -- positive duration.
  if new.status = 'running' and new.started_at is null then
    new.started_at := clock_timestamp();
  end if;
  if new.status = 'running' and (new.last_heartbeat_at is null or revived) then
    new.last_heartbeat_at := clock_timestamp();
  end if;
  if new.status in ('completed', 'failed', 'cancelled') and new.completed_at is null then
    new.completed_at := clock_timestamp();
  end if;

  if new.status = 'completed' and new.best_epoch is not null
     and (tg_op = 'INSERT' or old.status <> 'completed') then
    select * into best from public.training_metrics m
     where m.session_id = new.id and m.epoch = new.best_epoch;
    if found then
      new.final_map50 := coalesce(new.final_map50, best.map50);
      new.final_map50_95 := coalesce(new.final_map50_95, best.map50_95);
      new.final_precision := coalesce(new.final_precision, best.precision);
      new.final_recall := coalesce(new.final_recall, best.recall);
      new.final_loss := coalesce(new.final_loss, best.total_loss);
    end if;
  end if;
  return new;
end
$$;

create or replace function public.mark_stale_sessions(timeout_seconds integer default 120) returns setof uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  at timestamptz := clock_timestamp();
begin
  if mark_stale_sessions.timeout_seconds is null or mark_stale_sessions.timeout_seconds <= 0 then
    perform mltrack_internal.reject('MT001', 'timeout_seconds', 'must be a positive integer',
      mark_stale_sessions.timeout_seconds::text);
  end if;
  return query
  update public.training_sessions t
     set status = 'failed',
         completed_at = greatest(at, t.started_at + interval '1 microsecond'),
         heartbeat_lost_at = greatest(at, t.started_at + interval '1 microsecond'),
         status_reason = 'heartbeat lost: no heartbeat for ' || mark_stale_sessions.timeout_seconds
                         || ' seconds (last at ' || coalesce(t.last_heartbeat_at, t.started_at)::text || ')'
   where t.status = 'running'
     and coalesce(t.last_heartbeat_at, t.started_at, t.created_at)
         < at - make_interval(secs => mark_stale_sessions.timeout_seconds)
  returning t.id;
end
$$;

-- A heartbeat of a run the stale check failed brings it back to running (see above).
create or replace function public.heartbeat(session_id uuid) returns boolean
language plpgsql
set search_path = ''
as $$
declare
  stop boolean;
begin
  perform mltrack_internal.writable_session(heartbeat.session_id);
  update public.training_sessions t
     set last_heartbeat_at = clock_timestamp(),
         status = case when t.status = 'failed' then 'running' else t.status end
   where t.id = heartbeat.session_id
     and (t.status in ('pending', 'running') or mltrack_internal.heartbeat_lost(t))
  returning t.stop_requested into stop;
  if not found then
    select t.stop_requested into stop from public.training_sessions t where t.id = heartbeat.session_id;
  end if;
  return stop;
end
$$;
comment on function public.heartbeat is 'Marks the session alive (a run the stale check failed goes on running); returns true when a stop was requested.';

revoke all on function
  mltrack_internal.heartbeat_lost(public.training_sessions),
  mltrack_internal.session_guard()
from public, anon;
-- heartbeat() runs with the caller's rights.
grant execute on function mltrack_internal.heartbeat_lost(public.training_sessions)
  to authenticated, service_role;
