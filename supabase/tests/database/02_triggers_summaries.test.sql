-- Summaries kept by triggers: a session's progress and best epoch from its metrics (including
-- upserts that lower the best epoch, and deletes), its fastest benchmark, and a hyperparameter
-- run's trial counts and best trial.
begin;
select plan(35);

insert into training_sessions (id, session_name, model_type, epochs, status) values
  ('e0000000-0000-0000-0000-000000000001', 'metrics', 'm', 10, 'pending'),
  ('e0000000-0000-0000-0000-000000000002', 'ties', 'm', 10, 'running'),
  ('e0000000-0000-0000-0000-000000000003', 'bench', 'm', 10, 'running');

-- The first metrics of a pending session mean it is running.
insert into training_metrics (session_id, epoch, map50, map50_95, total_loss) values
  ('e0000000-0000-0000-0000-000000000001', 0, 0.30, 0.20, 3.0),
  ('e0000000-0000-0000-0000-000000000001', 1, 0.60, 0.50, 2.0),
  ('e0000000-0000-0000-0000-000000000001', 2, 0.55, 0.40, 1.5);
select is((select status from training_sessions where id = 'e0000000-0000-0000-0000-000000000001'), 'running',
  'the first epoch moves a pending session to running');
select ok((select started_at is not null and last_heartbeat_at is not null
             from training_sessions where id = 'e0000000-0000-0000-0000-000000000001'),
  '... and stamps started_at and last_heartbeat_at');
select results_eq(
  $$ select current_epoch, epochs_completed, best_epoch, best_map50, best_map50_95
       from training_sessions where id = 'e0000000-0000-0000-0000-000000000001' $$,
  $$ values (2, 3, 1, 0.60::double precision, 0.50::double precision) $$,
  'a batch of three epochs: current epoch 2, three completed, best epoch 1');

-- An upsert of the best epoch that lowers it moves the best to the next best epoch.
select lives_ok($$ select log_epochs('e0000000-0000-0000-0000-000000000001',
                                     '[{"epoch": 1, "map50": 0.35, "map50_95": 0.10}]') $$,
  'rewriting the best epoch');
select results_eq(
  $$ select best_epoch, best_map50, best_map50_95, epochs_completed, current_epoch
       from training_sessions where id = 'e0000000-0000-0000-0000-000000000001' $$,
  $$ values (2, 0.55::double precision, 0.40::double precision, 3, 2) $$,
  'the lowered best epoch gives way to epoch 2; an upsert adds no completed epoch');
select is((select total_loss from training_metrics where session_id = 'e0000000-0000-0000-0000-000000000001' and epoch = 1),
  2.0::double precision, 'a value left out of the upsert keeps what was logged before');
select lives_ok($$ select log_epochs('e0000000-0000-0000-0000-000000000001',
                                     '[{"epoch": 0, "map50_95": 0.90}]') $$,
  'raising an older epoch');
select is((select best_epoch from training_sessions where id = 'e0000000-0000-0000-0000-000000000001'), 0,
  'an upsert that raises an older epoch above the best makes it the best');
-- Direct UPDATE statements are covered too.
update training_metrics set map50_95 = 0.05 where session_id = 'e0000000-0000-0000-0000-000000000001' and epoch = 0;
select is((select best_epoch from training_sessions where id = 'e0000000-0000-0000-0000-000000000001'), 2,
  'a direct update that lowers the best epoch recomputes the best');
select lives_ok($$ select log_epochs('e0000000-0000-0000-0000-000000000001',
                                     '[{"epoch": 5, "map50_95": 0.1}, {"epoch": 5, "map50_95": 0.95}]') $$,
  'an epoch given twice in one batch');
select results_eq(
  $$ select best_epoch, best_map50_95, current_epoch, epochs_completed from training_sessions
      where id = 'e0000000-0000-0000-0000-000000000001' $$,
  $$ values (5, 0.95::double precision, 5, 4) $$,
  'the last row of a repeated epoch wins and counts once');

-- Deleting metrics recomputes the summary from what is left.
delete from training_metrics where session_id = 'e0000000-0000-0000-0000-000000000001' and epoch in (2, 5);
select results_eq(
  $$ select current_epoch, epochs_completed, best_epoch from training_sessions
      where id = 'e0000000-0000-0000-0000-000000000001' $$,
  $$ values (1, 2, 1) $$,
  'after deleting epochs 2 and 5: current epoch 1, two completed, best epoch 1');
delete from training_metrics where session_id = 'e0000000-0000-0000-0000-000000000001';
select ok((select current_epoch is null and epochs_completed = 0 and best_epoch is null and best_map50_95 is null
             from training_sessions where id = 'e0000000-0000-0000-0000-000000000001'),
  'deleting every epoch clears the summary');

-- Ties: equal mAP50-95 goes to the higher mAP50, then to the earlier epoch; null mAP50-95 never wins.
insert into training_metrics (session_id, epoch, map50, map50_95) values
  ('e0000000-0000-0000-0000-000000000002', 0, null, null),
  ('e0000000-0000-0000-0000-000000000002', 1, 0.50, 0.40),
  ('e0000000-0000-0000-0000-000000000002', 2, 0.60, 0.40);
select is((select best_epoch from training_sessions where id = 'e0000000-0000-0000-0000-000000000002'), 2,
  'equal mAP50-95: the higher mAP50 wins');
insert into training_metrics (session_id, epoch, map50, map50_95) values
  ('e0000000-0000-0000-0000-000000000002', 3, 0.60, 0.40);
select is((select best_epoch from training_sessions where id = 'e0000000-0000-0000-0000-000000000002'), 2,
  'equal mAP50-95 and mAP50: the earlier epoch stays best');
insert into training_metrics (session_id, epoch, map50_95) values ('e0000000-0000-0000-0000-000000000002', 4, null);
select results_eq(
  $$ select best_epoch, current_epoch, epochs_completed from training_sessions
      where id = 'e0000000-0000-0000-0000-000000000002' $$,
  $$ values (2, 4, 5) $$,
  'an epoch without mAP50-95 advances progress but is never the best');

-- Benchmarks: fps defaults to 1000 * batch_size / avg_inference_ms; the session keeps its fastest.
insert into model_benchmarks (id, session_id, avg_inference_ms, batch_size, device) values
  ('e1000000-0000-0000-0000-000000000001', 'e0000000-0000-0000-0000-000000000003', 8, 2, 'cpu');
select is((select fps from model_benchmarks where id = 'e1000000-0000-0000-0000-000000000001'),
  250::double precision, 'fps computed from avg_inference_ms and batch_size');
select results_eq(
  $$ select best_inference_ms, best_fps from training_sessions where id = 'e0000000-0000-0000-0000-000000000003' $$,
  $$ values (8::double precision, 250::double precision) $$, 'the first benchmark is the fastest');
insert into model_benchmarks (id, session_id, avg_inference_ms, fps, device) values
  ('e1000000-0000-0000-0000-000000000002', 'e0000000-0000-0000-0000-000000000003', 2, 480, 'cuda');
select is((select fps from model_benchmarks where id = 'e1000000-0000-0000-0000-000000000002'),
  480::double precision, 'a measured fps is kept');
select results_eq(
  $$ select best_inference_ms, best_fps from training_sessions where id = 'e0000000-0000-0000-0000-000000000003' $$,
  $$ values (2::double precision, 480::double precision) $$, 'a faster benchmark becomes the session''s best');
insert into model_benchmarks (session_id, avg_inference_ms) values ('e0000000-0000-0000-0000-000000000003', 20);
select is((select best_inference_ms from training_sessions where id = 'e0000000-0000-0000-0000-000000000003'),
  2::double precision, 'a slower benchmark does not replace the best');
delete from model_benchmarks where id = 'e1000000-0000-0000-0000-000000000002';
select is((select best_inference_ms from training_sessions where id = 'e0000000-0000-0000-0000-000000000003'),
  8::double precision, 'deleting the fastest benchmark falls back to the next');
update model_benchmarks set avg_inference_ms = 1 where session_id = 'e0000000-0000-0000-0000-000000000003' and avg_inference_ms = 20;
select is((select best_inference_ms from training_sessions where id = 'e0000000-0000-0000-0000-000000000003'),
  1::double precision, 'updating a benchmark refreshes the session''s best');

-- Hyperparameter runs: trials counted, best trial by the run's objective and direction.
insert into hyperparameter_runs (id, name, objective, direction) values
  ('e2000000-0000-0000-0000-000000000001', 'max map', 'map50_95', 'maximize'),
  ('e2000000-0000-0000-0000-000000000002', 'min loss', 'loss', 'minimize');
insert into training_sessions (id, session_name, model_type, epochs, status, hyperparameter_run_id, config) values
  ('e3000000-0000-0000-0000-000000000001', 't1', 'm', 5, 'running', 'e2000000-0000-0000-0000-000000000001', '{"lr": 0.01}'),
  ('e3000000-0000-0000-0000-000000000002', 't2', 'm', 5, 'running', 'e2000000-0000-0000-0000-000000000001', '{"lr": 0.001}'),
  ('e3000000-0000-0000-0000-000000000003', 't3', 'm', 5, 'running', 'e2000000-0000-0000-0000-000000000001', '{"lr": 0.1}'),
  ('e3000000-0000-0000-0000-000000000004', 'l1', 'm', 5, 'running', 'e2000000-0000-0000-0000-000000000002', '{"lr": 0.01}'),
  ('e3000000-0000-0000-0000-000000000005', 'l2', 'm', 5, 'running', 'e2000000-0000-0000-0000-000000000002', '{"lr": 0.02}');
select results_eq(
  $$ select trials_started, trials_completed, best_session_id from hyperparameter_runs
      where id = 'e2000000-0000-0000-0000-000000000001' $$,
  $$ values (3, 0, null::uuid) $$, 'three trials started, none finished, no best yet');
update training_sessions set status = 'completed', final_map50_95 = 0.4, final_loss = 1.0
 where id = 'e3000000-0000-0000-0000-000000000001';
update training_sessions set status = 'completed', final_map50_95 = 0.6, final_loss = 2.0
 where id = 'e3000000-0000-0000-0000-000000000002';
update training_sessions set status = 'failed' where id = 'e3000000-0000-0000-0000-000000000003';
select results_eq(
  $$ select trials_started, trials_completed, best_session_id, best_value, best_params from hyperparameter_runs
      where id = 'e2000000-0000-0000-0000-000000000001' $$,
  $$ values (3, 3, 'e3000000-0000-0000-0000-000000000002'::uuid, 0.6::double precision, '{"lr": 0.001}'::jsonb) $$,
  'maximize map50_95: the best completed trial with its config; failed trials count as finished');
update training_sessions set final_map50_95 = 0.7 where id = 'e3000000-0000-0000-0000-000000000001';
select is((select best_session_id from hyperparameter_runs where id = 'e2000000-0000-0000-0000-000000000001'),
  'e3000000-0000-0000-0000-000000000001'::uuid, 'a corrected final metric moves the best trial');
update training_sessions set status = 'completed', final_loss = 0.8 where id = 'e3000000-0000-0000-0000-000000000004';
update training_sessions set status = 'completed', final_loss = 0.5 where id = 'e3000000-0000-0000-0000-000000000005';
select results_eq(
  $$ select best_session_id, best_value from hyperparameter_runs where id = 'e2000000-0000-0000-0000-000000000002' $$,
  $$ values ('e3000000-0000-0000-0000-000000000005'::uuid, 0.5::double precision) $$,
  'minimize loss: the lowest final loss is best');
delete from training_sessions where id = 'e3000000-0000-0000-0000-000000000005';
select results_eq(
  $$ select trials_started, best_session_id from hyperparameter_runs where id = 'e2000000-0000-0000-0000-000000000002' $$,
  $$ values (1, 'e3000000-0000-0000-0000-000000000004'::uuid) $$,
  'deleting the best trial falls back to the next');
update training_sessions set hyperparameter_run_id = 'e2000000-0000-0000-0000-000000000002'
 where id = 'e3000000-0000-0000-0000-000000000002';
select results_eq(
  $$ select id, trials_started from hyperparameter_runs order by id $$,
  $$ values ('e2000000-0000-0000-0000-000000000001'::uuid, 2), ('e2000000-0000-0000-0000-000000000002'::uuid, 2) $$,
  'moving a trial to another run recounts both runs');
select is((select best_session_id from hyperparameter_runs where id = 'e2000000-0000-0000-0000-000000000002'),
  'e3000000-0000-0000-0000-000000000004'::uuid, 'the moved trial (loss 2.0) is not the new run''s best');

-- create_hyperparameter_run: loss is minimised, everything else maximised, unless told otherwise.
select is((select direction from create_hyperparameter_run('by loss', objective => 'loss')), 'minimize',
  'objective loss defaults to minimize');
select is((select direction from create_hyperparameter_run('by recall', objective => 'recall')), 'maximize',
  'objective recall defaults to maximize');
select is((select objective || '/' || direction from create_hyperparameter_run('default')), 'map50_95/maximize',
  'the default objective is map50_95, maximised');
select is((select direction from create_hyperparameter_run('explicit', objective => 'loss', direction => 'maximize')),
  'maximize', 'a given direction is kept');
select is((select name from create_hyperparameter_run('replayed', run_id => 'e2000000-0000-0000-0000-000000000001')),
  'max map', 'replaying with an existing run_id returns that run unchanged');

select * from finish();
rollback;
