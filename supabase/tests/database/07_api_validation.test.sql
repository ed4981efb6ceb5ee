-- The SQL API's own checks and behaviours (as a trusted caller, so RLS is not the subject here):
-- missing and unknown ids, JSON batches, replays that change nothing, upserts that merge.
begin;
select plan(55);
set local timezone = 'UTC';

insert into training_datasets (id, name, class_names, metadata) values
  ('70000000-0000-0000-0000-0000000000d1', 'coco8', '{cat,dog}', '{"source": "ultralytics"}');
insert into training_sessions (id, session_name, model_type, epochs, status) values
  ('70000000-0000-0000-0000-000000000001', 'api', 'yolov8n', 10, 'running'),
  ('70000000-0000-0000-0000-000000000002', 'pending', 'yolov8n', 10, 'pending');

-- Which session.
select throws_ok($$ select log_epochs(null, '[]') $$, 'MT002', 'session_id is required', 'a missing session id');
select throws_ok($$ select heartbeat('70000000-0000-0000-0000-0000000000ff') $$,
  'MT005', 'session_id does not match any training session (got 70000000-0000-0000-0000-0000000000ff)', 'an unknown session id');
select throws_ok($$ select finish_session('70000000-0000-0000-0000-0000000000ff') $$,
  'MT005', 'session_id does not match any training session (got 70000000-0000-0000-0000-0000000000ff)', 'finishing an unknown session');

-- start_session.
select throws_ok($$ select start_session('s', 'm', 1, hyperparameter_run_id => '70000000-0000-0000-0000-0000000000ee') $$,
  'MT005', 'hyperparameter_run_id does not match any hyperparameter run (got 70000000-0000-0000-0000-0000000000ee)',
  'an unknown hyperparameter run');
select throws_ok($$ select start_session('s', 'm', 1, status => 'completed') $$,
  'MT004', 'status of a new session must be pending or running (got completed)', 'start_session cannot create a finished session');
select throws_ok($$ select start_session(null, 'm', 1) $$,
  'MT002', 'session_name is required and must not be blank', 'start_session needs a name');
select throws_ok($$ select start_session('s', 'm', null) $$, 'MT002', 'epochs is required', 'start_session needs epochs');
select results_eq($$ select status, dataset_id, config from start_session('s', 'm', 1, dataset_name => 'coco8', config => null) $$,
  $$ values ('running', '70000000-0000-0000-0000-0000000000d1'::uuid, '{}'::jsonb) $$,
  'start_session: running by default, linked to the dataset by name, config {} when null');
select is((start_session('p', 'm', 1, status => 'pending')).status, 'pending', 'start_session can create a pending session');

-- log_epochs: the batch is checked before anything is written.
select throws_ok($$ select log_epochs('70000000-0000-0000-0000-000000000001', null) $$, 'MT002', 'metrics is required', 'null metrics');
select throws_ok($$ select log_epochs('70000000-0000-0000-0000-000000000001', '{"epoch": 1}') $$,
  'MT001', 'metrics must be a JSON array of objects (got object)', 'metrics not an array');
select throws_ok($$ select log_epochs('70000000-0000-0000-0000-000000000001',
                                      (select jsonb_agg(jsonb_build_object('epoch', 1)) from generate_series(1, 10001))) $$,
  'MT003', 'metrics must hold at most 10000 rows per call (got 10001)', 'too many rows in one call');
select throws_ok($$ select log_epochs('70000000-0000-0000-0000-000000000001', '[{"epoch": 1}, 2]') $$,
  'MT001', 'metrics[1] must be a JSON object (got number)', 'a row that is not an object');
select throws_ok($$ select log_epochs('70000000-0000-0000-0000-000000000001', '[{"epoch": 1, "mAP": 0.5}]') $$,
  'MT001', 'mAP is not a known field (in metrics[0])', 'an unknown field');
select throws_ok($$ select log_epochs('70000000-0000-0000-0000-000000000001', '[{"epoch": 1, "map50": "high"}]') $$,
  'MT001', 'map50 must be a number (in metrics[0]) (got "high")', 'a string where a number belongs');
select throws_ok($$ select log_epochs('70000000-0000-0000-0000-000000000001', '[{"epoch": 1}, {"epoch": 2, "box_loss": "NaN"}]') $$,
  'MT001', 'box_loss must be a finite number (in metrics[1]) (got NaN)', 'NaN as JSON spells it');
select throws_ok($$ select log_epochs('70000000-0000-0000-0000-000000000001', '[{"epoch": 1, "total_loss": "-Infinity"}]') $$,
  'MT001', 'total_loss must be a finite number (in metrics[0]) (got -Infinity)', '-Infinity as JSON spells it');
select throws_ok($$ select log_epochs('70000000-0000-0000-0000-000000000001', '[{"epoch": 1.5}]') $$,
  'MT001', 'epoch must be an integer (in metrics[0]) (got 1.5)', 'a fractional epoch');
select throws_ok($$ select log_epochs('70000000-0000-0000-0000-000000000001', '[{"epoch": 1, "extra": [1]}]') $$,
  'MT001', 'extra must be a JSON object (in metrics[0]) (got [1])', 'extra not an object');
select throws_ok($$ select log_epochs('70000000-0000-0000-0000-000000000001', '[{"map50": 0.5}]') $$,
  'MT002', 'epoch is required in every row of metrics', 'a row without epoch');
select throws_ok($$ select log_epochs('70000000-0000-0000-0000-000000000001', '[{"epoch": 11}]') $$,
  'MT001', 'epoch must be between 0 and the session''s epochs (10) (got 11)', 'an epoch past the session''s epochs');
select throws_ok($$ select log_epochs('70000000-0000-0000-0000-000000000001', '[{"epoch": 1, "map50": 86.7}]') $$,
  'MT001', 'map50 must be between 0 and 1 (got 86.7)', 'a percentage where a fraction belongs');
select is(log_epochs('70000000-0000-0000-0000-000000000001', '[]'), 0, 'an empty batch writes nothing');
select throws_ok($$ select log_epochs('70000000-0000-0000-0000-000000000001', '[{"epoch": 3.0, "map50": 0.5}]') $$,
  'MT001', 'epoch must be an integer (in metrics[0]) (got 3.0)',
  'an epoch written 3.0 (a Python float) is rejected with a clear error');
select throws_ok($$ select record_validation('70000000-0000-0000-0000-000000000001', '[{"class_name": "cat", "class_id": 0.0}]') $$,
  'MT001', 'class_id must be an integer (in results[0]) (got 0.0)',
  'a class_id written 0.0 is rejected with a clear error');
select throws_ok($$ select log_epochs('70000000-0000-0000-0000-000000000001', '[{"epoch": 1, "map50": 1e400}]') $$,
  'MT001', 'map50 must be a number (in metrics[0]) (got 1' || repeat('0', 400) || ')',
  'a number beyond double precision is rejected with a clear error');

-- Upserts merge: a replayed batch changes nothing, a partial batch fills in.
select is(log_epochs('70000000-0000-0000-0000-000000000001', '[{"epoch": 1, "box_loss": 1.5, "extra": {"a": 1}}]'), 1, 'first write');
select is(log_epochs('70000000-0000-0000-0000-000000000001', '[{"epoch": 1, "val_box_loss": 1.7, "extra": {"b": 2}}]'), 1, 'partial write');
select results_eq($$ select box_loss, val_box_loss, extra from training_metrics
                      where session_id = '70000000-0000-0000-0000-000000000001' and epoch = 1 $$,
  $$ values (1.5::double precision, 1.7::double precision, '{"a": 1, "b": 2}'::jsonb) $$,
  'the partial write merged into the epoch, extra included');
select is((select epochs_completed from training_sessions where id = '70000000-0000-0000-0000-000000000001'), 1,
  'rewriting an epoch does not count it twice');

-- log_epoch.
select throws_ok($$ select log_epoch('70000000-0000-0000-0000-000000000001', null) $$, 'MT002', 'epoch is required', 'log_epoch needs an epoch');
select throws_ok($$ select log_epoch('70000000-0000-0000-0000-000000000001', 2, extra => '[]') $$,
  'MT001', 'extra must be a JSON object (got array)', 'log_epoch extra not an object');
select throws_ok($$ select log_epoch('70000000-0000-0000-0000-000000000001', 2, map50 => 'NaN') $$,
  'MT001', 'map50 must be a finite number (in metrics[0]) (got NaN)', 'log_epoch rejects NaN');
select throws_ok($$ select log_epoch('70000000-0000-0000-0000-000000000001', 2, cls_loss => 'Infinity') $$,
  'MT001', 'cls_loss must be a finite number (in metrics[0]) (got Infinity)', 'log_epoch rejects infinity');

-- finish_session, request_stop, heartbeat.
select throws_ok($$ select finish_session('70000000-0000-0000-0000-000000000001', 'running') $$,
  'MT001', 'status must be one of completed, failed, cancelled (got running)', 'finish_session only finishes');
select throws_ok($$ select finish_session('70000000-0000-0000-0000-000000000001', null) $$,
  'MT002', 'status is required', 'finish_session needs a status');
select throws_ok($$ select finish_session('70000000-0000-0000-0000-000000000002') $$,
  'MT004', 'status cannot go from pending to completed (got completed)', 'a pending session cannot complete');
select is((finish_session('70000000-0000-0000-0000-000000000001', completed_at => clock_timestamp() + interval '1 hour')).status,
  'completed', 'finish_session completes a running session');
select is((finish_session('70000000-0000-0000-0000-000000000001', model_path => 'best.pt')).completed_at,
  (select completed_at from training_sessions where id = '70000000-0000-0000-0000-000000000001'),
  'finishing again with the same status keeps completed_at');
select throws_ok($$ select finish_session('70000000-0000-0000-0000-000000000001', 'failed') $$,
  'MT004', 'status cannot change: the session is already completed and terminal states are final (got failed)',
  'a completed session cannot fail afterwards');
select throws_ok($$ select request_stop('70000000-0000-0000-0000-000000000001') $$,
  'MT004', 'status is already completed: nothing to stop (got completed)', 'nothing to stop once finished');
select is((request_stop('70000000-0000-0000-0000-000000000002')).status_reason, 'stop requested',
  'request_stop without a reason says so');
select is(heartbeat('70000000-0000-0000-0000-000000000001'), false, 'a heartbeat of a finished session only reads');

-- record_validation.
select throws_ok($$ select record_validation('70000000-0000-0000-0000-000000000001', '[]', 'dev') $$,
  'MT001', 'split must be one of train, val, test (got dev)', 'an unknown split');
select throws_ok($$ select record_validation('70000000-0000-0000-0000-000000000001', '{}') $$,
  'MT001', 'results must be a JSON array of objects (got object)', 'results not an array');
select throws_ok($$ select record_validation('70000000-0000-0000-0000-000000000001', '[{"class_name": "cat", "class_id": "3"}]') $$,
  'MT001', 'class_id must be an integer (in results[0]) (got "3")', 'a string class_id');
select throws_ok($$ select record_validation('70000000-0000-0000-0000-000000000001', '[{"class_name": 5}]') $$,
  'MT001', 'class_name must be a string (in results[0]) (got 5)', 'a numeric class_name');
select is(record_validation('70000000-0000-0000-0000-000000000001', '[{"map50": 0.5}, {"class_name": "cat", "map50": 0.4}]'), 2,
  'the overall row (class_name defaults to all) and a class');
select is(record_validation('70000000-0000-0000-0000-000000000001', '[{"class_name": "cat", "map50": 0.6}]'), 1,
  'validating a class again');
select results_eq($$ select class_name, map50 from validation_results order by class_name $$,
  $$ values ('all', 0.5::double precision), ('cat', 0.6::double precision) $$,
  'a class validated again replaces its row');

-- record_benchmark.
select throws_ok($$ select record_benchmark('70000000-0000-0000-0000-000000000001', null) $$,
  'MT002', 'avg_inference_ms is required', 'a benchmark needs its mean latency');
select is((record_benchmark('70000000-0000-0000-0000-000000000001', 5, benchmark_id => '70000000-0000-0000-0000-0000000000b1')).fps,
  200::double precision, 'a benchmark with a chosen id');
select is((record_benchmark('70000000-0000-0000-0000-000000000001', 9, benchmark_id => '70000000-0000-0000-0000-0000000000b1')).avg_inference_ms,
  5::double precision, 'replaying the benchmark id returns the recorded benchmark unchanged');

-- upsert_dataset.
select results_eq($$ select num_classes, train_size, metadata from upsert_dataset('coco8', class_names => '{cat,dog,bird}',
                                                                            train_size => 4, metadata => '{"v": 2}') $$,
  $$ values (3, 4, '{"source": "ultralytics", "v": 2}'::jsonb) $$,
  'upsert_dataset by name: num_classes from class_names, metadata merged');
select throws_ok($$ select upsert_dataset(null) $$, 'MT002', 'name is required and must not be blank', 'a dataset needs a name');

select * from finish();
rollback;
