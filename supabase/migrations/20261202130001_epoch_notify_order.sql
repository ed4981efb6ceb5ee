-- Epoch batches notify their metrics before the session they moved on.
--
-- Migration 20261202100001 (append_epochs) made the summary trigger update each session of a
-- batch through its primary key, and sent the metrics' notification after that update: a
-- listener heard of the session's UPDATE (new current_epoch, best) before the epochs that moved
-- it, the reverse of the order before the append path. A client that reads the new epochs when
-- it hears of them then read a session ahead of them. The trigger now notifies the metrics
-- first; the session's UPDATE notifies at the end of its update. Nothing else changes: the same
-- rows, summary and rules; a batch refused by the epoch check still rolls both back.

create or replace function mltrack_internal.metrics_written() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  batch record;
  session_epochs integer;
begin
  -- One pass over the batch: per session, in id order, its epoch range, its row count and its
  -- best row by the one order used everywhere (mAP50-95, then mAP50 with a missing one last, then
  -- the earlier epoch) - the greatest [map50_95, map50 or -1, -epoch], as fractions lie in [0, 1].
  select array_agg(g.session_id order by g.session_id) as ids,
         array_agg(g.max_epoch order by g.session_id) as max_epochs,
         array_agg(g.min_epoch order by g.session_id) as min_epochs,
         array_agg(g.n_rows order by g.session_id) as counts,
         array_agg(-g.top[3]::integer order by g.session_id) as top_epochs,
         array_agg(nullif(g.top[2], -1) order by g.session_id) as top_map50s,
         array_agg(g.top[1] order by g.session_id) as top_map50_95s
    into batch
    from (select n.session_id, max(n.epoch) as max_epoch, min(n.epoch) as min_epoch,
                 count(*) as n_rows,
                 max(array[n.map50_95, coalesce(n.map50, -1), -n.epoch])
                   filter (where n.map50_95 is not null) as top
            from new_rows n
           group by n.session_id) g;

  -- Each session in id order (two batches that touch the same sessions take turns instead of
  -- deadlocking): the update locks its row and computes from the newest version of it, which
  -- also gives the epochs the batch must lie within. A batch that breaks that rule raises, which
  -- rolls the whole statement back.
  for i in 1 .. coalesce(cardinality(batch.ids), 0) loop
    -- The metrics' notification first, as before: a listener hears of the new epochs, then of
    -- the session whose summary they moved on (its UPDATE notifies at the end of the update).
    -- A batch refused below rolls both back.
    perform pg_notify('mltrack_changes', json_build_object(
      'table', 'training_metrics', 'op', 'INSERT', 'session_id', batch.ids[i],
      'count', batch.counts[i], 'min_epoch', batch.min_epochs[i],
      'max_epoch', batch.max_epochs[i])::text);
    update public.training_sessions s
       set current_epoch = greatest(s.current_epoch, batch.max_epochs[i]),
           epochs_completed = s.epochs_completed + batch.counts[i],
           -- The first epoch of a pending session means it is running.
           status = case when s.status = 'pending' then 'running' else s.status end,
           last_heartbeat_at = case when s.status in ('pending', 'running') then clock_timestamp()
                                    else s.last_heartbeat_at end,
           -- The better of the batch's best and the session's best, read from this row.
           (best_epoch, best_map50, best_map50_95) = (
             select c.epoch, c.map50, c.map50_95
               from (values (batch.top_epochs[i], batch.top_map50s[i], batch.top_map50_95s[i]),
                            (s.best_epoch, s.best_map50, s.best_map50_95)) c(epoch, map50, map50_95)
              where c.map50_95 is not null
              order by c.map50_95 desc, c.map50 desc nulls last, c.epoch
              limit 1)
     where s.id = batch.ids[i]
    returning s.epochs into session_epochs;
    continue when not found;  -- (never: the foreign key found the session of every row)
    if batch.max_epochs[i] > session_epochs then
      perform mltrack_internal.reject('MT001', 'epoch',
        'must be between 0 and the session''s epochs (' || session_epochs || ')',
        batch.max_epochs[i]::text,
        'Epochs count from 0; raise the session''s epochs if the run was extended.');
    end if;
  end loop;
  return null;
end
$$;
