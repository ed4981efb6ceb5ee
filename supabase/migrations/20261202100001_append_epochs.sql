-- Epoch batches at the database's speed: a live run's batch is appended, and its session's
-- summary moves on with one index lookup.
--
-- - log_epoch_columns (and log_epochs, log_epoch through it) ran every batch through the upsert
--   (`distinct on`, then `on conflict do update`: a speculative insertion per row), though almost
--   every batch of a live run holds only epochs after the session's last one. Such a batch is now
--   inserted plainly, in the same epoch order. Whether it is new is judged from the session's
--   current_epoch, but nothing depends on that judgement being right: a row that exists after
--   all (a concurrent writer, an epoch given twice in the batch) raises unique_violation on the
--   primary key, which rolls the plain insert back - with its triggers' work and notifications -
--   and the upsert writes the batch as before. Both ways give the same rows, summary and
--   notifications; only the cost differs.
-- - metrics_written read its batch three times and joined its per-session aggregate to
--   training_sessions by a sequential scan (the planner cannot know that a batch holds one
--   session, and guessed many): a scan of every session for every batch. It now reads the batch
--   once and updates each of its sessions, in id order, through the primary key; the update locks
--   the row and computes from its newest version, which also gives the epochs the batch must lie
--   within. The rules are unchanged.

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
  last_epoch integer;
  violated text;
begin
  last_epoch := (mltrack_internal.writable_session(log_epoch_columns.session_id)).current_epoch;
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

  -- A live run's batch: every epoch after the session's last one, so every row is new and the
  -- upsert would insert each as given. Insert them so, in the upsert's (epoch) order.
  if n_rows > 0 and (last_epoch is null
                     or log_epoch_columns.epoch[array_lower(log_epoch_columns.epoch, 1)] > last_epoch) then
    begin
      insert into public.training_metrics (
        session_id, epoch, box_loss, cls_loss, dfl_loss, total_loss, val_box_loss, val_cls_loss,
        val_dfl_loss, precision, recall, map50, map50_95, learning_rate, epoch_time_seconds,
        gpu_memory_mb, extra)
      select
        -- "+ 0" turns -0 into 0, as the JSON path does (numeric has no negative zero).
        log_epoch_columns.session_id, r.epoch, r.box_loss + 0, r.cls_loss + 0, r.dfl_loss + 0,
        r.total_loss + 0, r.val_box_loss + 0, r.val_cls_loss + 0, r.val_dfl_loss + 0,
        r.precision + 0, r.recall + 0, r.map50 + 0, r.map50_95 + 0, r.learning_rate + 0,
        r.epoch_time_seconds + 0, r.gpu_memory_mb + 0, coalesce(r.extra, '{}')
      from unnest(log_epoch_columns.epoch, log_epoch_columns.box_loss, log_epoch_columns.cls_loss,
                  log_epoch_columns.dfl_loss, log_epoch_columns.total_loss,
                  log_epoch_columns.val_box_loss, log_epoch_columns.val_cls_loss,
                  log_epoch_columns.val_dfl_loss, log_epoch_columns."precision",
                  log_epoch_columns.recall, log_epoch_columns.map50, log_epoch_columns.map50_95,
                  log_epoch_columns.learning_rate, log_epoch_columns.epoch_time_seconds,
                  log_epoch_columns.gpu_memory_mb, log_epoch_columns.extra)
           as r(epoch, box_loss, cls_loss, dfl_loss, total_loss, val_box_loss, val_cls_loss,
                val_dfl_loss, precision, recall, map50, map50_95, learning_rate,
                epoch_time_seconds, gpu_memory_mb, extra)
      order by r.epoch;
      get diagnostics written = row_count;
      return written;
    exception when unique_violation then
      -- Not new after all: this block's work is undone, and the upsert below does it.
      get stacked diagnostics violated = constraint_name;
      if violated is distinct from 'training_metrics_pkey' then
        raise;
      end if;
    end;
  end if;

  -- The same upsert as log_epochs: a value given replaces the old one, a null keeps it, and the
  -- last row of an epoch given twice wins.
  insert into public.training_metrics as m (
    session_id, epoch, box_loss, cls_loss, dfl_loss, total_loss, val_box_loss, val_cls_loss,
    val_dfl_loss, precision, recall, map50, map50_95, learning_rate, epoch_time_seconds,
    gpu_memory_mb, extra)
  select distinct on (r.epoch)
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
    perform pg_notify('mltrack_changes', json_build_object(
      'table', 'training_metrics', 'op', 'INSERT', 'session_id', batch.ids[i],
      'count', batch.counts[i], 'min_epoch', batch.min_epochs[i],
      'max_epoch', batch.max_epochs[i])::text);
  end loop;
  return null;
end
$$;
