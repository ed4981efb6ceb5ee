-- anon (a request without a signed-in user) gets nothing: every table, view and API function
-- answers "permission denied" (42501), whatever rows exist.
begin;
select plan(33);
-- The users the rows belong to exist in Supabase Auth (owner_id references auth.users).
insert into auth.users (id) values
  ('11111111-1111-1111-1111-111111111111'), ('22222222-2222-2222-2222-222222222222');

-- Fixtures, as the database owner: one user's session with a row in every table.
insert into training_datasets (id, owner_id, name) values
  ('f1000000-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'coco8');
insert into hyperparameter_runs (id, owner_id, name) values
  ('f2000000-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'search');
insert into training_sessions (id, owner_id, session_name, model_type, epochs, status) values
  ('f0000000-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'run', 'yolov8n', 10, 'running');
insert into training_metrics (session_id, epoch, map50_95) values ('f0000000-0000-0000-0000-000000000001', 0, 0.1);
insert into validation_results (session_id) values ('f0000000-0000-0000-0000-000000000001');
insert into model_benchmarks (session_id, avg_inference_ms) values ('f0000000-0000-0000-0000-000000000001', 5);

-- Guards, checked from the catalog so a new table, view or function cannot slip through.
select is_empty($$
  select c.relname from pg_class c
   where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm')
     and not exists (select from pg_depend d where d.classid = 'pg_class'::regclass
                       and d.objid = c.oid and d.deptype = 'e')
     and has_table_privilege('anon', c.oid, 'select, insert, update, delete, truncate, references, trigger') $$,
  'anon holds no privilege on any table or view in public');
select is_empty($$
  select p.oid::regprocedure::text from pg_proc p
   where p.pronamespace in ('public'::regnamespace, 'mltrack_internal'::regnamespace)
     and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass
                       and d.objid = p.oid and d.deptype = 'e')
     and has_function_privilege('anon', p.oid, 'execute') $$,
  'anon may execute no mltrack function');

set local role anon;
set local request.jwt.claims = '{"role":"anon"}';

select throws_ok($$ select * from training_sessions $$, '42501', 'permission denied for table training_sessions');
select throws_ok($$ select * from training_metrics $$, '42501', 'permission denied for table training_metrics');
select throws_ok($$ select * from validation_results $$, '42501', 'permission denied for table validation_results');
select throws_ok($$ select * from model_benchmarks $$, '42501', 'permission denied for table model_benchmarks');
select throws_ok($$ select * from training_datasets $$, '42501', 'permission denied for table training_datasets');
select throws_ok($$ select * from hyperparameter_runs $$, '42501', 'permission denied for table hyperparameter_runs');
select throws_ok($$ select * from active_training_sessions $$, '42501', 'permission denied for view active_training_sessions');
select throws_ok($$ select * from training_performance_summary $$, '42501', 'permission denied for view training_performance_summary');
select throws_ok($$ select * from models_leaderboard $$, '42501', 'permission denied for view models_leaderboard');

select throws_ok($$ insert into training_sessions (session_name, model_type, epochs) values ('s', 'm', 1) $$,
  '42501', 'permission denied for table training_sessions', 'anon cannot create a session');
select throws_ok($$ update training_sessions set stop_requested = true $$,
  '42501', 'permission denied for table training_sessions', 'anon cannot update a session');
select throws_ok($$ delete from training_sessions $$,
  '42501', 'permission denied for table training_sessions', 'anon cannot delete a session');
select throws_ok($$ insert into training_metrics (session_id, epoch) values ('f0000000-0000-0000-0000-000000000001', 1) $$,
  '42501', 'permission denied for table training_metrics', 'anon cannot log metrics');
select throws_ok($$ delete from model_benchmarks $$,
  '42501', 'permission denied for table model_benchmarks', 'anon cannot delete benchmarks');
select throws_ok($$ insert into training_datasets (name) values ('mine') $$,
  '42501', 'permission denied for table training_datasets', 'anon cannot create a dataset');

select throws_ok($$ select start_session('s', 'm', 1) $$,
  '42501', 'permission denied for function start_session');
select throws_ok($$ select log_epochs('f0000000-0000-0000-0000-000000000001', '[{"epoch": 1}]') $$,
  '42501', 'permission denied for function log_epochs');
select throws_ok($$ select log_epoch('f0000000-0000-0000-0000-000000000001', 1) $$,
  '42501', 'permission denied for function log_epoch');
select throws_ok($$ select finish_session('f0000000-0000-0000-0000-000000000001') $$,
  '42501', 'permission denied for function finish_session');
select throws_ok($$ select heartbeat('f0000000-0000-0000-0000-000000000001') $$,
  '42501', 'permission denied for function heartbeat');
select throws_ok($$ select request_stop('f0000000-0000-0000-0000-000000000001') $$,
  '42501', 'permission denied for function request_stop');
select throws_ok($$ select mark_stale_sessions() $$,
  '42501', 'permission denied for function mark_stale_sessions');
select throws_ok($$ select record_validation('f0000000-0000-0000-0000-000000000001', '[]') $$,
  '42501', 'permission denied for function record_validation');
select throws_ok($$ select record_benchmark('f0000000-0000-0000-0000-000000000001', 5) $$,
  '42501', 'permission denied for function record_benchmark');
select throws_ok($$ select upsert_dataset('coco8') $$,
  '42501', 'permission denied for function upsert_dataset');
select throws_ok($$ select create_hyperparameter_run('search') $$,
  '42501', 'permission denied for function create_hyperparameter_run');
select throws_ok($$ select mltrack_internal.owns_session('f0000000-0000-0000-0000-000000000001') $$,
  '42501', 'permission denied for schema mltrack_internal', 'anon cannot reach the internal helpers');

-- Nothing changed behind the errors.
reset role;
select is((select status from training_sessions where id = 'f0000000-0000-0000-0000-000000000001'), 'running',
  'the session is untouched');
select is((select count(*)::integer from training_metrics), 1, 'no metrics were added or removed');
select is((select count(*)::integer from training_datasets), 1, 'no dataset was added');
select is((select count(*)::integer from model_benchmarks), 1, 'no benchmark was removed');

select * from finish();
rollback;
