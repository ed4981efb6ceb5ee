-- Every CHECK of the six tables: the broken rule raises its mltrack SQLSTATE with a message that
-- names the field and the rule (MT001 invalid, MT002 missing, MT003 too large). Run as the
-- database owner: constraints hold for every role.
begin;
select plan(79);
set local timezone = 'UTC';

insert into public.training_sessions (id, session_name, model_type, epochs)
values ('c0000000-0000-0000-0000-000000000001', 'fixture', 'yolov8n', 10);

-- training_sessions
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs) values (null, 'm', 1) $$,
  'MT002', 'session_name is required and must not be blank', 'session_name null');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs) values ('   ', 'm', 1) $$,
  'MT002', 'session_name is required and must not be blank', 'session_name blank');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs) values (E'\t\n', 'm', 1) $$,
  'MT002', 'session_name is required and must not be blank', 'session_name of tabs and newlines is blank');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs) values (repeat('x', 201), 'm', 1) $$,
  'MT003', 'session_name must be at most 200 characters (got 201 characters)', 'session_name too long');
select lives_ok($$ insert into training_sessions (session_name, model_type, epochs) values (repeat('x', 200), 'm', 1) $$,
  'session_name of exactly 200 characters is fine');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs) values ('s', '', 1) $$,
  'MT002', 'model_type is required and must not be blank', 'model_type blank');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs) values ('s', repeat('m', 101), 1) $$,
  'MT003', 'model_type must be at most 100 characters (got 101 characters)', 'model_type too long');
select throws_ok($$ insert into training_sessions (session_name, model_type) values ('s', 'm') $$,
  'MT002', 'epochs is required', 'epochs missing');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs) values ('s', 'm', 0) $$,
  'MT001', 'epochs must be a positive integer (got 0)', 'epochs zero');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, batch_size) values ('s', 'm', 1, -1) $$,
  'MT001', 'batch_size must be a positive integer (got -1)', 'batch_size negative');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, img_size) values ('s', 'm', 1, 0) $$,
  'MT001', 'img_size must be a positive integer (got 0)', 'img_size zero');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, dataset_size) values ('s', 'm', 1, -3) $$,
  'MT001', 'dataset_size must be an integer >= 0 (got -3)', 'dataset_size negative');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, learning_rate) values ('s', 'm', 1, 0) $$,
  'MT001', 'learning_rate must be a finite number > 0 (got 0)', 'learning_rate zero');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, learning_rate) values ('s', 'm', 1, 'NaN') $$,
  'MT001', 'learning_rate must be a finite number > 0 (got NaN)', 'learning_rate NaN');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, learning_rate) values ('s', 'm', 1, 'Infinity') $$,
  'MT001', 'learning_rate must be a finite number > 0 (got Infinity)', 'learning_rate infinity');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, dataset_name) values ('s', 'm', 1, repeat('d', 201)) $$,
  'MT003', 'dataset_name must be at most 200 characters (got 201 characters)', 'dataset_name too long');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, config) values ('s', 'm', 1, '[1, 2]') $$,
  'MT001', 'config must be a JSON object (got array)', 'config not an object');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, config) values ('s', 'm', 1, '"lr=0.01"') $$,
  'MT001', 'config must be a JSON object (got string)', 'config a string');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, config)
                    values ('s', 'm', 1, jsonb_build_object('k', repeat('x', 70000))) $$,
  'MT003', 'config must be at most 65536 bytes of JSON (got 70009 bytes)', 'config too big');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, hardware_info)
                    values ('s', 'm', 1, jsonb_build_object('k', repeat('x', 16378))) $$,
  'MT003', 'hardware_info must be at most 16384 bytes of JSON (got 16387 bytes)', 'hardware_info too big');
select throws_ok($$ update training_sessions set final_map50 = 1.5 where id = 'c0000000-0000-0000-0000-000000000001' $$,
  'MT001', 'final_map50 must be between 0 and 1 (got 1.5)', 'final_map50 above 1 (a percentage)');
select throws_ok($$ update training_sessions set final_map50_95 = -0.1 where id = 'c0000000-0000-0000-0000-000000000001' $$,
  'MT001', 'final_map50_95 must be between 0 and 1 (got -0.1)', 'final_map50_95 negative');
select throws_ok($$ update training_sessions set final_precision = 'NaN' where id = 'c0000000-0000-0000-0000-000000000001' $$,
  'MT001', 'final_precision must be between 0 and 1 (got NaN)', 'final_precision NaN');
select throws_ok($$ update training_sessions set final_recall = 'Infinity' where id = 'c0000000-0000-0000-0000-000000000001' $$,
  'MT001', 'final_recall must be between 0 and 1 (got Infinity)', 'final_recall infinity');
select throws_ok($$ update training_sessions set final_loss = '-Infinity' where id = 'c0000000-0000-0000-0000-000000000001' $$,
  'MT001', 'final_loss must be a finite number >= 0 (got -Infinity)', 'final_loss -infinity');
select throws_ok($$ update training_sessions set status_reason = repeat('r', 4001) where id = 'c0000000-0000-0000-0000-000000000001' $$,
  'MT003', 'status_reason must be at most 4000 characters (got 4001 characters)', 'status_reason too long');
select throws_ok($$ update training_sessions set model_path = repeat('p', 1001) where id = 'c0000000-0000-0000-0000-000000000001' $$,
  'MT003', 'model_path must be at most 1000 characters (got 1001 characters)', 'model_path too long');
select throws_ok($$ update training_sessions set started_at = '2026-01-02 00:00:00+00', completed_at = '2026-01-01 00:00:00+00'
                    where id = 'c0000000-0000-0000-0000-000000000001' $$,
  'MT001', 'completed_at must be after started_at (got 2026-01-01 00:00:00+00 <= 2026-01-02 00:00:00+00)',
  'completed_at before started_at');

-- training_metrics
select throws_ok($$ insert into training_metrics (session_id, epoch, map50) values ('c0000000-0000-0000-0000-000000000001', 1, 1.5) $$,
  'MT001', 'map50 must be between 0 and 1 (got 1.5)', 'map50 above 1');
select throws_ok($$ insert into training_metrics (session_id, epoch, map50_95) values ('c0000000-0000-0000-0000-000000000001', 1, 'NaN') $$,
  'MT001', 'map50_95 must be between 0 and 1 (got NaN)', 'map50_95 NaN');
select throws_ok($$ insert into training_metrics (session_id, epoch, precision) values ('c0000000-0000-0000-0000-000000000001', 1, 'Infinity') $$,
  'MT001', 'precision must be between 0 and 1 (got Infinity)', 'precision infinity');
select throws_ok($$ insert into training_metrics (session_id, epoch, recall) values ('c0000000-0000-0000-0000-000000000001', 1, -0.5) $$,
  'MT001', 'recall must be between 0 and 1 (got -0.5)', 'recall negative');
select throws_ok($$ insert into training_metrics (session_id, epoch, box_loss) values ('c0000000-0000-0000-0000-000000000001', 1, -1) $$,
  'MT001', 'box_loss must be a finite number >= 0 (got -1)', 'box_loss negative');
select throws_ok($$ insert into training_metrics (session_id, epoch, total_loss) values ('c0000000-0000-0000-0000-000000000001', 1, 'NaN') $$,
  'MT001', 'total_loss must be a finite number >= 0 (got NaN)', 'total_loss NaN (diverged)');
select throws_ok($$ insert into training_metrics (session_id, epoch, val_dfl_loss) values ('c0000000-0000-0000-0000-000000000001', 1, 'Infinity') $$,
  'MT001', 'val_dfl_loss must be a finite number >= 0 (got Infinity)', 'val_dfl_loss infinity');
select throws_ok($$ insert into training_metrics (session_id, epoch, gpu_memory_mb) values ('c0000000-0000-0000-0000-000000000001', 1, -2) $$,
  'MT001', 'gpu_memory_mb must be a finite number >= 0 (got -2)', 'gpu_memory_mb negative');
select throws_ok($$ insert into training_metrics (session_id, epoch) values ('c0000000-0000-0000-0000-000000000001', -1) $$,
  'MT001', 'epoch must be an integer >= 0 (got -1)', 'epoch negative');
select throws_ok($$ insert into training_metrics (session_id, epoch) values ('c0000000-0000-0000-0000-000000000001', 11) $$,
  'MT001', 'epoch must be between 0 and the session''s epochs (10) (got 11)', 'epoch above the session''s epochs');
select lives_ok($$ insert into training_metrics (session_id, epoch) values ('c0000000-0000-0000-0000-000000000001', 0),
                                                                        ('c0000000-0000-0000-0000-000000000001', 10) $$,
  'epochs 0 and epochs (the final evaluation) are accepted');
select throws_ok($$ insert into training_metrics (session_id, epoch, extra) values ('c0000000-0000-0000-0000-000000000001', 2, '3') $$,
  'MT001', 'extra must be a JSON object (got number)', 'extra not an object');
select throws_ok($$ insert into training_metrics (session_id, epoch, extra)
                    values ('c0000000-0000-0000-0000-000000000001', 2, jsonb_build_object('k', repeat('x', 16400))) $$,
  'MT003', 'extra must be at most 16384 bytes of JSON (got 16409 bytes)', 'extra too big');

-- training_datasets
select throws_ok($$ insert into training_datasets (name) values ('  ') $$,
  'MT002', 'name is required and must not be blank', 'dataset name blank');
select throws_ok($$ insert into training_datasets (name) values (repeat('n', 201)) $$,
  'MT003', 'name must be at most 200 characters (got 201 characters)', 'dataset name too long');
select throws_ok($$ insert into training_datasets (name, format) values ('d', '') $$,
  'MT002', 'format is required and must not be blank', 'dataset format blank');
select throws_ok($$ insert into training_datasets (name, description) values ('d', repeat('x', 2001)) $$,
  'MT003', 'description must be at most 2000 characters (got 2001 characters)', 'description too long');
select throws_ok($$ insert into training_datasets (name, class_names, num_classes) values ('d', '{cat,dog}', 3) $$,
  'MT001', 'num_classes must equal the number of class_names (got 3 vs 2)', 'num_classes disagrees with class_names');
select throws_ok($$ insert into training_datasets (name, num_classes) values ('d', -1) $$,
  'MT001', 'num_classes must be an integer >= 0 (got -1)', 'num_classes negative');
select throws_ok($$ insert into training_datasets (name, class_names) values ('d', array_fill('c'::text, array[10001])) $$,
  'MT003', 'class_names must have at most 10000 entries (got 10001)', 'too many class names');
select throws_ok($$ insert into training_datasets (name, train_size) values ('d', -1) $$,
  'MT001', 'train_size must be an integer >= 0 (got -1)', 'train_size negative');
select throws_ok($$ insert into training_datasets (name, metadata) values ('d', '[]') $$,
  'MT001', 'metadata must be a JSON object (got array)', 'metadata not an object');
select throws_ok($$ insert into training_datasets (name, metadata) values ('d', jsonb_build_object('k', repeat('x', 70000))) $$,
  'MT003', 'metadata must be at most 65536 bytes of JSON (got 70009 bytes)', 'metadata too big');
insert into training_datasets (name, train_size, val_size, test_size) values ('coco8', 4, 3, 1);
select is((select total_size from training_datasets where name = 'coco8'), 8, 'total_size is the sum of the splits');
select throws_ok($$ insert into training_datasets (name) values ('coco8') $$,
  '23505', 'duplicate key value violates unique constraint "training_datasets_name_key"', 'dataset names are unique');

-- hyperparameter_runs
select throws_ok($$ insert into hyperparameter_runs (name) values (null) $$,
  'MT002', 'name is required and must not be blank', 'run name missing');
select throws_ok($$ insert into hyperparameter_runs (name, objective) values ('h', 'speed') $$,
  'MT001', 'objective must be one of map50_95, map50, precision, recall, loss (got speed)', 'unknown objective');
select throws_ok($$ insert into hyperparameter_runs (name, direction) values ('h', 'up') $$,
  'MT001', 'direction must be one of maximize, minimize (got up)', 'unknown direction');
select throws_ok($$ insert into hyperparameter_runs (name, status) values ('h', 'done') $$,
  'MT001', 'status must be one of running, completed, cancelled (got done)', 'unknown run status');
select throws_ok($$ insert into hyperparameter_runs (name, n_trials) values ('h', 0) $$,
  'MT001', 'n_trials must be a positive integer (got 0)', 'n_trials zero');
select throws_ok($$ insert into hyperparameter_runs (name, search_space) values ('h', '"lr"') $$,
  'MT001', 'search_space must be a JSON object (got string)', 'search_space not an object');

-- validation_results
select throws_ok($$ insert into validation_results (session_id, split) values ('c0000000-0000-0000-0000-000000000001', 'dev') $$,
  'MT001', 'split must be one of train, val, test (got dev)', 'unknown split');
select throws_ok($$ insert into validation_results (session_id, class_name) values ('c0000000-0000-0000-0000-000000000001', '') $$,
  'MT002', 'class_name is required and must not be blank', 'class_name blank');
select throws_ok($$ insert into validation_results (session_id, recall) values ('c0000000-0000-0000-0000-000000000001', 2) $$,
  'MT001', 'recall must be between 0 and 1 (got 2)', 'validation recall above 1');
select throws_ok($$ insert into validation_results (session_id, instances) values ('c0000000-0000-0000-0000-000000000001', -5) $$,
  'MT001', 'instances must be an integer >= 0 (got -5)', 'instances negative');
insert into validation_results (session_id) values ('c0000000-0000-0000-0000-000000000001');
select throws_ok($$ insert into validation_results (session_id) values ('c0000000-0000-0000-0000-000000000001') $$,
  '23505', 'duplicate key value violates unique constraint "validation_results_session_id_split_class_name_key"',
  'one row per session, split and class');

-- model_benchmarks (latencies: min <= p50 <= p95 <= max and min <= avg <= max)
select throws_ok($$ insert into model_benchmarks (session_id) values ('c0000000-0000-0000-0000-000000000001') $$,
  'MT002', 'avg_inference_ms is required', 'avg_inference_ms missing');
select throws_ok($$ insert into model_benchmarks (session_id, avg_inference_ms) values ('c0000000-0000-0000-0000-000000000001', 0) $$,
  'MT001', 'avg_inference_ms must be a finite number > 0 (got 0)', 'avg_inference_ms zero');
select throws_ok($$ insert into model_benchmarks (session_id, avg_inference_ms) values ('c0000000-0000-0000-0000-000000000001', 'NaN') $$,
  'MT001', 'avg_inference_ms must be a finite number > 0 (got NaN)', 'avg_inference_ms NaN');
select throws_ok($$ insert into model_benchmarks (session_id, avg_inference_ms, min_inference_ms) values ('c0000000-0000-0000-0000-000000000001', 1, 2) $$,
  'MT001', 'avg_inference_ms must not be less than min_inference_ms (got 1 < 2)', 'avg below min');
select throws_ok($$ insert into model_benchmarks (session_id, avg_inference_ms, max_inference_ms) values ('c0000000-0000-0000-0000-000000000001', 5, 3) $$,
  'MT001', 'max_inference_ms must not be less than avg_inference_ms (got 3 < 5)', 'max below avg');
select throws_ok($$ insert into model_benchmarks (session_id, avg_inference_ms, min_inference_ms, p50_inference_ms)
                    values ('c0000000-0000-0000-0000-000000000001', 3, 2, 1) $$,
  'MT001', 'p50_inference_ms must not be less than min_inference_ms (got 1 < 2)', 'p50 below min');
select throws_ok($$ insert into model_benchmarks (session_id, avg_inference_ms, p50_inference_ms, p95_inference_ms)
                    values ('c0000000-0000-0000-0000-000000000001', 3, 3, 2) $$,
  'MT001', 'p95_inference_ms must not be less than p50_inference_ms (got 2 < 3)', 'p95 below p50');
select throws_ok($$ insert into model_benchmarks (session_id, avg_inference_ms, p95_inference_ms, max_inference_ms)
                    values ('c0000000-0000-0000-0000-000000000001', 3, 5, 4) $$,
  'MT001', 'max_inference_ms must not be less than p95_inference_ms (got 4 < 5)', 'max below p95');
select throws_ok($$ insert into model_benchmarks (session_id, avg_inference_ms, min_inference_ms, p50_inference_ms, max_inference_ms)
                    values ('c0000000-0000-0000-0000-000000000001', 3, 1, 10, 5) $$,
  'MT001', 'max_inference_ms must not be less than p50_inference_ms (got 5 < 10)', 'p50 above max (no p95)');
select throws_ok($$ insert into model_benchmarks (session_id, avg_inference_ms, min_inference_ms, p95_inference_ms)
                    values ('c0000000-0000-0000-0000-000000000001', 6, 5, 3) $$,
  'MT001', 'p95_inference_ms must not be less than min_inference_ms (got 3 < 5)', 'p95 below min (no p50)');
select throws_ok($$ insert into model_benchmarks (session_id, avg_inference_ms, fps) values ('c0000000-0000-0000-0000-000000000001', 3, 0) $$,
  'MT001', 'fps must be a finite number > 0 (got 0)', 'fps zero');
select throws_ok($$ insert into model_benchmarks (session_id, avg_inference_ms, batch_size) values ('c0000000-0000-0000-0000-000000000001', 3, 0) $$,
  'MT001', 'batch_size must be a positive integer (got 0)', 'benchmark batch_size zero');
select throws_ok($$ insert into model_benchmarks (session_id, avg_inference_ms, dtype) values ('c0000000-0000-0000-0000-000000000001', 3, repeat('f', 21)) $$,
  'MT003', 'dtype must be at most 20 characters (got 21 characters)', 'dtype too long');
select throws_ok($$ insert into model_benchmarks (session_id, avg_inference_ms, device) values ('c0000000-0000-0000-0000-000000000001', 3, ' ') $$,
  'MT002', 'device is required and must not be blank', 'device blank');
select throws_ok($$ insert into model_benchmarks (session_id, avg_inference_ms, preprocess_ms) values ('c0000000-0000-0000-0000-000000000001', 3, 'Infinity') $$,
  'MT001', 'preprocess_ms must be a finite number >= 0 (got Infinity)', 'preprocess_ms infinity');

select * from finish();
rollback;
