-- Epoch batches unpacked at the arrays' speed.
--
-- log_epoch_columns read its sixteen arrays with one unnest(a, b, ...) in FROM: sixteen function
-- scans, each of which copies its whole array into a tuple store before the first row is
-- built. In a 1,000-row batch that was about a quarter of the cost of the insert itself (CHECKs
-- included). The arrays are now walked side by side as set-returning functions in the select
-- list, which step through them together, one element of each per row, with nothing stored.
-- The rows are the same: the arrays are already checked to hold one value per epoch, and a null
-- array (a field left out) gives null in every row, as before. Indexing the arrays instead
-- (a[i]) would cost time quadratic in the batch for an array with nulls or of jsonb.
-- Nothing else changes: the same checks, paths, order, rows, summary and notifications.

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
      -- Set-returning functions in the select list step through the arrays together, one
      -- element of each per row, without copying any of them first.
      from (select unnest(log_epoch_columns.epoch) as epoch,
                   unnest(log_epoch_columns.box_loss) as box_loss,
                   unnest(log_epoch_columns.cls_loss) as cls_loss,
                   unnest(log_epoch_columns.dfl_loss) as dfl_loss,
                   unnest(log_epoch_columns.total_loss) as total_loss,
                   unnest(log_epoch_columns.val_box_loss) as val_box_loss,
                   unnest(log_epoch_columns.val_cls_loss) as val_cls_loss,
                   unnest(log_epoch_columns.val_dfl_loss) as val_dfl_loss,
                   unnest(log_epoch_columns."precision") as precision,
                   unnest(log_epoch_columns.recall) as recall,
                   unnest(log_epoch_columns.map50) as map50,
                   unnest(log_epoch_columns.map50_95) as map50_95,
                   unnest(log_epoch_columns.learning_rate) as learning_rate,
                   unnest(log_epoch_columns.epoch_time_seconds) as epoch_time_seconds,
                   unnest(log_epoch_columns.gpu_memory_mb) as gpu_memory_mb,
                   unnest(log_epoch_columns.extra) as extra) r
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
  from (select unnest(log_epoch_columns.epoch) as epoch,
               unnest(log_epoch_columns.box_loss) as box_loss,
               unnest(log_epoch_columns.cls_loss) as cls_loss,
               unnest(log_epoch_columns.dfl_loss) as dfl_loss,
               unnest(log_epoch_columns.total_loss) as total_loss,
               unnest(log_epoch_columns.val_box_loss) as val_box_loss,
               unnest(log_epoch_columns.val_cls_loss) as val_cls_loss,
               unnest(log_epoch_columns.val_dfl_loss) as val_dfl_loss,
               unnest(log_epoch_columns."precision") as precision,
               unnest(log_epoch_columns.recall) as recall,
               unnest(log_epoch_columns.map50) as map50,
               unnest(log_epoch_columns.map50_95) as map50_95,
               unnest(log_epoch_columns.learning_rate) as learning_rate,
               unnest(log_epoch_columns.epoch_time_seconds) as epoch_time_seconds,
               unnest(log_epoch_columns.gpu_memory_mb) as gpu_memory_mb,
               unnest(log_epoch_columns.extra) as extra,
               generate_series(1, n_rows) as ordinality) r
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
