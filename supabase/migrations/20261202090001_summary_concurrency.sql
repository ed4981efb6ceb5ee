-- A session's summary stays true under concurrent writers and under any direct write to
-- training_metrics that row-level security allows.
--
-- Concurrent batches of one session used to decide "is this batch's best better than the
-- session's best?" from the snapshot their statement started with, then apply that stale verdict
-- to the session row another batch had just updated (16 writers: best_epoch wrong in 27 of 30
-- rounds). Now every metrics trigger first locks its sessions (in id order, so two batches that
-- touch the same sessions take turns instead of deadlocking); under READ COMMITTED each later
-- statement of the trigger takes a fresh snapshot, which sees every batch committed before the
-- lock was granted. The comparison also reads the session row being updated (never a copy), so it
-- stays right even where the lock is not needed.
--
-- An UPDATE of metric rows may move rows between epochs or sessions, or lower the best epoch's
-- value: those sessions are recomputed from their rows, as a DELETE always was.

-- The helpers below are called only from the (security definer) metrics triggers.
create function mltrack_internal.lock_sessions(ids uuid[]) returns void
language plpgsql
set search_path = ''
as $$
begin
  perform from public.training_sessions s
   where s.id = any (lock_sessions.ids)
   order by s.id
     for no key update;
end
$$;

-- Current epoch, epoch count and best epoch of each session, from all of its rows.
create function mltrack_internal.recompute_summaries(ids uuid[]) returns void
language sql
set search_path = ''
as $$
  update public.training_sessions s
     set current_epoch = (select max(m.epoch) from public.training_metrics m where m.session_id = s.id),
         epochs_completed = (select count(*) from public.training_metrics m where m.session_id = s.id),
         (best_epoch, best_map50, best_map50_95) = (
           select m.epoch, m.map50, m.map50_95 from public.training_metrics m
            where m.session_id = s.id and m.map50_95 is not null
            order by m.map50_95 desc, m.map50 desc nulls last, m.epoch
            limit 1)
   where s.id = any (recompute_summaries.ids)
$$;

-- Every epoch lies within [0, epochs] of its session: a rule across two tables.
create function mltrack_internal.check_epochs_in_range(session_ids uuid[], max_epochs integer[])
returns void
language plpgsql
set search_path = ''
as $$
declare
  bad record;
begin
  select b.max_epoch, s.epochs into bad
    from unnest(check_epochs_in_range.session_ids, check_epochs_in_range.max_epochs) b(session_id, max_epoch)
    join public.training_sessions s on s.id = b.session_id
   where b.max_epoch > s.epochs
   limit 1;
  if found then
    perform mltrack_internal.reject('MT001', 'epoch',
      'must be between 0 and the session''s epochs (' || bad.epochs || ')', bad.max_epoch::text,
      'Epochs count from 0; raise the session''s epochs if the run was extended.');
  end if;
end
$$;

create or replace function mltrack_internal.metrics_written() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  batch record;
  notified bigint;
begin
  select array_agg(g.session_id order by g.session_id) as ids,
         array_agg(g.max_epoch order by g.session_id) as max_epochs
    into batch
    from (select n.session_id, max(n.epoch) as max_epoch from new_rows n group by n.session_id) g;
  if batch.ids is null then
    return null;
  end if;
  perform mltrack_internal.lock_sessions(batch.ids);
  perform mltrack_internal.check_epochs_in_range(batch.ids, batch.max_epochs);

  -- One pass per batch: aggregate the new rows per session, move each session's summary on, notify.
  with agg as (
    select n.session_id, max(n.epoch) as max_epoch, count(*) as n_rows, min(n.epoch) as min_epoch
      from new_rows n
     group by n.session_id
  ), top as (
    select distinct on (n.session_id) n.session_id, n.epoch, n.map50, n.map50_95
      from new_rows n
     where n.map50_95 is not null
     order by n.session_id, n.map50_95 desc, n.map50 desc nulls last, n.epoch
  ), updated as (
    update public.training_sessions s
       set current_epoch = greatest(s.current_epoch, b.max_epoch),
           epochs_completed = s.epochs_completed + b.n_rows,
           -- The first epoch of a pending session means it is running.
           status = case when s.status = 'pending' then 'running' else s.status end,
           last_heartbeat_at = case when s.status in ('pending', 'running') then clock_timestamp()
                                    else s.last_heartbeat_at end,
           -- The better of the batch's best and the session's best, by the one order used
           -- everywhere (mAP50-95, then mAP50, then the earlier epoch), read from this row.
           (best_epoch, best_map50, best_map50_95) = (
             select c.epoch, c.map50, c.map50_95
               from (values (t.epoch, t.map50, t.map50_95),
                            (s.best_epoch, s.best_map50, s.best_map50_95)) c(epoch, map50, map50_95)
              where c.map50_95 is not null
              order by c.map50_95 desc, c.map50 desc nulls last, c.epoch
              limit 1)
      from agg b
      left join top t on t.session_id = b.session_id
     where s.id = b.session_id
    returning b.session_id, b.min_epoch, b.max_epoch, b.n_rows
  )
  select count(pg_notify('mltrack_changes', json_build_object(
           'table', 'training_metrics', 'op', 'INSERT', 'session_id', u.session_id,
           'count', u.n_rows, 'min_epoch', u.min_epoch, 'max_epoch', u.max_epoch)::text))
    into notified
    from updated u;
  return null;
end
$$;

create function mltrack_internal.metrics_updated() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  ids uuid[];
  batch record;
begin
  -- INSERT ... ON CONFLICT DO UPDATE fires this with empty transition tables when every row was new.
  if not exists (select from new_rows) then
    return null;
  end if;
  select array_agg(distinct x.session_id order by x.session_id) into ids
    from (select n.session_id from new_rows n union all select o.session_id from old_rows o) x;
  perform mltrack_internal.lock_sessions(ids);
  select array_agg(g.session_id order by g.session_id) as ids,
         array_agg(g.max_epoch order by g.session_id) as max_epochs
    into batch
    from (select n.session_id, max(n.epoch) as max_epoch from new_rows n group by n.session_id) g;
  perform mltrack_internal.check_epochs_in_range(batch.ids, batch.max_epochs);
  if exists (select n.session_id, n.epoch from new_rows n
             except select o.session_id, o.epoch from old_rows o) then
    -- Rows moved to other epochs or sessions (a direct UPDATE): recount everything.
    perform mltrack_internal.recompute_summaries(ids);
  else
    -- Values rewritten in place (the upsert's update half): the epochs are the same, the best
    -- may have moved. (The count must not be recomputed here: the same upsert's INSERT half
    -- adds its new rows to it, and may have run first or not yet.)
    update public.training_sessions s
       set (best_epoch, best_map50, best_map50_95) = (
             select m.epoch, m.map50, m.map50_95 from public.training_metrics m
              where m.session_id = s.id and m.map50_95 is not null
              order by m.map50_95 desc, m.map50 desc nulls last, m.epoch
              limit 1)
     where s.id = any (ids);
  end if;
  -- Rewritten epochs are a sign of life of a live run, as new ones are.
  update public.training_sessions s
     set last_heartbeat_at = clock_timestamp()
   where s.id = any (batch.ids) and s.status = 'running';
  perform pg_notify('mltrack_changes', json_build_object(
            'table', 'training_metrics', 'op', 'UPDATE', 'session_id', n.session_id,
            'count', count(*), 'min_epoch', min(n.epoch), 'max_epoch', max(n.epoch))::text)
     from new_rows n
    group by n.session_id;
  return null;
end
$$;

create or replace function mltrack_internal.metrics_deleted() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  ids uuid[];
begin
  select array_agg(distinct o.session_id order by o.session_id) into ids from old_rows o;
  if ids is null then
    return null;
  end if;
  perform mltrack_internal.lock_sessions(ids);
  perform mltrack_internal.recompute_summaries(ids);
  perform pg_notify('mltrack_changes', json_build_object(
            'table', 'training_metrics', 'op', 'DELETE', 'session_id', o.session_id,
            'count', count(*), 'min_epoch', min(o.epoch), 'max_epoch', max(o.epoch))::text)
     from old_rows o
    group by o.session_id;
  return null;
end
$$;

drop trigger training_metrics_updated on public.training_metrics;
create trigger training_metrics_updated after update on public.training_metrics
  referencing old table as old_rows new table as new_rows
  for each statement execute function mltrack_internal.metrics_updated();

revoke all on function
  mltrack_internal.lock_sessions(uuid[]),
  mltrack_internal.recompute_summaries(uuid[]),
  mltrack_internal.check_epochs_in_range(uuid[], integer[]),
  mltrack_internal.metrics_updated()
from public, anon;
