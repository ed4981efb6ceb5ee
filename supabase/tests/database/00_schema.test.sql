-- The declared schema: tables and their columns and keys, views, the SQL API's signatures, and the
-- guards that keep the security posture from drifting (RLS on every table, pinned search_path on
-- every security definer function, security_invoker views, realtime publication).
begin;
select plan(56);

-- Tables, exactly these six.
select tables_are('public', array[
  'training_datasets', 'hyperparameter_runs', 'training_sessions', 'training_metrics',
  'validation_results', 'model_benchmarks'], 'public has exactly the six mltrack tables');

select columns_are('public', 'training_datasets', array[
  'id', 'owner_id', 'name', 'description', 'format', 'path', 'class_names', 'num_classes',
  'train_size', 'val_size', 'test_size', 'total_size', 'metadata', 'created_at', 'updated_at']);
select columns_are('public', 'hyperparameter_runs', array[
  'id', 'owner_id', 'name', 'model_type', 'dataset_name', 'search_space', 'objective', 'direction',
  'n_trials', 'status', 'trials_started', 'trials_completed', 'best_session_id', 'best_value',
  'best_params', 'created_at', 'updated_at', 'completed_at']);
select columns_are('public', 'training_sessions', array[
  'id', 'owner_id', 'session_name', 'model_type', 'dataset_name', 'dataset_id', 'dataset_size',
  'epochs', 'batch_size', 'learning_rate', 'img_size', 'config', 'hardware_info', 'status',
  'status_reason', 'hyperparameter_run_id', 'current_epoch', 'epochs_completed', 'best_epoch',
  'best_map50', 'best_map50_95', 'final_map50', 'final_map50_95', 'final_precision',
  'final_recall', 'final_loss', 'model_path', 'best_inference_ms', 'best_fps', 'stop_requested',
  'last_heartbeat_at', 'heartbeat_lost_at', 'started_at', 'completed_at', 'duration_seconds', 'created_at', 'updated_at']);
select columns_are('public', 'training_metrics', array[
  'session_id', 'epoch', 'box_loss', 'cls_loss', 'dfl_loss', 'total_loss', 'val_box_loss',
  'val_cls_loss', 'val_dfl_loss', 'precision', 'recall', 'map50', 'map50_95', 'learning_rate',
  'epoch_time_seconds', 'gpu_memory_mb', 'extra', 'recorded_at']);
select columns_are('public', 'validation_results', array[
  'id', 'session_id', 'split', 'class_name', 'class_id', 'images', 'instances', 'precision',
  'recall', 'map50', 'map50_95', 'extra', 'recorded_at']);
select columns_are('public', 'model_benchmarks', array[
  'id', 'session_id', 'device', 'device_name', 'hardware_info', 'model_format', 'dtype',
  'batch_size', 'img_size', 'num_runs', 'warmup_runs', 'avg_inference_ms', 'min_inference_ms',
  'max_inference_ms', 'p50_inference_ms', 'p95_inference_ms', 'fps', 'preprocess_ms',
  'postprocess_ms', 'created_at']);

-- Keys.
select col_is_pk('public', 'training_datasets', 'id', 'training_datasets: id is the primary key');
select col_is_pk('public', 'hyperparameter_runs', 'id', 'hyperparameter_runs: id is the primary key');
select col_is_pk('public', 'training_sessions', 'id', 'training_sessions: id is the primary key');
select col_is_pk('public', 'training_metrics', array['session_id', 'epoch'],
  'training_metrics: one row per (session_id, epoch)');
select col_is_pk('public', 'validation_results', 'id', 'validation_results: id is the primary key');
select col_is_pk('public', 'model_benchmarks', 'id', 'model_benchmarks: id is the primary key');
select col_is_unique('public', 'training_datasets', array['name'], 'dataset names are unique');
select col_is_unique('public', 'validation_results', array['session_id', 'split', 'class_name'],
  'one validation row per session, split and class');
select fk_ok('public', 'training_metrics', 'session_id', 'public', 'training_sessions', 'id');
select fk_ok('public', 'validation_results', 'session_id', 'public', 'training_sessions', 'id');
select fk_ok('public', 'model_benchmarks', 'session_id', 'public', 'training_sessions', 'id');
select fk_ok('public', 'training_sessions', 'dataset_id', 'public', 'training_datasets', 'id');
select fk_ok('public', 'training_sessions', 'hyperparameter_run_id', 'public', 'hyperparameter_runs', 'id');
select fk_ok('public', 'hyperparameter_runs', 'best_session_id', 'public', 'training_sessions', 'id');
select is(
  (select array_agg(a.attname::text order by a.attname) from pg_attribute a
    where a.attrelid in ('public.training_sessions'::regclass, 'public.training_datasets'::regclass)
      and a.attgenerated = 's'),
  array['duration_seconds', 'total_size'],
  'duration_seconds and total_size are computed by the database');

-- Views, each with the session's id.
select views_are('public', array['active_training_sessions', 'training_performance_summary',
  'models_leaderboard'], 'public has exactly the three mltrack views');
select has_column('public', 'active_training_sessions', 'id', 'active_training_sessions has id');
select has_column('public', 'training_performance_summary', 'id', 'training_performance_summary has id');
select has_column('public', 'models_leaderboard', 'id', 'models_leaderboard has id');
select has_column('public', 'models_leaderboard', 'rank', 'models_leaderboard has rank');

-- The SQL API, with its exact signatures.
select has_function('public', 'start_session', array['text', 'text', 'integer', 'text', 'integer',
  'integer', 'double precision', 'integer', 'jsonb', 'jsonb', 'uuid', 'uuid', 'text', 'uuid']);
select has_function('public', 'log_epochs', array['uuid', 'jsonb']);
select has_function('public', 'log_epoch_columns', array['uuid', 'integer[]', 'double precision[]',
  'double precision[]', 'double precision[]', 'double precision[]', 'double precision[]',
  'double precision[]', 'double precision[]', 'double precision[]', 'double precision[]',
  'double precision[]', 'double precision[]', 'double precision[]', 'double precision[]',
  'double precision[]', 'jsonb[]']);
select has_function('public', 'log_epoch', array['uuid', 'integer', 'double precision',
  'double precision', 'double precision', 'double precision', 'double precision',
  'double precision', 'double precision', 'double precision', 'double precision',
  'double precision', 'double precision', 'double precision', 'double precision',
  'double precision', 'jsonb']);
select has_function('public', 'finish_session', array['uuid', 'text', 'text', 'double precision',
  'double precision', 'double precision', 'double precision', 'double precision', 'text',
  'timestamp with time zone']);
select has_function('public', 'heartbeat', array['uuid']);
select has_function('public', 'request_stop', array['uuid', 'text']);
select has_function('public', 'mark_stale_sessions', array['integer']);
select has_function('public', 'record_validation', array['uuid', 'jsonb', 'text']);
select has_function('public', 'record_benchmark', array['uuid', 'double precision',
  'double precision', 'double precision', 'double precision', 'double precision',
  'double precision', 'text', 'text', 'text', 'text', 'integer', 'integer', 'integer', 'integer',
  'double precision', 'double precision', 'jsonb', 'uuid']);
select has_function('public', 'upsert_dataset', array['text', 'text[]', 'integer', 'integer',
  'integer', 'text', 'text', 'text', 'jsonb', 'integer']);
select has_function('public', 'create_hyperparameter_run', array['text', 'jsonb', 'text', 'text',
  'integer', 'text', 'text', 'uuid']);
select function_returns('public', 'finish_hyperparameter_run', array['uuid', 'text'],
  'hyperparameter_runs');
select function_returns('public', 'log_epochs', array['uuid', 'jsonb'], 'integer');
select function_returns('public', 'log_epoch_columns', array['uuid', 'integer[]',
  'double precision[]', 'double precision[]', 'double precision[]', 'double precision[]',
  'double precision[]', 'double precision[]', 'double precision[]', 'double precision[]',
  'double precision[]', 'double precision[]', 'double precision[]', 'double precision[]',
  'double precision[]', 'double precision[]', 'jsonb[]'], 'integer');
select function_returns('public', 'heartbeat', array['uuid'], 'boolean');
select function_returns('public', 'mark_stale_sessions', array['integer'], 'setof uuid');

-- No API beyond these fourteen: a new public function must be added here (and to the RLS tests).
select is(
  (select array_agg(p.proname::text order by p.proname) from pg_proc p
    where p.pronamespace = 'public'::regnamespace
      and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass
                        and d.objid = p.oid and d.deptype = 'e')),
  array['create_hyperparameter_run', 'finish_hyperparameter_run', 'finish_session', 'heartbeat',
        'log_epoch', 'log_epoch_columns', 'log_epochs', 'mark_stale_sessions', 'record_benchmark', 'record_validation', 'request_stop',
        'schedule_stale_check', 'start_session', 'upsert_dataset'],
  'public holds exactly the fourteen API functions (besides extensions)');

-- Guard: every table in public has row-level security on, including tables added later.
select is_empty($$
  select c.relname from pg_class c
   where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
     and not c.relrowsecurity $$,
  'every table in public has row-level security enabled');
-- ... and at least one policy, so enabling RLS was not the whole story.
select is_empty($$
  select c.relname from pg_class c
   where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
     and not exists (select from pg_policy p where p.polrelid = c.oid) $$,
  'every table in public has policies');

-- Guard: security definer functions pin search_path (no search_path hijacking).
select is_empty($$
  select p.oid::regprocedure::text from pg_proc p
   where p.pronamespace in ('public'::regnamespace, 'mltrack_internal'::regnamespace)
     and p.prosecdef
     and not exists (select from unnest(p.proconfig) c where c like 'search_path=%') $$,
  'every security definer function pins search_path');
select is(
  (select array_agg(p.proname::text order by p.proname) from pg_proc p
    where p.pronamespace in ('public'::regnamespace, 'mltrack_internal'::regnamespace)
      and p.prosecdef),
  array['benchmark_written', 'mark_stale_sessions', 'metrics_deleted', 'metrics_updated', 'metrics_written',
        'owns_run', 'owns_session', 'refresh_hyperparameter_run', 'session_hyperparameter_run_changed'],
  'the security definer functions are exactly the reviewed ones');
-- The API functions all pin search_path too (they name every object with its schema).
select is_empty($$
  select p.oid::regprocedure::text from pg_proc p
   where p.pronamespace = 'public'::regnamespace
     and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass
                       and d.objid = p.oid and d.deptype = 'e')
     and not exists (select from unnest(p.proconfig) c where c = 'search_path=""') $$,
  'every API function runs with search_path = ''''');

-- Guard: views run with the caller's rights, so RLS applies through them.
select is_empty($$
  select c.relname from pg_class c
   where c.relnamespace = 'public'::regnamespace and c.relkind = 'v'
     and not exists (select from pg_depend d where d.classid = 'pg_class'::regclass
                       and d.objid = c.oid and d.deptype = 'e')
     and not coalesce('security_invoker=true' = any (c.reloptions), false) $$,
  'every view in public is security_invoker');

-- Live updates.
select is(
  (select array_agg(tablename::text order by tablename) from pg_publication_tables
    where pubname = 'supabase_realtime' and schemaname = 'public'),
  array['hyperparameter_runs', 'model_benchmarks', 'training_datasets', 'training_metrics',
        'training_sessions', 'validation_results'],
  'every table is in the supabase_realtime publication');
select is((select relreplident::text from pg_class where oid = 'public.training_sessions'::regclass),
  'd', 'training_sessions keeps its primary key as replica identity (FULL breaks updates on Postgres 18)');

-- The triggers that carry the logic.
select triggers_are('public', 'training_sessions', array['training_sessions_updated_at',
  'training_sessions_derived_guard', 'training_sessions_state_machine', 'training_sessions_state_machine_update',
  'training_sessions_hyperparameter_run_insert', 'training_sessions_hyperparameter_run_update',
  'training_sessions_hyperparameter_run_delete', 'training_sessions_notify']);
select triggers_are('public', 'training_metrics', array['training_metrics_inserted',
  'training_metrics_updated', 'training_metrics_deleted']);
select triggers_are('public', 'model_benchmarks', array['model_benchmarks_defaults',
  'model_benchmarks_written', 'model_benchmarks_notify']);

select * from finish();
rollback;
