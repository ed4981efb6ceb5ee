-- The SQL API, continued: validation results, benchmarks, datasets, hyperparameter runs.

-- Upserts validation rows of one session and split: one object per class plus the overall row
-- (class_name 'all'). A class validated again replaces its row.
create function public.record_validation(session_id uuid, results jsonb, split text default 'val')
returns integer
language plpgsql
set search_path = ''
as $$
declare
  written integer;
begin
  perform mltrack_internal.writable_session(record_validation.session_id);
  perform mltrack_internal.check_choice('split', record_validation.split, '{train,val,test}', true);
  perform mltrack_internal.check_batch('results', record_validation.results,
    '{precision,recall,map50,map50_95}', '{class_id,images,instances}', '{class_name}', 10000);
  insert into public.validation_results as v (
    session_id, split, class_name, class_id, images, instances, precision, recall, map50, map50_95, extra)
  select distinct on (coalesce(r.class_name, 'all'))
    record_validation.session_id, record_validation.split, coalesce(r.class_name, 'all'), r.class_id,
    r.images, r.instances, r.precision, r.recall, r.map50, r.map50_95, coalesce(r.extra, '{}')
  from jsonb_populate_recordset(null::public.validation_results, record_validation.results)
       with ordinality as r
  order by coalesce(r.class_name, 'all'), r.ordinality desc
  on conflict on constraint validation_results_session_id_split_class_name_key do update set
    class_id = excluded.class_id,
    images = excluded.images,
    instances = excluded.instances,
    precision = excluded.precision,
    recall = excluded.recall,
    map50 = excluded.map50,
    map50_95 = excluded.map50_95,
    extra = excluded.extra,
    recorded_at = now();
  get diagnostics written = row_count;
  return written;
end
$$;
comment on function public.record_validation is 'Upserts per-class validation rows (and the overall row, class_name ''all'') of a session and split.';

create function public.record_benchmark(
  session_id uuid,
  avg_inference_ms double precision,
  min_inference_ms double precision default null,
  max_inference_ms double precision default null,
  p50_inference_ms double precision default null,
  p95_inference_ms double precision default null,
  fps double precision default null,
  device text default 'cpu',
  device_name text default null,
  model_format text default 'pytorch',
  dtype text default 'fp32',
  batch_size integer default 1,
  img_size integer default null,
  num_runs integer default null,
  warmup_runs integer default null,
  preprocess_ms double precision default null,
  postprocess_ms double precision default null,
  hardware_info jsonb default '{}',
  benchmark_id uuid default null
) returns public.model_benchmarks
language plpgsql
set search_path = ''
as $$
declare
  result public.model_benchmarks;
begin
  perform mltrack_internal.writable_session(record_benchmark.session_id);
  insert into public.model_benchmarks as b (
    id, session_id, avg_inference_ms, min_inference_ms, max_inference_ms, p50_inference_ms,
    p95_inference_ms, fps, device, device_name, model_format, dtype, batch_size, img_size,
    num_runs, warmup_runs, preprocess_ms, postprocess_ms, hardware_info)
  values (
    coalesce(record_benchmark.benchmark_id, gen_random_uuid()), record_benchmark.session_id,
    record_benchmark.avg_inference_ms, record_benchmark.min_inference_ms,
    record_benchmark.max_inference_ms, record_benchmark.p50_inference_ms,
    record_benchmark.p95_inference_ms, record_benchmark.fps,
    coalesce(record_benchmark.device, 'cpu'), record_benchmark.device_name,
    coalesce(record_benchmark.model_format, 'pytorch'), coalesce(record_benchmark.dtype, 'fp32'),
    coalesce(record_benchmark.batch_size, 1), record_benchmark.img_size, record_benchmark.num_runs,
    record_benchmark.warmup_runs, record_benchmark.preprocess_ms, record_benchmark.postprocess_ms,
    coalesce(record_benchmark.hardware_info, '{}'))
  -- A replayed benchmark (same benchmark_id) is recorded once.
  on conflict (id) do nothing
  returning * into result;
  if result.id is null then
    select * into result from public.model_benchmarks b where b.id = record_benchmark.benchmark_id;
  end if;
  return result;
end
$$;
comment on function public.record_benchmark is 'Records an inference benchmark of a session''s model; fps is computed when not given.';

create function public.upsert_dataset(
  name text,
  class_names text[] default '{}',
  train_size integer default 0,
  val_size integer default 0,
  test_size integer default 0,
  description text default null,
  format text default 'yolo',
  path text default null,
  metadata jsonb default '{}',
  num_classes integer default null
) returns public.training_datasets
language plpgsql
set search_path = ''
as $$
declare
  result public.training_datasets;
begin
  perform mltrack_internal.check_name('name', upsert_dataset.name, 200);
  select * into result from public.training_datasets d where d.name = upsert_dataset.name;
  if found and mltrack_internal.is_end_user() and result.owner_id is distinct from auth.uid() then
    perform mltrack_internal.reject('MT006', 'name', 'is a dataset of another user: you may read it but not change it',
      upsert_dataset.name);
  end if;
  insert into public.training_datasets as d (
    name, class_names, num_classes, train_size, val_size, test_size, description, format, path, metadata)
  values (
    upsert_dataset.name, coalesce(upsert_dataset.class_names, '{}'),
    coalesce(upsert_dataset.num_classes, cardinality(upsert_dataset.class_names)),
    coalesce(upsert_dataset.train_size, 0), coalesce(upsert_dataset.val_size, 0),
    coalesce(upsert_dataset.test_size, 0), upsert_dataset.description,
    coalesce(upsert_dataset.format, 'yolo'), upsert_dataset.path,
    coalesce(upsert_dataset.metadata, '{}'))
  on conflict on constraint training_datasets_name_key do update set
    class_names = excluded.class_names,
    num_classes = excluded.num_classes,
    train_size = excluded.train_size,
    val_size = excluded.val_size,
    test_size = excluded.test_size,
    description = coalesce(excluded.description, d.description),
    format = excluded.format,
    path = coalesce(excluded.path, d.path),
    metadata = d.metadata || excluded.metadata
  returning * into result;
  return result;
end
$$;
comment on function public.upsert_dataset is 'Creates or updates a dataset by name: class names and split sizes.';

create function public.create_hyperparameter_run(
  name text,
  search_space jsonb default '{}',
  objective text default 'map50_95',
  direction text default null,
  n_trials integer default null,
  model_type text default null,
  dataset_name text default null,
  run_id uuid default null
) returns public.hyperparameter_runs
language plpgsql
set search_path = ''
as $$
declare
  result public.hyperparameter_runs;
begin
  select * into result from public.hyperparameter_runs h where h.id = create_hyperparameter_run.run_id;
  if found then
    return result;
  end if;
  insert into public.hyperparameter_runs (
    id, name, search_space, objective, direction, n_trials, model_type, dataset_name)
  values (
    coalesce(create_hyperparameter_run.run_id, gen_random_uuid()), create_hyperparameter_run.name,
    coalesce(create_hyperparameter_run.search_space, '{}'),
    coalesce(create_hyperparameter_run.objective, 'map50_95'),
    -- Loss is minimised; every other objective (mAP, precision, recall) is maximised.
    coalesce(create_hyperparameter_run.direction,
             case when create_hyperparameter_run.objective = 'loss' then 'minimize' else 'maximize' end),
    create_hyperparameter_run.n_trials, create_hyperparameter_run.model_type,
    create_hyperparameter_run.dataset_name)
  returning * into result;
  return result;
end
$$;
comment on function public.create_hyperparameter_run is 'Creates a hyperparameter search; its trials are sessions started with its id. Replaying with the same run_id returns the existing run.';
