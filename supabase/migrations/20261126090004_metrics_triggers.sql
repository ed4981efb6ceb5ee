-- Triggers that keep a session's summary current from its metrics and benchmarks, and the
-- change notifications that direct Postgres listeners (LISTEN mltrack_changes) receive.
--
-- Metrics arrive in batches, so their triggers run once per statement over the transition table
-- `new_rows`: a batch of a thousand epochs updates its session once, not a thousand times.

create function mltrack_internal.metrics_written() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  bad record;
begin
  -- INSERT ... ON CONFLICT DO UPDATE fires the AFTER UPDATE statement trigger too, with an empty
  -- transition table when every row was new: nothing to do then.
  if not exists (select from new_rows) then
    return null;
  end if;

  if tg_op = 'UPDATE' then
    -- A rewritten best epoch may no longer be the best: recompute those sessions from all rows.
    update public.training_sessions s
       set (best_epoch, best_map50, best_map50_95) = (
             select m.epoch, m.map50, m.map50_95 from public.training_metrics m
              where m.session_id = s.id and m.map50_95 is not null
              order by m.map50_95 desc, m.map50 desc nulls last, m.epoch
              limit 1)
     where s.id in (select n.session_id from new_rows n
                      join public.training_sessions b on b.id = n.session_id and b.best_epoch = n.epoch);
  end if;

  -- One pass per batch: aggregate the new rows per session, move each session's summary on,
  -- notify, and check that every epoch lies within [0, epochs] of its session - a rule across two
  -- tables. A batch that breaks it raises below, which rolls the whole statement back.
  with batch as (
    select n.session_id, max(n.epoch) as max_epoch, count(*) as n_rows, min(n.epoch) as min_epoch
      from new_rows n
     group by n.session_id
  ), top as (
    select distinct on (n.session_id) n.session_id, n.epoch, n.map50, n.map50_95
      from new_rows n
     where n.map50_95 is not null
     order by n.session_id, n.map50_95 desc, n.map50 desc nulls last, n.epoch
  ), merged as (
    select b.session_id, b.max_epoch, b.min_epoch, b.n_rows, s.epochs, t.epoch, t.map50, t.map50_95,
           t.epoch is not null and (
             s.best_epoch is null
             or t.map50_95 > s.best_map50_95
             or (t.map50_95 = s.best_map50_95 and coalesce(t.map50, -1) > coalesce(s.best_map50, -1))
             or (t.map50_95 = s.best_map50_95 and coalesce(t.map50, -1) = coalesce(s.best_map50, -1)
                 and t.epoch < s.best_epoch)) as better
      from batch b
      join public.training_sessions s on s.id = b.session_id
      left join top t on t.session_id = b.session_id
  ), updated as (
    update public.training_sessions s
       set current_epoch = greatest(s.current_epoch, m.max_epoch),
           epochs_completed = s.epochs_completed + case when tg_op = 'INSERT' then m.n_rows else 0 end,
           -- The first epoch of a pending session means it is running.
           status = case when s.status = 'pending' then 'running' else s.status end,
           last_heartbeat_at = case when s.status in ('pending', 'running') then clock_timestamp()
                                    else s.last_heartbeat_at end,
           best_epoch = case when m.better then m.epoch else s.best_epoch end,
           best_map50 = case when m.better then m.map50 else s.best_map50 end,
           best_map50_95 = case when m.better then m.map50_95 else s.best_map50_95 end
      from merged m
     where s.id = m.session_id
    returning m.session_id, m.min_epoch, m.max_epoch, m.n_rows
  ), notified as (
    select count(pg_notify('mltrack_changes', json_build_object(
             'table', 'training_metrics', 'op', tg_op, 'session_id', u.session_id,
             'count', u.n_rows, 'min_epoch', u.min_epoch, 'max_epoch', u.max_epoch)::text)) as n
      from updated u
  )
  select m.max_epoch, m.epochs, (select n from notified) as notified
    into bad
    from merged m
   order by m.max_epoch > m.epochs desc
   limit 1;
  if bad.max_epoch > bad.epochs then
    perform mltrack_internal.reject('MT001', 'epoch',
      'must be between 0 and the session''s epochs (' || bad.epochs || ')', bad.max_epoch::text,
      'Epochs count from 0; raise the session''s epochs if the run was extended.');
  end if;
  return null;
end
$$;

create function mltrack_internal.metrics_deleted() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.training_sessions s
     set current_epoch = (select max(m.epoch) from public.training_metrics m where m.session_id = s.id),
         epochs_completed = (select count(*) from public.training_metrics m where m.session_id = s.id),
         (best_epoch, best_map50, best_map50_95) = (
           select m.epoch, m.map50, m.map50_95 from public.training_metrics m
            where m.session_id = s.id and m.map50_95 is not null
            order by m.map50_95 desc, m.map50 desc nulls last, m.epoch
            limit 1)
   where s.id in (select distinct o.session_id from old_rows o);
  perform pg_notify('mltrack_changes', json_build_object(
            'table', 'training_metrics', 'op', 'DELETE', 'session_id', o.session_id,
            'count', count(*), 'min_epoch', min(o.epoch), 'max_epoch', max(o.epoch))::text)
     from old_rows o
    group by o.session_id;
  return null;
end
$$;

create trigger training_metrics_inserted after insert on public.training_metrics
  referencing new table as new_rows
  for each statement execute function mltrack_internal.metrics_written();
create trigger training_metrics_updated after update on public.training_metrics
  referencing new table as new_rows
  for each statement execute function mltrack_internal.metrics_written();
create trigger training_metrics_deleted after delete on public.training_metrics
  referencing old table as old_rows
  for each statement execute function mltrack_internal.metrics_deleted();

-- Benchmarks: fps follows from the mean latency when not measured; the session keeps its fastest.
create function mltrack_internal.benchmark_defaults() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' and new.fps is not distinct from old.fps
     and (new.avg_inference_ms, new.batch_size) is distinct from (old.avg_inference_ms, old.batch_size)
     and old.fps is not distinct from 1000.0 * old.batch_size / old.avg_inference_ms then
    new.fps := null;  -- it was computed: compute it again from the new latency
  end if;
  if new.fps is null and new.avg_inference_ms > 0 then
    new.fps := 1000.0 * new.batch_size / new.avg_inference_ms;
  end if;
  return new;
end
$$;

create function mltrack_internal.benchmark_written() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  sid uuid;
begin
  foreach sid in array array_remove(array[
      case when tg_op <> 'INSERT' then old.session_id end,
      case when tg_op <> 'DELETE' then new.session_id end], null) loop
    update public.training_sessions s
       set (best_inference_ms, best_fps) = (
             select b.avg_inference_ms, b.fps from public.model_benchmarks b
              where b.session_id = s.id
              order by b.avg_inference_ms, b.created_at
              limit 1)
     where s.id = sid;
  end loop;
  return null;
end
$$;

create trigger model_benchmarks_defaults before insert or update on public.model_benchmarks
  for each row execute function mltrack_internal.benchmark_defaults();
create trigger model_benchmarks_written after insert or update or delete on public.model_benchmarks
  for each row execute function mltrack_internal.benchmark_written();

-- Row changes of the small tables: one notification per row with its id and session id.
create function mltrack_internal.notify_row_change() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  row_json jsonb;
begin
  row_json := case when tg_op = 'DELETE' then to_jsonb(old) else to_jsonb(new) end;
  perform pg_notify('mltrack_changes', json_build_object(
    'table', tg_table_name, 'op', tg_op, 'id', row_json -> 'id',
    'session_id', case when tg_table_name = 'training_sessions' then row_json -> 'id'
                       else row_json -> 'session_id' end)::text);
  return null;
end
$$;

-- Validation results arrive a whole class table at a time: one notification per session.
create function mltrack_internal.notify_validation_change() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform pg_notify('mltrack_changes', json_build_object(
            'table', tg_table_name, 'op', tg_op, 'session_id', n.session_id, 'count', count(*))::text)
     from new_rows n
    group by n.session_id;
  return null;
end
$$;

create trigger training_sessions_notify after insert or update or delete on public.training_sessions
  for each row execute function mltrack_internal.notify_row_change();
create trigger training_datasets_notify after insert or update or delete on public.training_datasets
  for each row execute function mltrack_internal.notify_row_change();
create trigger hyperparameter_runs_notify after insert or update or delete on public.hyperparameter_runs
  for each row execute function mltrack_internal.notify_row_change();
create trigger model_benchmarks_notify after insert or update or delete on public.model_benchmarks
  for each row execute function mltrack_internal.notify_row_change();
create trigger validation_results_notify_insert after insert on public.validation_results
  referencing new table as new_rows
  for each statement execute function mltrack_internal.notify_validation_change();
create trigger validation_results_notify_update after update on public.validation_results
  referencing new table as new_rows
  for each statement execute function mltrack_internal.notify_validation_change();
