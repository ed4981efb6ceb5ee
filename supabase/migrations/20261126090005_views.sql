-- The three views. security_invoker makes row-level security of the caller apply through them.
-- Each row carries the session's `id`.

-- Running sessions with their latest epoch, progress, elapsed time, ETA and heartbeat age.
create view public.active_training_sessions
with (security_invoker = true)
as
select
  s.id,
  s.session_name,
  s.model_type,
  s.dataset_name,
  s.status,
  s.owner_id,
  s.epochs,
  s.batch_size,
  s.img_size,
  s.current_epoch,
  s.epochs_completed,
  round(least(100.0, 100.0 * s.epochs_completed / s.epochs), 1)::double precision as progress_percent,
  s.started_at,
  t.elapsed_seconds,
  case when s.epochs_completed > 0 and s.epochs_completed < s.epochs
       then t.elapsed_seconds / s.epochs_completed * (s.epochs - s.epochs_completed)
       when s.epochs_completed >= s.epochs then 0.0
  end as eta_seconds,
  s.last_heartbeat_at,
  greatest(0.0, extract(epoch from (now() - s.last_heartbeat_at)))::double precision as heartbeat_age_seconds,
  s.stop_requested,
  s.best_epoch,
  s.best_map50,
  s.best_map50_95,
  m.epoch as latest_epoch,
  m.box_loss,
  m.cls_loss,
  m.dfl_loss,
  m.total_loss,
  m.precision,
  m.recall,
  m.map50,
  m.map50_95,
  m.learning_rate,
  m.epoch_time_seconds,
  m.gpu_memory_mb,
  m.recorded_at as latest_metrics_at,
  s.hardware_info,
  s.created_at
from public.training_sessions s
cross join lateral (
  select greatest(0.0, extract(epoch from (now() - s.started_at)))::double precision as elapsed_seconds
) t
left join lateral (
  select * from public.training_metrics mm
   where mm.session_id = s.id
   order by mm.epoch desc
   limit 1
) m on true
where s.status = 'running';
comment on view public.active_training_sessions is 'Running sessions with latest metrics, progress percent, elapsed time, ETA and heartbeat age.';

-- Every session with its summary.
create view public.training_performance_summary
with (security_invoker = true)
as
select
  s.id,
  s.session_name,
  s.model_type,
  s.dataset_name,
  s.dataset_id,
  s.owner_id,
  s.status,
  s.status_reason,
  s.epochs,
  s.epochs_completed,
  s.current_epoch,
  s.batch_size,
  s.learning_rate,
  s.img_size,
  s.best_epoch,
  s.best_map50,
  s.best_map50_95,
  s.final_map50,
  s.final_map50_95,
  s.final_precision,
  s.final_recall,
  s.final_loss,
  a.min_total_loss,
  a.avg_epoch_time_seconds,
  a.max_gpu_memory_mb,
  s.best_inference_ms,
  s.best_fps,
  s.duration_seconds,
  case when s.duration_seconds > 0 and s.final_map50_95 is not null
       then s.final_map50_95 / (s.duration_seconds / 3600.0)
  end as efficiency_score,
  s.model_path,
  s.hyperparameter_run_id,
  s.started_at,
  s.completed_at,
  s.created_at,
  s.updated_at
from public.training_sessions s
left join lateral (
  select min(mm.total_loss) as min_total_loss,
         avg(mm.epoch_time_seconds) as avg_epoch_time_seconds,
         max(mm.gpu_memory_mb) as max_gpu_memory_mb
    from public.training_metrics mm
   where mm.session_id = s.id
) a on true;
comment on view public.training_performance_summary is 'Every session with its summary: best and final metrics, losses, epoch time, speed, duration.';

-- Top 50 completed models by mAP50-95; ties go to the higher mAP50, then the faster model, then
-- the one that completed first.
create view public.models_leaderboard
with (security_invoker = true)
as
select
  (row_number() over (
     order by top.final_map50_95 desc, top.final_map50 desc nulls last,
              top.inference_ms asc nulls last, top.completed_at asc, top.id))::integer as rank,
  top.*,
  b.device as benchmark_device,
  b.device_name as benchmark_device_name
from (
  select
    s.id,
    s.session_name,
    s.model_type,
    s.dataset_name,
    s.owner_id,
    s.final_map50_95,
    s.final_map50,
    s.final_precision,
    s.final_recall,
    s.final_loss,
    s.best_epoch,
    s.epochs,
    s.batch_size,
    s.img_size,
    s.best_inference_ms as inference_ms,
    s.best_fps as fps,
    s.duration_seconds as training_duration_seconds,
    s.model_path,
    s.completed_at
  from public.training_sessions s
  where s.status = 'completed' and s.final_map50_95 is not null
  order by s.final_map50_95 desc nulls last, s.final_map50 desc nulls last,
           s.best_inference_ms asc nulls last, s.completed_at asc, s.id
  limit 50
) top
left join lateral (
  select bb.device, bb.device_name from public.model_benchmarks bb
   where bb.session_id = top.id
   order by bb.avg_inference_ms, bb.created_at
   limit 1
) b on true;
comment on view public.models_leaderboard is 'Top 50 completed models by mAP50-95 with rank, inference speed of the best benchmark and training duration.';
