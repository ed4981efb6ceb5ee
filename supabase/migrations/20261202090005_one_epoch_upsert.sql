-- One upsert of epoch rows. log_epochs (JSON: replays, psql, PostgREST clients) checks its
-- batch, shapes it into one array per field and hands it to log_epoch_columns, so the rules of
-- an upsert (a value given replaces, a null keeps, the last row of an epoch given twice wins,
-- -0 is 0) are written once.

create or replace function public.log_epochs(session_id uuid, metrics jsonb) returns integer
language plpgsql
set search_path = ''
as $$
declare
  cols record;
begin
  perform mltrack_internal.writable_session(log_epochs.session_id);
  perform mltrack_internal.check_batch('metrics', log_epochs.metrics,
    '{box_loss,cls_loss,dfl_loss,total_loss,val_box_loss,val_cls_loss,val_dfl_loss,precision,recall,map50,map50_95,learning_rate,epoch_time_seconds,gpu_memory_mb}',
    '{epoch}', '{}', 10000);
  if jsonb_path_exists(log_epochs.metrics, '$[*] ? (!exists(@.epoch) || @.epoch == null)') then
    perform mltrack_internal.reject('MT002', 'epoch', 'is required in every row of metrics');
  end if;
  select array_agg(r.epoch order by r.ord) as epoch,
         array_agg(r.box_loss order by r.ord) as box_loss,
         array_agg(r.cls_loss order by r.ord) as cls_loss,
         array_agg(r.dfl_loss order by r.ord) as dfl_loss,
         array_agg(r.total_loss order by r.ord) as total_loss,
         array_agg(r.val_box_loss order by r.ord) as val_box_loss,
         array_agg(r.val_cls_loss order by r.ord) as val_cls_loss,
         array_agg(r.val_dfl_loss order by r.ord) as val_dfl_loss,
         array_agg(r.precision order by r.ord) as precision,
         array_agg(r.recall order by r.ord) as recall,
         array_agg(r.map50 order by r.ord) as map50,
         array_agg(r.map50_95 order by r.ord) as map50_95,
         array_agg(r.learning_rate order by r.ord) as learning_rate,
         array_agg(r.epoch_time_seconds order by r.ord) as epoch_time_seconds,
         array_agg(r.gpu_memory_mb order by r.ord) as gpu_memory_mb,
         array_agg(r.extra order by r.ord) as extra
    into cols
    from jsonb_populate_recordset(null::public.training_metrics, log_epochs.metrics)
         with ordinality as r(session_id, epoch, box_loss, cls_loss, dfl_loss, total_loss,
                              val_box_loss, val_cls_loss, val_dfl_loss, precision, recall, map50,
                              map50_95, learning_rate, epoch_time_seconds, gpu_memory_mb, extra,
                              recorded_at, ord);
  if cols.epoch is null then
    return 0;  -- an empty batch
  end if;
  return public.log_epoch_columns(log_epochs.session_id, cols.epoch, cols.box_loss, cols.cls_loss,
    cols.dfl_loss, cols.total_loss, cols.val_box_loss, cols.val_cls_loss, cols.val_dfl_loss,
    cols.precision, cols.recall, cols.map50, cols.map50_95, cols.learning_rate,
    cols.epoch_time_seconds, cols.gpu_memory_mb, cols.extra);
end
$$;
comment on function public.log_epochs is 'Upserts a JSON array of epoch rows of one session; returns the number of rows written.';
