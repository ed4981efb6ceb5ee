-- The run-state machine on training_sessions (pending -> running -> completed | failed | cancelled,
-- pending -> failed | cancelled; terminal states final), the timestamps it stamps, the computed
-- duration, final metrics filled from the best epoch, and updated_at.
begin;
select plan(41);
set local timezone = 'UTC';

-- s1 pending, s2 running, s3 running with started_at given, s4..s6 pending/running for transitions.
insert into training_sessions (id, session_name, model_type, epochs, status) values
  ('d0000000-0000-0000-0000-000000000001', 'pending', 'm', 10, 'pending'),
  ('d0000000-0000-0000-0000-000000000002', 'running', 'm', 10, 'running'),
  ('d0000000-0000-0000-0000-000000000004', 'to fail', 'm', 10, 'pending'),
  ('d0000000-0000-0000-0000-000000000005', 'to cancel', 'm', 10, 'pending'),
  ('d0000000-0000-0000-0000-000000000006', 'run fail', 'm', 10, 'running'),
  ('d0000000-0000-0000-0000-000000000007', 'run cancel', 'm', 10, 'running');
insert into training_sessions (id, session_name, model_type, epochs, status, started_at, last_heartbeat_at) values
  ('d0000000-0000-0000-0000-000000000003', 'given', 'm', 10, 'running', '2026-01-01 00:00:00+00', '2026-01-01 00:05:00+00');

-- Creation.
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, status) values ('s', 'm', 1, 'completed') $$,
  'MT004', 'status of a new session must be pending or running (got completed)', 'a session cannot be created completed');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, status) values ('s', 'm', 1, 'failed') $$,
  'MT004', 'status of a new session must be pending or running (got failed)', 'a session cannot be created failed');
select throws_ok($$ insert into training_sessions (session_name, model_type, epochs, status) values ('s', 'm', 1, 'paused') $$,
  'MT001', 'status must be one of pending, running, completed, failed, cancelled (got paused)', 'a session cannot be created in an unknown state');
select is((select status from training_sessions where id = 'd0000000-0000-0000-0000-000000000001'), 'pending',
  'a session can be created pending');
select ok((select started_at is null and completed_at is null and last_heartbeat_at is null
             from training_sessions where id = 'd0000000-0000-0000-0000-000000000001'),
  'a pending session has not started');
select ok((select started_at is not null and last_heartbeat_at is not null
             from training_sessions where id = 'd0000000-0000-0000-0000-000000000002'),
  'a session created running gets started_at and last_heartbeat_at');
select is((select started_at from training_sessions where id = 'd0000000-0000-0000-0000-000000000003'),
  '2026-01-01 00:00:00+00'::timestamptz, 'a given started_at is kept');
select is((select last_heartbeat_at from training_sessions where id = 'd0000000-0000-0000-0000-000000000003'),
  '2026-01-01 00:05:00+00'::timestamptz, 'a given last_heartbeat_at is kept');
select is((select status from training_sessions where id = 'd0000000-0000-0000-0000-000000000002'), 'running',
  'a session can be created running');

-- Forbidden moves out of non-terminal states.
select throws_ok($$ update training_sessions set status = 'completed' where id = 'd0000000-0000-0000-0000-000000000001' $$,
  'MT004', 'status cannot go from pending to completed (got completed)', 'pending -> completed is forbidden');
select throws_ok($$ update training_sessions set status = 'pending' where id = 'd0000000-0000-0000-0000-000000000002' $$,
  'MT004', 'status cannot go from running to pending (got pending)', 'running -> pending is forbidden');
select throws_ok($$ update training_sessions set status = 'paused' where id = 'd0000000-0000-0000-0000-000000000002' $$,
  'MT001', 'status must be one of pending, running, completed, failed, cancelled (got paused)', 'an unknown status is refused');

-- Allowed moves.
update training_sessions set status = 'running' where id = 'd0000000-0000-0000-0000-000000000001';
select is((select status from training_sessions where id = 'd0000000-0000-0000-0000-000000000001'), 'running',
  'pending -> running is allowed');
select ok((select started_at is not null and last_heartbeat_at is not null
             from training_sessions where id = 'd0000000-0000-0000-0000-000000000001'),
  'starting to run stamps started_at and last_heartbeat_at');
select lives_ok($$ update training_sessions set status = 'failed' where id = 'd0000000-0000-0000-0000-000000000004' $$,
  'pending -> failed is allowed');
select ok((select started_at is null and completed_at is not null and duration_seconds is null
             from training_sessions where id = 'd0000000-0000-0000-0000-000000000004'),
  'a session failed before it started has completed_at but no started_at nor duration');
select lives_ok($$ update training_sessions set status = 'cancelled' where id = 'd0000000-0000-0000-0000-000000000005' $$,
  'pending -> cancelled is allowed');
select lives_ok($$ update training_sessions set status = 'failed', status_reason = 'CUDA out of memory'
                    where id = 'd0000000-0000-0000-0000-000000000006' $$,
  'running -> failed is allowed');
select lives_ok($$ update training_sessions set status = 'cancelled' where id = 'd0000000-0000-0000-0000-000000000007' $$,
  'running -> cancelled is allowed');
select ok((select completed_at is not null from training_sessions where id = 'd0000000-0000-0000-0000-000000000007'),
  'cancelling stamps completed_at');

update training_sessions set status = 'completed' where id = 'd0000000-0000-0000-0000-000000000002';
select ok((select completed_at > started_at from training_sessions where id = 'd0000000-0000-0000-0000-000000000002'),
  'running -> completed stamps completed_at after started_at, even within one transaction');
select ok((select duration_seconds > 0
                  and duration_seconds = extract(epoch from completed_at - started_at)::double precision
             from training_sessions where id = 'd0000000-0000-0000-0000-000000000002'),
  'duration_seconds is completed_at - started_at');
update training_sessions set status = 'completed', completed_at = '2026-01-01 01:30:00+00'
 where id = 'd0000000-0000-0000-0000-000000000003';
select is((select completed_at from training_sessions where id = 'd0000000-0000-0000-0000-000000000003'),
  '2026-01-01 01:30:00+00'::timestamptz, 'a given completed_at is kept');
select is((select duration_seconds from training_sessions where id = 'd0000000-0000-0000-0000-000000000003'),
  5400::double precision, 'duration_seconds from the given timestamps');
select throws_ok($$ update training_sessions set duration_seconds = 1 where id = 'd0000000-0000-0000-0000-000000000003' $$,
  '428C9', 'column "duration_seconds" can only be updated to DEFAULT', 'duration_seconds cannot be written');

-- Terminal states are final.
select throws_ok($$ update training_sessions set status = 'running' where id = 'd0000000-0000-0000-0000-000000000002' $$,
  'MT004', 'status cannot change: the session is already completed and terminal states are final (got running)',
  'completed -> running is forbidden');
select throws_ok($$ update training_sessions set status = 'failed' where id = 'd0000000-0000-0000-0000-000000000002' $$,
  'MT004', 'status cannot change: the session is already completed and terminal states are final (got failed)',
  'completed -> failed is forbidden');
select throws_ok($$ update training_sessions set status = 'completed' where id = 'd0000000-0000-0000-0000-000000000006' $$,
  'MT004', 'status cannot change: the session is already failed and terminal states are final (got completed)',
  'failed -> completed is forbidden');
select throws_ok($$ update training_sessions set status = 'running' where id = 'd0000000-0000-0000-0000-000000000007' $$,
  'MT004', 'status cannot change: the session is already cancelled and terminal states are final (got running)',
  'cancelled -> running is forbidden');
select throws_ok($$ update training_sessions set status = 'pending' where id = 'd0000000-0000-0000-0000-000000000005' $$,
  'MT004', 'status cannot change: the session is already cancelled and terminal states are final (got pending)',
  'cancelled -> pending is forbidden');
select lives_ok($$ update training_sessions set model_path = 'runs/best.pt', status = 'completed'
                    where id = 'd0000000-0000-0000-0000-000000000002' $$,
  'a terminal session still takes other columns (and its own status again)');
select is((select model_path from training_sessions where id = 'd0000000-0000-0000-0000-000000000002'), 'runs/best.pt',
  'model_path set after completion');
select is((select status_reason from training_sessions where id = 'd0000000-0000-0000-0000-000000000006'),
  'CUDA out of memory', 'status_reason is stored');

-- Finals filled from the best epoch (highest mAP50-95) on completion; given finals are kept.
insert into training_sessions (id, session_name, model_type, epochs, status) values
  ('d0000000-0000-0000-0000-000000000008', 'finals', 'm', 5, 'running'),
  ('d0000000-0000-0000-0000-000000000009', 'some given', 'm', 5, 'running'),
  ('d0000000-0000-0000-0000-00000000000a', 'failed finals', 'm', 5, 'running');
insert into training_metrics (session_id, epoch, map50, map50_95, precision, recall, total_loss)
select s.id, e.epoch, e.map50, e.map50_95, e.p, e.r, e.loss
  from (values ('d0000000-0000-0000-0000-000000000008'::uuid), ('d0000000-0000-0000-0000-000000000009'),
               ('d0000000-0000-0000-0000-00000000000a')) s(id),
       (values (0, 0.30, 0.20, 0.40, 0.35, 3.0), (1, 0.60, 0.45, 0.70, 0.55, 2.0),
               (2, 0.65, 0.40, 0.72, 0.60, 1.5)) e(epoch, map50, map50_95, p, r, loss);
update training_sessions set status = 'completed' where id = 'd0000000-0000-0000-0000-000000000008';
select results_eq(
  $$ select best_epoch, final_map50, final_map50_95, final_precision, final_recall, final_loss
       from training_sessions where id = 'd0000000-0000-0000-0000-000000000008' $$,
  $$ values (1, 0.60::double precision, 0.45::double precision, 0.70::double precision,
             0.55::double precision, 2.0::double precision) $$,
  'completing fills every final metric from the best epoch (epoch 1, not the last)');
update training_sessions set status = 'completed', final_map50_95 = 0.5, final_loss = 1.0
 where id = 'd0000000-0000-0000-0000-000000000009';
select results_eq(
  $$ select final_map50, final_map50_95, final_loss from training_sessions
      where id = 'd0000000-0000-0000-0000-000000000009' $$,
  $$ values (0.60::double precision, 0.5::double precision, 1.0::double precision) $$,
  'given finals are kept, the others come from the best epoch');
update training_sessions set status = 'failed' where id = 'd0000000-0000-0000-0000-00000000000a';
select ok((select final_map50 is null and final_map50_95 is null
             from training_sessions where id = 'd0000000-0000-0000-0000-00000000000a'),
  'a failed session gets no final metrics');
update training_sessions set final_map50 = null where id = 'd0000000-0000-0000-0000-000000000008';
select is((select final_map50 from training_sessions where id = 'd0000000-0000-0000-0000-000000000008'),
  null::double precision, 'finals are filled once, on the move to completed');

-- updated_at is touched on every update of the three owner tables.
insert into training_sessions (id, session_name, model_type, epochs, created_at, updated_at)
values ('d0000000-0000-0000-0000-00000000000b', 'old', 'm', 1, '2020-01-01', '2020-01-01');
insert into training_datasets (id, name, created_at, updated_at)
values ('d1000000-0000-0000-0000-000000000001', 'ds', '2020-01-01', '2020-01-01');
insert into hyperparameter_runs (id, name, created_at, updated_at)
values ('d2000000-0000-0000-0000-000000000001', 'hp', '2020-01-01', '2020-01-01');
update training_sessions set session_name = 'renamed', updated_at = '2021-01-01' where id = 'd0000000-0000-0000-0000-00000000000b';
update training_datasets set description = 'eight images' where id = 'd1000000-0000-0000-0000-000000000001';
update hyperparameter_runs set n_trials = 20 where id = 'd2000000-0000-0000-0000-000000000001';
select is((select updated_at from training_sessions where id = 'd0000000-0000-0000-0000-00000000000b'), now(),
  'updating a session sets updated_at (even over a given value)');
select is((select updated_at from training_datasets where id = 'd1000000-0000-0000-0000-000000000001'), now(),
  'updating a dataset sets updated_at');
select is((select updated_at from hyperparameter_runs where id = 'd2000000-0000-0000-0000-000000000001'), now(),
  'updating a hyperparameter run sets updated_at');
select is((select created_at from training_sessions where id = 'd0000000-0000-0000-0000-00000000000b'),
  '2020-01-01'::timestamptz, 'created_at never changes');

select * from finish();
rollback;
