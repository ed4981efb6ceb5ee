-- The fast write path for epochs: a batch given as columns, one array per field.
--
-- log_epochs(jsonb) must walk every key of every row to tell a wrong JSON type from a right one;
-- here Postgres' own input functions type the arrays before the function runs, so the batch is
-- unpacked with unnest and only the table's CHECK constraints and triggers remain per row. The
-- SDK's writer sends its batches this way; log_epochs stays the JSON interface (edge function,
-- psql, a spooled replay).

create function public.log_epoch_columns(
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
  fields constant text[] := '{epoch,box_loss,cls_loss,dfl_loss,total_loss,val_box_loss,val_cls_loss,val_dfl_loss,precision,recall,map50,map50_95,learning_rate,epoch_time_seconds,gpu_memory_mb,extra}';
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
    log_epoch_columns.session_id, r.epoch, r.box_loss, r.cls_loss, r.dfl_loss, r.total_loss,
    r.val_box_loss, r.val_cls_loss, r.val_dfl_loss, r.precision, r.recall, r.map50, r.map50_95,
    r.learning_rate, r.epoch_time_seconds, r.gpu_memory_mb, coalesce(r.extra, '{}')
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
comment on function public.log_epoch_columns is 'Upserts a batch of epochs of one session given as one array per field (element i of each array is row i); returns the number of rows written.';

revoke all on function public.log_epoch_columns(uuid, integer[], double precision[],
  double precision[], double precision[], double precision[], double precision[], double precision[],
  double precision[], double precision[], double precision[], double precision[], double precision[],
  double precision[], double precision[], double precision[], jsonb[])
from public, anon;
grant execute on function public.log_epoch_columns(uuid, integer[], double precision[],
  double precision[], double precision[], double precision[], double precision[], double precision[],
  double precision[], double precision[], double precision[], double precision[], double precision[],
  double precision[], double precision[], double precision[], jsonb[])
to authenticated, service_role;
