-- Triggers on sessions: updated_at, the run-state machine, final metrics, hyperparameter runs.

create function mltrack_internal.touch_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end
$$;

create trigger training_sessions_updated_at before update on public.training_sessions
  for each row execute function mltrack_internal.touch_updated_at();
create trigger training_datasets_updated_at before update on public.training_datasets
  for each row execute function mltrack_internal.touch_updated_at();
create trigger hyperparameter_runs_updated_at before update on public.hyperparameter_runs
  for each row execute function mltrack_internal.touch_updated_at();

-- The run-state machine, written down here where it is enforced and nowhere else:
--
--   pending ──► running ──► completed
--      │           ├──────► failed
--      │           └──────► cancelled
--      └──────────────────► failed | cancelled
--
-- A session is created pending or running. completed, failed and cancelled are terminal: once
-- there, the status never changes again (other columns, such as model_path, may still be set).
-- The database stamps started_at when a session starts running and completed_at when it reaches a
-- terminal state, unless the caller gives them. Completing fills every final metric the caller
-- left empty from the best epoch (highest mAP50-95, then mAP50, then the earliest epoch).
create function mltrack_internal.session_state_machine() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  best public.training_metrics;
begin
  -- An unknown status is an invalid value (MT001), not a transition (MT004).
  perform mltrack_internal.check_choice('status', new.status, '{pending,running,completed,failed,cancelled}', true);
  if tg_op = 'INSERT' then
    if new.status not in ('pending', 'running') then
      perform mltrack_internal.reject('MT004', 'status', 'of a new session must be pending or running',
                                      new.status, 'Create the session first, then finish it.');
    end if;
  elsif new.status is distinct from old.status then
    if old.status in ('completed', 'failed', 'cancelled') then
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
  if new.status = 'running' and new.last_heartbeat_at is null then
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

create trigger training_sessions_state_machine before insert on public.training_sessions
  for each row execute function mltrack_internal.session_state_machine();
-- Most updates of a session are its summary moving on (one per metrics batch); the state machine
-- has nothing to do for those, so it runs only when the status changes or a stamp it owns is empty.
create trigger training_sessions_state_machine_update before update on public.training_sessions
  for each row
  when (old.status is distinct from new.status
        or (new.status = 'running' and (new.started_at is null or new.last_heartbeat_at is null))
        or (new.status in ('completed', 'failed', 'cancelled') and new.completed_at is null))
  execute function mltrack_internal.session_state_machine();

-- A hyperparameter run's best trial is its best completed session by the run's objective.
create function mltrack_internal.refresh_hyperparameter_run(run_id uuid) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  run public.hyperparameter_runs;
  best record;
begin
  select * into run from public.hyperparameter_runs where id = run_id;
  if not found then
    return;
  end if;
  select s.id, s.config,
         case run.objective
           when 'map50_95' then s.final_map50_95
           when 'map50' then s.final_map50
           when 'precision' then s.final_precision
           when 'recall' then s.final_recall
           when 'loss' then s.final_loss
         end as value
    into best
    from public.training_sessions s
   where s.hyperparameter_run_id = run_id and s.status = 'completed'
   order by case when run.direction = 'maximize' then -1 else 1 end
            * case run.objective
                when 'map50_95' then s.final_map50_95
                when 'map50' then s.final_map50
                when 'precision' then s.final_precision
                when 'recall' then s.final_recall
                when 'loss' then s.final_loss
              end asc nulls last,
            s.completed_at asc
   limit 1;
  update public.hyperparameter_runs h
     set best_session_id = best.id,
         best_value = best.value,
         best_params = best.config,
         trials_started = (select count(*) from public.training_sessions s
                            where s.hyperparameter_run_id = run_id),
         trials_completed = (select count(*) from public.training_sessions s
                              where s.hyperparameter_run_id = run_id
                                and s.status in ('completed', 'failed', 'cancelled'))
   where h.id = run_id;
end
$$;

create function mltrack_internal.session_hyperparameter_run_changed() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if (tg_op = 'DELETE' or (tg_op = 'UPDATE' and old.hyperparameter_run_id is distinct from new.hyperparameter_run_id))
     and old.hyperparameter_run_id is not null then
    perform mltrack_internal.refresh_hyperparameter_run(old.hyperparameter_run_id);
  end if;
  if tg_op in ('INSERT', 'UPDATE') and new.hyperparameter_run_id is not null
     and (tg_op = 'INSERT' or new.hyperparameter_run_id is distinct from old.hyperparameter_run_id
          or new.status is distinct from old.status
          or new.final_map50_95 is distinct from old.final_map50_95
          or new.final_map50 is distinct from old.final_map50
          or new.final_precision is distinct from old.final_precision
          or new.final_recall is distinct from old.final_recall
          or new.final_loss is distinct from old.final_loss) then
    perform mltrack_internal.refresh_hyperparameter_run(new.hyperparameter_run_id);
  end if;
  return null;
end
$$;

-- Only sessions that are (or were) trials of a hyperparameter run concern it.
create trigger training_sessions_hyperparameter_run_insert after insert on public.training_sessions
  for each row when (new.hyperparameter_run_id is not null)
  execute function mltrack_internal.session_hyperparameter_run_changed();
create trigger training_sessions_hyperparameter_run_update after update on public.training_sessions
  for each row when (old.hyperparameter_run_id is not null or new.hyperparameter_run_id is not null)
  execute function mltrack_internal.session_hyperparameter_run_changed();
create trigger training_sessions_hyperparameter_run_delete after delete on public.training_sessions
  for each row when (old.hyperparameter_run_id is not null)
  execute function mltrack_internal.session_hyperparameter_run_changed();
