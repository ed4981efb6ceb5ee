-- log_epoch_columns: the batch of epochs as one array per field. The same upsert as log_epochs,
-- the same rules (the table's CHECKs and triggers), and its own checks of the arrays' shape; per
-- role: anon may not call it, another user gets MT006, the owner and service_role write.
begin;
select plan(22);
-- The users the rows belong to exist in Supabase Auth (owner_id references auth.users).
insert into auth.users (id) values
  ('11111111-1111-1111-1111-111111111111'), ('22222222-2222-2222-2222-222222222222');

insert into training_sessions (id, owner_id, session_name, model_type, epochs, status) values
  ('90000000-0000-0000-0000-000000000001', null, 'columns', 'yolov8n', 10, 'pending'),
  ('90000000-0000-0000-0000-000000000002', '11111111-1111-1111-1111-111111111111', 'owned', 'yolov8n', 10, 'running');

-- Writes, and what the triggers make of them.
select is(log_epoch_columns('90000000-0000-0000-0000-000000000001', '{0,1,2}',
    box_loss => '{1.5,1.2,1.0}', map50 => '{0.3,0.5,0.4}', map50_95 => '{0.2,0.35,0.3}',
    extra => array['{"lr_pg1": 0.01}', null, '{}']::jsonb[]),
  3, 'three epochs written');
select results_eq($$ select epoch, box_loss, map50_95, extra from training_metrics
                      where session_id = '90000000-0000-0000-0000-000000000001' order by epoch $$,
  $$ values (0, 1.5::float8, 0.2::float8, '{"lr_pg1": 0.01}'::jsonb), (1, 1.2, 0.35, '{}'), (2, 1.0, 0.3, '{}') $$,
  'element i of every array is row i; a null extra is {}');
select results_eq($$ select status, current_epoch, epochs_completed, best_epoch, best_map50_95
                      from training_sessions where id = '90000000-0000-0000-0000-000000000001' $$,
  $$ values ('running'::text, 2, 3, 1, 0.35::float8) $$,
  'the session runs, with its progress and best epoch');
select is(log_epoch_columns('90000000-0000-0000-0000-000000000001', '{1,1}',
    box_loss => '{0.9,null}', cls_loss => '{0.8,0.7}', extra => array['{"a": 1}']::jsonb[] || null::jsonb),
  1, 'an epoch given twice is written once');
select results_eq($$ select box_loss, cls_loss, map50_95 from training_metrics
                      where session_id = '90000000-0000-0000-0000-000000000001' and epoch = 1 $$,
  $$ values (1.2::float8, 0.7::float8, 0.35::float8) $$,
  'the last row of an epoch wins, and a null keeps the stored value');
select is(log_epoch_columns('90000000-0000-0000-0000-000000000001', '{}'), 0, 'an empty batch writes nothing');

-- The arrays' shape.
select throws_ok($$ select log_epoch_columns('90000000-0000-0000-0000-000000000001', null) $$,
  'MT002', 'epoch is required', 'epoch is required');
select throws_ok($$ select log_epoch_columns('90000000-0000-0000-0000-000000000001', '{3,4}', box_loss => '{1.0}') $$,
  'MT001', 'box_loss must have one value per epoch (got 1 values for 2 epochs)', 'an array of another length');
select throws_ok($$ select log_epoch_columns('90000000-0000-0000-0000-000000000001', '{3}',
    extra => array['{}', '{}']::jsonb[]) $$,
  'MT001', 'extra must have one value per epoch (got 2 values for 1 epochs)', 'extra of another length');
select throws_ok($$ select log_epoch_columns('90000000-0000-0000-0000-000000000001', '{3,4}', map50 => '{{0.1},{0.2}}') $$,
  'MT001', 'map50 must be a one-dimensional array (got 2 dimensions)', 'a two-dimensional array');
select throws_ok($$ select log_epoch_columns('90000000-0000-0000-0000-000000000001', '{3,null}') $$,
  'MT002', 'epoch is required in every row (got null at index 1)', 'a null epoch');
select throws_ok($$ select log_epoch_columns('90000000-0000-0000-0000-000000000001', array(select generate_series(0, 10000))) $$,
  'MT003', 'epoch must hold at most 10000 rows per call (got 10001)', 'too many rows');

-- The table's rules, as for every other write.
select throws_ok($$ select log_epoch_columns('90000000-0000-0000-0000-000000000001', '{11}') $$,
  'MT001', 'epoch must be between 0 and the session''s epochs (10) (got 11)', 'an epoch past the session''s epochs');
select throws_ok($$ select log_epoch_columns('90000000-0000-0000-0000-000000000001', '{-1}') $$,
  'MT001', 'epoch must be an integer >= 0 (got -1)', 'a negative epoch');
select throws_ok($$ select log_epoch_columns('90000000-0000-0000-0000-000000000001', '{3}', box_loss => '{NaN}') $$,
  'MT001', 'box_loss must be a finite number >= 0 (got NaN)', 'a NaN loss');
select throws_ok($$ select log_epoch_columns('90000000-0000-0000-0000-000000000001', '{3}', map50 => '{86.7}') $$,
  'MT001', 'map50 must be between 0 and 1 (got 86.7)', 'a percentage for a fraction');
select throws_ok($$ select log_epoch_columns('90000000-0000-0000-0000-000000000001', '{3}', extra => '{"[1]"}') $$,
  'MT001', 'extra must be a JSON object (got array)', 'extra that is not an object');
select throws_ok($$ select log_epoch_columns('90000000-0000-0000-0000-0000000000ff', '{0}') $$,
  'MT005', 'session_id does not match any training session (got 90000000-0000-0000-0000-0000000000ff)', 'an unknown session');

-- Per role.
set local role anon;
select throws_ok($$ select log_epoch_columns('90000000-0000-0000-0000-000000000002', '{0}') $$,
  '42501', 'permission denied for function log_epoch_columns', 'anon may not call it');
reset role;
set local role authenticated;
set local request.jwt.claims = '{"sub":"22222222-2222-2222-2222-222222222222","role":"authenticated"}';
select throws_ok($$ select log_epoch_columns('90000000-0000-0000-0000-000000000002', '{0}') $$,
  'MT006', 'session_id belongs to another user: you may read it but not write to it (got 90000000-0000-0000-0000-000000000002)',
  'another user may not write');
set local request.jwt.claims = '{"sub":"11111111-1111-1111-1111-111111111111","role":"authenticated"}';
select is(log_epoch_columns('90000000-0000-0000-0000-000000000002', '{0,1}', map50 => '{0.1,0.2}'), 2,
  'the owner writes');
reset role;
set local role service_role;
select is(log_epoch_columns('90000000-0000-0000-0000-000000000002', '{2}', map50 => '{0.3}'), 1,
  'service_role writes a user''s session');
reset role;

select * from finish();
rollback;
