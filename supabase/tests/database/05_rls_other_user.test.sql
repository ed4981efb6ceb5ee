-- Another signed-in user reads the owner's rows but cannot write them: direct updates and deletes
-- silently reach no row, direct inserts violate the row-level security policy (42501), and the SQL
-- API refuses with MT006 ("not the owner").
begin;
select plan(47);
-- The users the rows belong to exist in Supabase Auth (owner_id references auth.users).
insert into auth.users (id) values
  ('11111111-1111-1111-1111-111111111111'), ('22222222-2222-2222-2222-222222222222');

-- Fixtures, as the database owner: everything belongs to 1111...; 2222... signs in below.
insert into training_datasets (id, owner_id, name) values
  ('b1000000-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'coco8');
insert into hyperparameter_runs (id, owner_id, name) values
  ('b2000000-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'owner search');
insert into training_sessions (id, owner_id, session_name, model_type, epochs, status) values
  ('b0000000-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'owner run', 'yolov8n', 10, 'running');
insert into training_metrics (session_id, epoch, map50, map50_95) values ('b0000000-0000-0000-0000-000000000001', 0, 0.5, 0.3);
insert into validation_results (session_id, map50) values ('b0000000-0000-0000-0000-000000000001', 0.5);
insert into model_benchmarks (id, session_id, avg_inference_ms) values
  ('b3000000-0000-0000-0000-000000000001', 'b0000000-0000-0000-0000-000000000001', 5);

set local role authenticated;
set local request.jwt.claims = '{"sub":"22222222-2222-2222-2222-222222222222","role":"authenticated"}';

-- Reads.
select is((select session_name from training_sessions where id = 'b0000000-0000-0000-0000-000000000001'), 'owner run',
  'another user reads the owner''s session');
select is((select count(*)::integer from training_metrics), 1, 'another user reads the owner''s metrics');
select is((select count(*)::integer from validation_results), 1, 'another user reads the owner''s validation results');
select is((select count(*)::integer from model_benchmarks), 1, 'another user reads the owner''s benchmarks');
select is((select name from training_datasets), 'coco8', 'another user reads the owner''s dataset');
select is((select name from hyperparameter_runs), 'owner search', 'another user reads the owner''s hyperparameter run');
select is((select id from active_training_sessions), 'b0000000-0000-0000-0000-000000000001'::uuid,
  'another user sees the owner''s run in active_training_sessions');

-- Direct updates and deletes reach no row.
select results_eq($$ with u as (update training_sessions set stop_requested = true returning 1) select count(*)::integer from u $$,
  array[0], 'updating the owner''s session affects 0 rows');
select results_eq($$ with d as (delete from training_sessions returning 1) select count(*)::integer from d $$,
  array[0], 'deleting the owner''s session affects 0 rows');
select results_eq($$ with u as (update training_metrics set map50 = 0.9 returning 1) select count(*)::integer from u $$,
  array[0], 'updating the owner''s metrics affects 0 rows');
select results_eq($$ with d as (delete from training_metrics returning 1) select count(*)::integer from d $$,
  array[0], 'deleting the owner''s metrics affects 0 rows');
select results_eq($$ with u as (update validation_results set map50 = 0.9 returning 1) select count(*)::integer from u $$,
  array[0], 'updating the owner''s validation results affects 0 rows');
select results_eq($$ with d as (delete from validation_results returning 1) select count(*)::integer from d $$,
  array[0], 'deleting the owner''s validation results affects 0 rows');
select results_eq($$ with u as (update model_benchmarks set fps = 1 returning 1) select count(*)::integer from u $$,
  array[0], 'updating the owner''s benchmarks affects 0 rows');
select results_eq($$ with d as (delete from model_benchmarks returning 1) select count(*)::integer from d $$,
  array[0], 'deleting the owner''s benchmarks affects 0 rows');
select results_eq($$ with u as (update training_datasets set description = 'x' returning 1) select count(*)::integer from u $$,
  array[0], 'updating the owner''s dataset affects 0 rows');
select results_eq($$ with d as (delete from training_datasets returning 1) select count(*)::integer from d $$,
  array[0], 'deleting the owner''s dataset affects 0 rows');
select results_eq($$ with u as (update hyperparameter_runs set n_trials = 1 returning 1) select count(*)::integer from u $$,
  array[0], 'updating the owner''s hyperparameter run affects 0 rows');
select results_eq($$ with d as (delete from hyperparameter_runs returning 1) select count(*)::integer from d $$,
  array[0], 'deleting the owner''s hyperparameter run affects 0 rows');

-- Direct inserts in the owner's name or into the owner's session violate the policy.
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, owner_id)
                    values ('s', 'm', 1, '11111111-1111-1111-1111-111111111111') $$,
  '42501', 'new row violates row-level security policy for table "training_sessions"',
  'inserting a session in the owner''s name');
select throws_ok($$ insert into training_metrics (session_id, epoch) values ('b0000000-0000-0000-0000-000000000001', 1) $$,
  '42501', 'new row violates row-level security policy for table "training_metrics"',
  'inserting metrics into the owner''s session');
select throws_ok($$ insert into training_metrics (session_id, epoch, map50) values ('b0000000-0000-0000-0000-000000000001', 0, 0.9)
                    on conflict (session_id, epoch) do update set map50 = excluded.map50 $$,
  '42501', 'new row violates row-level security policy for table "training_metrics"',
  'upserting an epoch of the owner''s session');
select throws_ok($$ insert into validation_results (session_id, class_name) values ('b0000000-0000-0000-0000-000000000001', 'cat') $$,
  '42501', 'new row violates row-level security policy for table "validation_results"',
  'inserting validation results into the owner''s session');
select throws_ok($$ insert into model_benchmarks (session_id, avg_inference_ms) values ('b0000000-0000-0000-0000-000000000001', 1) $$,
  '42501', 'new row violates row-level security policy for table "model_benchmarks"',
  'inserting a benchmark into the owner''s session');
select throws_ok($$ insert into training_datasets (name, owner_id) values ('fake', '11111111-1111-1111-1111-111111111111') $$,
  '42501', 'new row violates row-level security policy for table "training_datasets"',
  'inserting a dataset in the owner''s name');
select throws_ok($$ insert into hyperparameter_runs (name, owner_id) values ('fake', '11111111-1111-1111-1111-111111111111') $$,
  '42501', 'new row violates row-level security policy for table "hyperparameter_runs"',
  'inserting a hyperparameter run in the owner''s name');

-- The SQL API names the problem: MT006.
select throws_ok($$ select log_epochs('b0000000-0000-0000-0000-000000000001', '[{"epoch": 1}]') $$,
  'MT006', 'session_id belongs to another user: you may read it but not write to it (got b0000000-0000-0000-0000-000000000001)',
  'log_epochs on the owner''s session');
select throws_ok($$ select log_epoch('b0000000-0000-0000-0000-000000000001', 1, map50 => 0.5) $$,
  'MT006', 'session_id belongs to another user: you may read it but not write to it (got b0000000-0000-0000-0000-000000000001)',
  'log_epoch on the owner''s session');
select throws_ok($$ select finish_session('b0000000-0000-0000-0000-000000000001', 'cancelled') $$,
  'MT006', 'session_id belongs to another user: you may read it but not write to it (got b0000000-0000-0000-0000-000000000001)',
  'finish_session on the owner''s session');
select throws_ok($$ select heartbeat('b0000000-0000-0000-0000-000000000001') $$,
  'MT006', 'session_id belongs to another user: you may read it but not write to it (got b0000000-0000-0000-0000-000000000001)',
  'heartbeat on the owner''s session');
select throws_ok($$ select request_stop('b0000000-0000-0000-0000-000000000001') $$,
  'MT006', 'session_id belongs to another user: you may read it but not write to it (got b0000000-0000-0000-0000-000000000001)',
  'request_stop on the owner''s session');
select throws_ok($$ select record_validation('b0000000-0000-0000-0000-000000000001', '[{"class_name": "cat"}]') $$,
  'MT006', 'session_id belongs to another user: you may read it but not write to it (got b0000000-0000-0000-0000-000000000001)',
  'record_validation on the owner''s session');
select throws_ok($$ select record_benchmark('b0000000-0000-0000-0000-000000000001', 3) $$,
  'MT006', 'session_id belongs to another user: you may read it but not write to it (got b0000000-0000-0000-0000-000000000001)',
  'record_benchmark on the owner''s session');
select throws_ok($$ select start_session('s', 'm', 1, session_id => 'b0000000-0000-0000-0000-000000000001') $$,
  'MT006', 'session_id belongs to another user: you may read it but not write to it (got b0000000-0000-0000-0000-000000000001)',
  'start_session replaying the owner''s session id');
select throws_ok($$ select start_session('s', 'm', 1, owner_id => '11111111-1111-1111-1111-111111111111') $$,
  'MT006', 'owner_id must be your own user id (got 11111111-1111-1111-1111-111111111111)',
  'start_session in the owner''s name');
select throws_ok($$ select upsert_dataset('coco8', train_size => 1) $$,
  'MT006', 'name is a dataset of another user: you may read it but not change it (got coco8)',
  'upsert_dataset of the owner''s dataset');
select throws_ok($$ select create_hyperparameter_run('renamed', run_id => 'b2000000-0000-0000-0000-000000000001') $$,
  'MT006', 'run_id belongs to another user: you may read the run but not write to it (got b2000000-0000-0000-0000-000000000001)',
  'create_hyperparameter_run refuses the owner''s run_id');
select throws_ok($$ select mark_stale_sessions(1) $$, '42501', 'permission denied for function mark_stale_sessions',
  'another user cannot fail the owner''s sessions as stale');
select throws_ok($$ select start_session('joiner', 'm', 1, hyperparameter_run_id => 'b2000000-0000-0000-0000-000000000001') $$,
  'MT006', 'hyperparameter_run_id belongs to another user: a session may join only your own hyperparameter runs (got b2000000-0000-0000-0000-000000000001)', 'start_session refuses to join the owner''s hyperparameter run');

-- Behind all of that, nothing of the owner's changed.
reset role;
select results_eq(
  $$ select session_name, status, stop_requested, epochs_completed, best_inference_ms from training_sessions
      where id = 'b0000000-0000-0000-0000-000000000001' $$,
  $$ values ('owner run', 'running', false, 1, 5::double precision) $$,
  'the owner''s session is unchanged');
select is((select map50 from training_metrics where session_id = 'b0000000-0000-0000-0000-000000000001' and epoch = 0),
  0.5::double precision, 'the owner''s metrics are unchanged');
select is((select count(*)::integer from validation_results), 1, 'the owner''s validation results are intact');
select is((select count(*)::integer from model_benchmarks), 1, 'the owner''s benchmarks are intact');
select results_eq($$ select train_size, description from training_datasets where name = 'coco8' $$,
  $$ values (0, null::text) $$, 'the owner''s dataset is unchanged');
select results_eq($$ select name, n_trials from hyperparameter_runs where id = 'b2000000-0000-0000-0000-000000000001' $$,
  $$ values ('owner search', null::integer) $$, 'the owner''s hyperparameter run is unchanged');
select is((select count(*)::integer from training_sessions where owner_id = '11111111-1111-1111-1111-111111111111'), 1,
  'no session was added in the owner''s name');
select is((select trials_started from hyperparameter_runs where id = 'b2000000-0000-0000-0000-000000000001'), 0,
  'the owner''s hyperparameter run counts no trial of another user');

select * from finish();
rollback;
