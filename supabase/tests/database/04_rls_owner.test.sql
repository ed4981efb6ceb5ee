-- A signed-in user (authenticated) reads every row of the project and writes its own sessions,
-- datasets and hyperparameter runs - directly in the tables, as a Supabase client does, and
-- through the SQL API. It cannot give a row away or write one in another user's name.
begin;
select plan(43);
-- The users the rows belong to exist in Supabase Auth (owner_id references auth.users).
insert into auth.users (id) values
  ('11111111-1111-1111-1111-111111111111'), ('22222222-2222-2222-2222-222222222222');

-- Fixtures, as the database owner. 1111... is the signed-in owner, 2222... another user.
insert into training_datasets (id, owner_id, name) values
  ('a1000000-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'mine'),
  ('a1000000-0000-0000-0000-000000000002', '22222222-2222-2222-2222-222222222222', 'theirs');
insert into hyperparameter_runs (id, owner_id, name) values
  ('a2000000-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'my search');
insert into training_sessions (id, owner_id, session_name, model_type, epochs, status) values
  ('a0000000-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'mine', 'yolov8n', 10, 'running'),
  ('a0000000-0000-0000-0000-000000000002', '22222222-2222-2222-2222-222222222222', 'theirs', 'yolov8s', 10, 'running');
insert into training_metrics (session_id, epoch, map50, map50_95) values
  ('a0000000-0000-0000-0000-000000000002', 0, 0.5, 0.3);

set local role authenticated;
set local request.jwt.claims = '{"sub":"11111111-1111-1111-1111-111111111111","role":"authenticated"}';

-- Reads: everything, including other users' rows and the views.
select results_eq($$ select id from training_sessions order by id $$,
  $$ values ('a0000000-0000-0000-0000-000000000001'::uuid), ('a0000000-0000-0000-0000-000000000002'::uuid) $$,
  'the owner reads every session, its own and others''');
select is((select map50_95 from training_metrics where session_id = 'a0000000-0000-0000-0000-000000000002'),
  0.3::double precision, 'the owner reads another user''s metrics');
select is((select count(*)::integer from training_datasets), 2, 'the owner reads every dataset');
select is((select count(*)::integer from active_training_sessions), 2, 'active_training_sessions shows both running sessions');
select is((select count(*)::integer from training_performance_summary), 2, 'training_performance_summary shows every session');
select lives_ok($$ select * from models_leaderboard $$, 'the owner reads the leaderboard');

-- Direct writes on its own rows.
select lives_ok($$ insert into training_sessions (id, session_name, model_type, epochs)
                   values ('a0000000-0000-0000-0000-000000000003', 'direct', 'yolov8n', 5) $$,
  'the owner inserts a session directly');
select is((select owner_id from training_sessions where id = 'a0000000-0000-0000-0000-000000000003'),
  '11111111-1111-1111-1111-111111111111'::uuid, 'owner_id defaults to the signed-in user');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, owner_id)
                    values ('s', 'm', 1, '22222222-2222-2222-2222-222222222222') $$,
  '42501', 'new row violates row-level security policy for table "training_sessions"',
  'the owner cannot insert a session in another user''s name');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, owner_id) values ('s', 'm', 1, null) $$,
  '42501', 'new row violates row-level security policy for table "training_sessions"',
  'the owner cannot insert an ownerless session');
select results_eq($$ with u as (update training_sessions set session_name = 'renamed'
                                 where id = 'a0000000-0000-0000-0000-000000000001' returning 1)
                     select count(*)::integer from u $$,
  array[1], 'the owner updates its own session');
select throws_ok($$ update training_sessions set owner_id = '22222222-2222-2222-2222-222222222222'
                    where id = 'a0000000-0000-0000-0000-000000000001' $$,
  '42501', 'new row violates row-level security policy for table "training_sessions"',
  'the owner cannot give a session away');
select lives_ok($$ insert into training_metrics (session_id, epoch, map50, map50_95)
                   values ('a0000000-0000-0000-0000-000000000001', 0, 0.4, 0.2), ('a0000000-0000-0000-0000-000000000001', 1, 0.5, 0.3) $$,
  'the owner inserts metrics of its session');
select is((select epochs_completed from training_sessions where id = 'a0000000-0000-0000-0000-000000000001'), 2,
  'the summary triggers update the owner''s session');
select results_eq($$ with u as (update training_metrics set map50_95 = 0.1
                                 where session_id = 'a0000000-0000-0000-0000-000000000001' and epoch = 1 returning 1)
                     select count(*)::integer from u $$,
  array[1], 'the owner updates its metrics');
select results_eq($$ with d as (delete from training_metrics
                                 where session_id = 'a0000000-0000-0000-0000-000000000001' and epoch = 1 returning 1)
                     select count(*)::integer from d $$,
  array[1], 'the owner deletes its metrics');
select lives_ok($$ insert into validation_results (session_id, class_name, map50) values ('a0000000-0000-0000-0000-000000000001', 'all', 0.5) $$,
  'the owner inserts validation results');
select lives_ok($$ insert into model_benchmarks (session_id, avg_inference_ms) values ('a0000000-0000-0000-0000-000000000001', 4) $$,
  'the owner inserts a benchmark');
select is((select best_inference_ms from training_sessions where id = 'a0000000-0000-0000-0000-000000000001'),
  4::double precision, 'the benchmark trigger updates the owner''s session');
select results_eq($$ with u as (update training_datasets set description = 'eight images'
                                 where id = 'a1000000-0000-0000-0000-000000000001' returning 1)
                     select count(*)::integer from u $$,
  array[1], 'the owner updates its dataset');
select lives_ok($$ insert into hyperparameter_runs (id, name) values ('a2000000-0000-0000-0000-000000000002', 'direct') $$,
  'the owner inserts a hyperparameter run');
select is((select owner_id from hyperparameter_runs where id = 'a2000000-0000-0000-0000-000000000002'),
  '11111111-1111-1111-1111-111111111111'::uuid, 'a run''s owner_id defaults to the signed-in user');
select results_eq($$ with d as (delete from training_sessions where id = 'a0000000-0000-0000-0000-000000000003' returning 1)
                     select count(*)::integer from d $$,
  array[1], 'the owner deletes its session');

-- The SQL API.
select is((select owner_id from start_session('api run', 'yolov8n', 3, session_id => 'a0000000-0000-0000-0000-000000000004',
                                              hyperparameter_run_id => 'a2000000-0000-0000-0000-000000000001')),
  '11111111-1111-1111-1111-111111111111'::uuid, 'start_session creates a session of the signed-in user');
select is((select session_name from start_session('replayed', 'yolov8n', 3, session_id => 'a0000000-0000-0000-0000-000000000004')),
  'api run', 'start_session replayed with the same session_id returns the existing session');
select throws_ok($$ select start_session('s', 'm', 1, owner_id => '22222222-2222-2222-2222-222222222222') $$,
  'MT006', 'owner_id must be your own user id (got 22222222-2222-2222-2222-222222222222)',
  'start_session refuses another user''s owner_id');
select is(log_epochs('a0000000-0000-0000-0000-000000000004', '[{"epoch": 0, "map50_95": 0.2}, {"epoch": 1, "map50_95": 0.4}]'),
  2, 'log_epochs writes the owner''s epochs');
select is((log_epoch('a0000000-0000-0000-0000-000000000004', 2, map50_95 => 0.3, total_loss => 1.2)).total_loss,
  1.2::double precision, 'log_epoch writes one epoch');
select is(heartbeat('a0000000-0000-0000-0000-000000000004'), false, 'heartbeat: no stop requested');
select is((request_stop('a0000000-0000-0000-0000-000000000004', 'user clicked stop')).stop_requested, true,
  'request_stop marks the session');
select is(heartbeat('a0000000-0000-0000-0000-000000000004'), true, 'the next heartbeat returns true');
select is(record_validation('a0000000-0000-0000-0000-000000000004',
                            '[{"class_name": "all", "map50": 0.6}, {"class_name": "cat", "class_id": 0, "map50": 0.7}]'),
  2, 'record_validation writes the owner''s validation rows');
select is((record_benchmark('a0000000-0000-0000-0000-000000000004', 10, batch_size => 4)).fps,
  400::double precision, 'record_benchmark writes a benchmark with its fps');
select results_eq($$ select status, final_map50_95, status_reason from finish_session('a0000000-0000-0000-0000-000000000004',
                                                                                 model_path => 'best.pt') $$,
  $$ values ('completed', 0.4::double precision, 'user clicked stop') $$,
  'finish_session completes the owner''s session with finals from the best epoch');
select is((select trials_completed from hyperparameter_runs where id = 'a2000000-0000-0000-0000-000000000001'), 1,
  'the owner''s trial counts in its hyperparameter run');
select is((upsert_dataset('mine', class_names => '{cat,dog}', train_size => 10)).num_classes, 2,
  'upsert_dataset updates the owner''s dataset');
select is((upsert_dataset('new one')).owner_id, '11111111-1111-1111-1111-111111111111'::uuid,
  'upsert_dataset creates a dataset of the signed-in user');
select is((create_hyperparameter_run('api search')).owner_id, '11111111-1111-1111-1111-111111111111'::uuid,
  'create_hyperparameter_run creates a run of the signed-in user');
select throws_ok($$ select mark_stale_sessions() $$, '42501', 'permission denied for function mark_stale_sessions',
  'cleaning up other users'' sessions is not for end users');
select throws_ok($$ select mltrack_internal.refresh_hyperparameter_run('a2000000-0000-0000-0000-000000000001') $$,
  '42501', 'permission denied for function refresh_hyperparameter_run',
  'the security definer helpers are not callable');

-- The owner's writes left the other user's rows alone.
select is((select session_name from training_sessions where id = 'a0000000-0000-0000-0000-000000000002'), 'theirs',
  'the other user''s session is unchanged');
select results_eq($$ with u as (update training_sessions set session_name = 'x' returning id) select id from u order by id $$,
  $$ values ('a0000000-0000-0000-0000-000000000001'::uuid), ('a0000000-0000-0000-0000-000000000004'::uuid) $$,
  'an update of every session reaches only the owner''s');
select results_eq($$ with d as (delete from training_metrics returning session_id) select distinct session_id from d order by 1 $$,
  $$ values ('a0000000-0000-0000-0000-000000000001'::uuid), ('a0000000-0000-0000-0000-000000000004'::uuid) $$,
  'a delete of every metric reaches only the owner''s sessions');

select * from finish();
rollback;
