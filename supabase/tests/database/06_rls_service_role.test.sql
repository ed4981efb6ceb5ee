-- service_role (the key of training machines and the scheduler) bypasses row-level security: it
-- reads and writes every user's rows, directly and through the SQL API, and alone may mark stale
-- sessions failed. The rules of the data (constraints, state machine) still hold for it.
begin;
select plan(33);
-- The users the rows belong to exist in Supabase Auth (owner_id references auth.users).
insert into auth.users (id) values
  ('11111111-1111-1111-1111-111111111111'), ('22222222-2222-2222-2222-222222222222');
set local timezone = 'UTC';

-- Fixtures, as the database owner: a user's rows, plus sessions for the stale-session sweep.
insert into training_datasets (id, owner_id, name) values
  ('c1000000-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'coco8');
insert into hyperparameter_runs (id, owner_id, name) values
  ('c2000000-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'search');
insert into training_sessions (id, owner_id, session_name, model_type, epochs, status, last_heartbeat_at) values
  ('c0000000-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'user run', 'yolov8n', 10, 'running', null),
  ('c0000000-0000-0000-0000-000000000002', '11111111-1111-1111-1111-111111111111', 'dead', 'm', 10, 'running', '2020-01-01 00:00:00+00'),
  ('c0000000-0000-0000-0000-000000000003', '22222222-2222-2222-2222-222222222222', 'dead too', 'm', 10, 'running', '2020-01-01 00:00:00+00'),
  ('c0000000-0000-0000-0000-000000000004', '22222222-2222-2222-2222-222222222222', 'waiting', 'm', 10, 'pending', null);
update training_sessions set created_at = '2020-01-01' where id = 'c0000000-0000-0000-0000-000000000004';
insert into training_metrics (session_id, epoch, map50_95) values ('c0000000-0000-0000-0000-000000000001', 0, 0.1);

set local role service_role;
set local request.jwt.claims = '{"role":"service_role"}';

-- Reads.
select is((select count(*)::integer from training_sessions), 4, 'service_role reads every session');
select is((select count(*)::integer from active_training_sessions), 3, 'service_role reads the views');

-- Direct writes on any user's rows.
select lives_ok($$ insert into training_sessions (id, session_name, model_type, epochs, owner_id)
                   values ('c0000000-0000-0000-0000-000000000005', 's', 'm', 5, '22222222-2222-2222-2222-222222222222') $$,
  'service_role inserts a session for any user');
select lives_ok($$ insert into training_sessions (id, session_name, model_type, epochs)
                   values ('c0000000-0000-0000-0000-000000000006', 'ownerless', 'm', 5) $$,
  'service_role inserts a session without an owner');
select is((select owner_id from training_sessions where id = 'c0000000-0000-0000-0000-000000000006'), null::uuid,
  'a session started by service_role without an owner has none');
select results_eq($$ with u as (update training_sessions set stop_requested = true
                                 where id = 'c0000000-0000-0000-0000-000000000001' returning 1)
                     select count(*)::integer from u $$,
  array[1], 'service_role updates a user''s session');
select lives_ok($$ insert into training_metrics (session_id, epoch, map50_95) values ('c0000000-0000-0000-0000-000000000001', 1, 0.2) $$,
  'service_role inserts metrics into a user''s session');
select results_eq($$ with u as (update training_metrics set map50 = 0.4 where session_id = 'c0000000-0000-0000-0000-000000000001' returning 1)
                     select count(*)::integer from u $$,
  array[2], 'service_role updates a user''s metrics');
select lives_ok($$ insert into validation_results (session_id) values ('c0000000-0000-0000-0000-000000000001') $$,
  'service_role inserts validation results of a user''s session');
select lives_ok($$ insert into model_benchmarks (session_id, avg_inference_ms) values ('c0000000-0000-0000-0000-000000000001', 7) $$,
  'service_role inserts a benchmark of a user''s session');
select results_eq($$ with u as (update training_datasets set description = 'by the server' returning 1) select count(*)::integer from u $$,
  array[1], 'service_role updates a user''s dataset');
select results_eq($$ with u as (update hyperparameter_runs set n_trials = 8 returning 1) select count(*)::integer from u $$,
  array[1], 'service_role updates a user''s hyperparameter run');
select results_eq($$ with d as (delete from training_sessions where id = 'c0000000-0000-0000-0000-000000000005' returning 1)
                     select count(*)::integer from d $$,
  array[1], 'service_role deletes a user''s session');

-- The rules of the data still hold.
select throws_ok($$ update training_sessions set status = 'pending' where id = 'c0000000-0000-0000-0000-000000000001' $$,
  'MT004', 'status cannot go from running to pending (got pending)', 'the state machine applies to service_role');
select throws_ok($$ insert into training_metrics (session_id, epoch, map50) values ('c0000000-0000-0000-0000-000000000001', 2, 86.7) $$,
  'MT001', 'map50 must be between 0 and 1 (got 86.7)', 'constraints apply to service_role');

-- The SQL API on any user's session.
select is((select owner_id from start_session('for a user', 'm', 3, owner_id => '11111111-1111-1111-1111-111111111111')),
  '11111111-1111-1111-1111-111111111111'::uuid, 'start_session on behalf of a user');
select is(log_epochs('c0000000-0000-0000-0000-000000000001', '[{"epoch": 2, "map50_95": 0.5, "map50": 0.7}]'), 1,
  'log_epochs on a user''s session');
select is((log_epoch('c0000000-0000-0000-0000-000000000001', 3, map50_95 => 0.4)).epoch, 3,
  'log_epoch on a user''s session');
select is(heartbeat('c0000000-0000-0000-0000-000000000001'), true,
  'heartbeat on a user''s session reports the stop request');
select is((request_stop('c0000000-0000-0000-0000-000000000001', 'from the scheduler')).status_reason, 'from the scheduler',
  'request_stop on a user''s session');
select is(record_validation('c0000000-0000-0000-0000-000000000001', '[{"class_name": "all", "map50": 0.7}]', 'test'), 1,
  'record_validation on a user''s session');
select is((record_benchmark('c0000000-0000-0000-0000-000000000001', 5, device => 'cuda:0')).device, 'cuda:0',
  'record_benchmark on a user''s session');
select results_eq($$ select status, final_map50_95, final_map50 from finish_session('c0000000-0000-0000-0000-000000000001') $$,
  $$ values ('completed', 0.5::double precision, 0.7::double precision) $$,
  'finish_session on a user''s session fills finals from its best epoch');
select is((upsert_dataset('coco8', train_size => 5)).train_size, 5, 'upsert_dataset changes a user''s dataset');
select is((upsert_dataset('server data')).owner_id, null::uuid, 'upsert_dataset by service_role creates an ownerless dataset');
select is((create_hyperparameter_run('server search', n_trials => 4)).n_trials, 4, 'create_hyperparameter_run');

-- The stale-session sweep: only running sessions whose last sign of life is too old.
select results_eq($$ select * from mark_stale_sessions(120) order by 1 $$,
  $$ values ('c0000000-0000-0000-0000-000000000002'::uuid), ('c0000000-0000-0000-0000-000000000003'::uuid) $$,
  'mark_stale_sessions returns the ids of every user''s dead runs');
select results_eq(
  $$ select status, status_reason from training_sessions where id = 'c0000000-0000-0000-0000-000000000002' $$,
  $$ values ('failed', 'heartbeat lost: no heartbeat for 120 seconds (last at 2020-01-01 00:00:00+00)') $$,
  'a dead run is failed with the reason');
select ok((select completed_at is not null from training_sessions where id = 'c0000000-0000-0000-0000-000000000003'),
  'a dead run gets completed_at');
select is((select status from training_sessions where id = 'c0000000-0000-0000-0000-000000000004'), 'pending',
  'a pending session is not stale, however old');
select is((select count(*)::integer from mark_stale_sessions(120)), 0, 'a second sweep finds nothing');
select throws_ok($$ select mark_stale_sessions(0) $$,
  'MT001', 'timeout_seconds must be a positive integer (got 0)', 'the timeout must be positive');
select throws_ok($$ select mltrack_internal.refresh_hyperparameter_run('c2000000-0000-0000-0000-000000000001') $$,
  '42501', 'permission denied for function refresh_hyperparameter_run',
  'the security definer helpers are not callable even by service_role');

select * from finish();
rollback;
