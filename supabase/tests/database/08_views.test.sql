-- What the three views show: live progress of running sessions, per-session summaries, and the
-- leaderboard's order and cut-off.
begin;
select plan(16);

insert into training_sessions (id, session_name, model_type, epochs, status, started_at) values
  ('80000000-0000-0000-0000-000000000001', 'live', 'yolov8n', 10, 'running', now() - interval '100 seconds'),
  ('80000000-0000-0000-0000-000000000002', 'waiting', 'yolov8n', 10, 'pending', null);
insert into training_metrics (session_id, epoch, map50_95, total_loss, epoch_time_seconds, gpu_memory_mb)
select '80000000-0000-0000-0000-000000000001', e, 0.1 * e, 5 - e, 10 * (e + 1), 100 * (e + 1)
  from generate_series(0, 4) e;

-- active_training_sessions
select results_eq($$ select id from active_training_sessions $$,
  $$ values ('80000000-0000-0000-0000-000000000001'::uuid) $$, 'only running sessions are active');
select results_eq(
  $$ select latest_epoch, epochs_completed, progress_percent, elapsed_seconds, eta_seconds, best_epoch
       from active_training_sessions $$,
  $$ values (4, 5, 50.0::double precision, 100::double precision, 100::double precision, 4) $$,
  'latest epoch, progress, elapsed time and ETA (elapsed / done * remaining)');
update training_sessions set last_heartbeat_at = now() - interval '30 seconds'
 where id = '80000000-0000-0000-0000-000000000001';
select is((select heartbeat_age_seconds from active_training_sessions), 30::double precision,
  'heartbeat age is the time since the last heartbeat');
insert into training_metrics (session_id, epoch)
select '80000000-0000-0000-0000-000000000001', e from generate_series(5, 10) e;
select results_eq($$ select progress_percent, eta_seconds from active_training_sessions $$,
  $$ values (100.0::double precision, 0.0::double precision) $$,
  'progress stops at 100 and ETA at 0 when the final evaluation is logged too');

-- training_performance_summary
update training_sessions set status = 'completed', completed_at = started_at + interval '2 hours'
 where id = '80000000-0000-0000-0000-000000000001';
select results_eq(
  $$ select min_total_loss, avg_epoch_time_seconds, max_gpu_memory_mb, duration_seconds, final_map50_95, efficiency_score
       from training_performance_summary where id = '80000000-0000-0000-0000-000000000001' $$,
  $$ values (1::double precision, 30::double precision, 500::double precision, 7200::double precision,
             0.4::double precision, 0.2::double precision) $$,
  'losses, epoch time, memory, duration and mAP50-95 per training hour');
select is((select efficiency_score from training_performance_summary where id = '80000000-0000-0000-0000-000000000002'),
  null::double precision, 'no efficiency score before a session finishes');
select is((select count(*)::integer from training_performance_summary), 2, 'every session has a summary row');
select is((select count(*)::integer from active_training_sessions), 0, 'a completed session is no longer active');

-- models_leaderboard: mAP50-95, then mAP50, then the faster model, then the earlier completion.
delete from training_sessions;
insert into training_sessions (id, session_name, model_type, epochs, status) values
  ('81000000-0000-0000-0000-00000000000a', 'a', 'm', 1, 'running'),
  ('81000000-0000-0000-0000-00000000000b', 'b', 'm', 1, 'running'),
  ('81000000-0000-0000-0000-00000000000c', 'c', 'm', 1, 'running'),
  ('81000000-0000-0000-0000-00000000000d', 'd', 'm', 1, 'running'),
  ('81000000-0000-0000-0000-00000000000e', 'no final', 'm', 1, 'running'),
  ('81000000-0000-0000-0000-00000000000f', 'still running', 'm', 1, 'running'),
  ('81000000-0000-0000-0000-000000000010', 'failed', 'm', 1, 'running');
insert into model_benchmarks (session_id, avg_inference_ms, device, device_name) values
  ('81000000-0000-0000-0000-00000000000d', 5, 'cuda', 'H100'),
  ('81000000-0000-0000-0000-00000000000d', 9, 'cpu', 'Xeon');
update training_sessions s set status = 'completed', final_map50_95 = v.m, final_map50 = v.m50,
       completed_at = clock_timestamp() + v.lag
  from (values ('81000000-0000-0000-0000-00000000000a'::uuid, 0.5, 0.7, interval '1 hour'),
               ('81000000-0000-0000-0000-00000000000b', 0.5, 0.8, interval '1 hour'),
               ('81000000-0000-0000-0000-00000000000c', 0.6, 0.6, interval '1 hour'),
               ('81000000-0000-0000-0000-00000000000d', 0.5, 0.8, interval '2 hours'),
               ('81000000-0000-0000-0000-00000000000e', null, null, interval '1 hour')) v(id, m, m50, lag)
 where s.id = v.id;
update training_sessions set final_map50_95 = 0.99, status = 'failed' where id = '81000000-0000-0000-0000-000000000010';
update training_sessions set final_map50_95 = 0.99 where id = '81000000-0000-0000-0000-00000000000f';
select results_eq($$ select rank, session_name from models_leaderboard order by rank $$,
  $$ values (1, 'c'), (2, 'd'), (3, 'b'), (4, 'a') $$,
  'ranked by mAP50-95, then mAP50, then speed; only completed sessions with a final mAP50-95');
select results_eq($$ select inference_ms, fps, benchmark_device, benchmark_device_name from models_leaderboard where rank = 2 $$,
  $$ values (5::double precision, 200::double precision, 'cuda', 'H100') $$,
  'the leaderboard shows the fastest benchmark');
select ok((select training_duration_seconds > 0 from models_leaderboard where rank = 1), 'training duration is shown');
update training_sessions set final_map50 = 0.6 where id = '81000000-0000-0000-0000-00000000000d';
update training_sessions set completed_at = completed_at - interval '30 minutes' where id = '81000000-0000-0000-0000-00000000000a';
update training_sessions set final_map50 = 0.7 where id = '81000000-0000-0000-0000-00000000000b';
select results_eq($$ select session_name from models_leaderboard where rank in (2, 3) order by rank $$,
  $$ values ('a'), ('b') $$, 'all else equal, the one that completed first ranks higher');

-- Top 50 only.
insert into training_sessions (session_name, model_type, epochs, status)
select 'bulk ' || g, 'm', 1, 'running' from generate_series(1, 60) g;
update training_sessions set status = 'completed', final_map50_95 = 0.9 where session_name like 'bulk %';
select is((select count(*)::integer from models_leaderboard), 50, 'the leaderboard holds the top 50');
select is((select max(rank) from models_leaderboard), 50, 'ranks run from 1 to 50');
select is((select count(*)::integer from models_leaderboard where session_name like 'bulk %'), 50,
  'better models push the others off the board');
select is((select count(distinct id)::integer from models_leaderboard), 50, 'each model appears once');

select * from finish();
rollback;
