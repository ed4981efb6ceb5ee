-- The six tables. Column names follow the product description, so its SQL examples run verbatim.
-- Every rule is a named CHECK that raises an mltrack error (see the validation helpers migration).

create table public.training_datasets (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid default auth.uid(),
  name text unique
    constraint training_datasets_name_check check (mltrack_internal.check_name('name', name, 200)),
  description text
    constraint training_datasets_description_check check (mltrack_internal.check_text('description', description, 2000)),
  format text not null default 'yolo'
    constraint training_datasets_format_check check (mltrack_internal.check_name('format', format, 50)),
  path text
    constraint training_datasets_path_check check (mltrack_internal.check_text('path', path, 1000)),
  class_names text[] not null default '{}'
    constraint training_datasets_class_names_check check (
      cardinality(class_names) <= 10000
      or mltrack_internal.reject('MT003', 'class_names', 'must have at most 10000 entries', cardinality(class_names)::text)),
  num_classes integer
    constraint training_datasets_num_classes_check check (
      mltrack_internal.check_count('num_classes', num_classes)
      and (num_classes is null or cardinality(class_names) in (0, num_classes)
           or mltrack_internal.reject('MT001', 'num_classes', 'must equal the number of class_names',
                                      num_classes || ' vs ' || cardinality(class_names)))),
  train_size integer not null default 0
    constraint training_datasets_train_size_check check (mltrack_internal.check_count('train_size', train_size)),
  val_size integer not null default 0
    constraint training_datasets_val_size_check check (mltrack_internal.check_count('val_size', val_size)),
  test_size integer not null default 0
    constraint training_datasets_test_size_check check (mltrack_internal.check_count('test_size', test_size)),
  total_size integer generated always as (train_size + val_size + test_size) stored,
  metadata jsonb not null default '{}'
    constraint training_datasets_metadata_check check (mltrack_internal.check_json_object('metadata', metadata, 65536)),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.training_datasets is 'Datasets that sessions train on: class names and split sizes.';

create table public.hyperparameter_runs (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid default auth.uid(),
  name text
    constraint hyperparameter_runs_name_check check (mltrack_internal.check_name('name', name, 200)),
  model_type text
    constraint hyperparameter_runs_model_type_check check (mltrack_internal.check_text('model_type', model_type, 100)),
  dataset_name text
    constraint hyperparameter_runs_dataset_name_check check (mltrack_internal.check_text('dataset_name', dataset_name, 200)),
  search_space jsonb not null default '{}'
    constraint hyperparameter_runs_search_space_check check (mltrack_internal.check_json_object('search_space', search_space, 65536)),
  objective text not null default 'map50_95'
    constraint hyperparameter_runs_objective_check check (
      mltrack_internal.check_choice('objective', objective, '{map50_95,map50,precision,recall,loss}', true)),
  direction text not null default 'maximize'
    constraint hyperparameter_runs_direction_check check (
      mltrack_internal.check_choice('direction', direction, '{maximize,minimize}', true)),
  n_trials integer
    constraint hyperparameter_runs_n_trials_check check (mltrack_internal.check_positive_int('n_trials', n_trials, false)),
  status text not null default 'running'
    constraint hyperparameter_runs_status_check check (
      mltrack_internal.check_choice('status', status, '{running,completed,cancelled}', true)),
  trials_started integer not null default 0,
  trials_completed integer not null default 0,
  best_session_id uuid,
  best_value double precision,
  best_params jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  completed_at timestamptz
);
comment on table public.hyperparameter_runs is 'Hyperparameter searches; each trial is a training session.';

create table public.training_sessions (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid default auth.uid(),
  session_name text
    constraint training_sessions_session_name_check check (mltrack_internal.check_name('session_name', session_name, 200)),
  model_type text
    constraint training_sessions_model_type_check check (mltrack_internal.check_name('model_type', model_type, 100)),
  dataset_name text
    constraint training_sessions_dataset_name_check check (mltrack_internal.check_text('dataset_name', dataset_name, 200)),
  dataset_id uuid references public.training_datasets (id) on delete set null,
  dataset_size integer
    constraint training_sessions_dataset_size_check check (mltrack_internal.check_count('dataset_size', dataset_size)),
  epochs integer
    constraint training_sessions_epochs_check check (mltrack_internal.check_positive_int('epochs', epochs, true)),
  batch_size integer
    constraint training_sessions_batch_size_check check (mltrack_internal.check_positive_int('batch_size', batch_size, false)),
  learning_rate double precision
    constraint training_sessions_learning_rate_check check (mltrack_internal.check_positive('learning_rate', learning_rate)),
  img_size integer
    constraint training_sessions_img_size_check check (mltrack_internal.check_positive_int('img_size', img_size, false)),
  config jsonb not null default '{}'
    constraint training_sessions_config_check check (mltrack_internal.check_json_object('config', config, 65536)),
  hardware_info jsonb not null default '{}'
    constraint training_sessions_hardware_info_check check (mltrack_internal.check_json_object('hardware_info', hardware_info, 16384)),
  status text not null default 'pending'
    constraint training_sessions_status_check check (
      mltrack_internal.check_choice('status', status, '{pending,running,completed,failed,cancelled}', true)),
  status_reason text
    constraint training_sessions_status_reason_check check (mltrack_internal.check_text('status_reason', status_reason, 4000)),
  hyperparameter_run_id uuid references public.hyperparameter_runs (id) on delete set null,
  -- Kept current by the metrics triggers.
  current_epoch integer,
  epochs_completed integer not null default 0,
  best_epoch integer,
  best_map50 double precision,
  best_map50_95 double precision,
  -- Final results: given by the caller, or filled from the best epoch when the session completes.
  final_map50 double precision
    constraint training_sessions_final_map50_check check (mltrack_internal.check_fraction('final_map50', final_map50)),
  final_map50_95 double precision
    constraint training_sessions_final_map50_95_check check (mltrack_internal.check_fraction('final_map50_95', final_map50_95)),
  final_precision double precision
    constraint training_sessions_final_precision_check check (mltrack_internal.check_fraction('final_precision', final_precision)),
  final_recall double precision
    constraint training_sessions_final_recall_check check (mltrack_internal.check_fraction('final_recall', final_recall)),
  final_loss double precision
    constraint training_sessions_final_loss_check check (mltrack_internal.check_non_negative('final_loss', final_loss)),
  model_path text
    constraint training_sessions_model_path_check check (mltrack_internal.check_text('model_path', model_path, 1000)),
  -- Kept current by the benchmark triggers: the fastest benchmark of this model.
  best_inference_ms double precision,
  best_fps double precision,
  stop_requested boolean not null default false,
  last_heartbeat_at timestamptz,
  started_at timestamptz,
  completed_at timestamptz
    constraint training_sessions_completed_at_check check (
      completed_at is null or started_at is null or completed_at > started_at
      or mltrack_internal.reject('MT001', 'completed_at', 'must be after started_at',
                                 completed_at::text || ' <= ' || started_at::text)),
  duration_seconds double precision
    generated always as (extract(epoch from (completed_at - started_at))::double precision) stored,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
)
-- Every metrics batch updates its session: free space on the page lets Postgres update in place.
with (fillfactor = 70);
comment on table public.training_sessions is 'One training run: configuration, live progress and final results.';
comment on column public.training_sessions.status_reason is 'Why a run failed or was cancelled (exception text, "heartbeat lost", user request).';
comment on column public.training_sessions.duration_seconds is 'completed_at - started_at, always computed by the database.';

alter table public.hyperparameter_runs
  add constraint hyperparameter_runs_best_session_id_fkey
  foreign key (best_session_id) references public.training_sessions (id) on delete set null;

create index training_sessions_owner_id_idx on public.training_sessions (owner_id);
create index training_sessions_created_at_idx on public.training_sessions (created_at desc);
create index training_sessions_running_idx on public.training_sessions (started_at desc) where status = 'running';
create index training_sessions_hyperparameter_run_id_idx on public.training_sessions (hyperparameter_run_id)
  where hyperparameter_run_id is not null;
create index training_sessions_dataset_id_idx on public.training_sessions (dataset_id) where dataset_id is not null;
-- The leaderboard's order, so the top 50 never sorts the whole table.
create index training_sessions_leaderboard_idx on public.training_sessions (
  final_map50_95 desc nulls last, final_map50 desc nulls last, best_inference_ms asc nulls last, completed_at asc
) where status = 'completed';
create index hyperparameter_runs_best_session_id_idx on public.hyperparameter_runs (best_session_id);

create table public.training_metrics (
  session_id uuid not null references public.training_sessions (id) on delete cascade,
  epoch integer not null
    constraint training_metrics_epoch_check check (mltrack_internal.check_count('epoch', epoch)),
  box_loss double precision
    constraint training_metrics_box_loss_check check (mltrack_internal.check_non_negative('box_loss', box_loss)),
  cls_loss double precision
    constraint training_metrics_cls_loss_check check (mltrack_internal.check_non_negative('cls_loss', cls_loss)),
  dfl_loss double precision
    constraint training_metrics_dfl_loss_check check (mltrack_internal.check_non_negative('dfl_loss', dfl_loss)),
  total_loss double precision
    constraint training_metrics_total_loss_check check (mltrack_internal.check_non_negative('total_loss', total_loss)),
  val_box_loss double precision
    constraint training_metrics_val_box_loss_check check (mltrack_internal.check_non_negative('val_box_loss', val_box_loss)),
  val_cls_loss double precision
    constraint training_metrics_val_cls_loss_check check (mltrack_internal.check_non_negative('val_cls_loss', val_cls_loss)),
  val_dfl_loss double precision
    constraint training_metrics_val_dfl_loss_check check (mltrack_internal.check_non_negative('val_dfl_loss', val_dfl_loss)),
  precision double precision
    constraint training_metrics_precision_check check (mltrack_internal.check_fraction('precision', precision)),
  recall double precision
    constraint training_metrics_recall_check check (mltrack_internal.check_fraction('recall', recall)),
  map50 double precision
    constraint training_metrics_map50_check check (mltrack_internal.check_fraction('map50', map50)),
  map50_95 double precision
    constraint training_metrics_map50_95_check check (mltrack_internal.check_fraction('map50_95', map50_95)),
  learning_rate double precision
    constraint training_metrics_learning_rate_check check (mltrack_internal.check_non_negative('learning_rate', learning_rate)),
  epoch_time_seconds double precision
    constraint training_metrics_epoch_time_seconds_check check (mltrack_internal.check_non_negative('epoch_time_seconds', epoch_time_seconds)),
  gpu_memory_mb double precision
    constraint training_metrics_gpu_memory_mb_check check (mltrack_internal.check_non_negative('gpu_memory_mb', gpu_memory_mb)),
  extra jsonb not null default '{}'
    constraint training_metrics_extra_check check (mltrack_internal.check_json_object('extra', extra, 16384)),
  recorded_at timestamptz not null default now(),
  -- Writes are upserts on this key, so a replayed batch never duplicates an epoch.
  primary key (session_id, epoch)
);
comment on table public.training_metrics is 'Per-epoch metrics; one row per (session_id, epoch).';

create table public.validation_results (
  id bigint generated always as identity primary key,
  session_id uuid not null references public.training_sessions (id) on delete cascade,
  split text not null default 'val'
    constraint validation_results_split_check check (mltrack_internal.check_choice('split', split, '{train,val,test}', true)),
  -- The overall row has class_name 'all' and no class_id.
  class_name text not null default 'all'
    constraint validation_results_class_name_check check (mltrack_internal.check_name('class_name', class_name, 200)),
  class_id integer
    constraint validation_results_class_id_check check (mltrack_internal.check_count('class_id', class_id)),
  images integer
    constraint validation_results_images_check check (mltrack_internal.check_count('images', images)),
  instances integer
    constraint validation_results_instances_check check (mltrack_internal.check_count('instances', instances)),
  precision double precision
    constraint validation_results_precision_check check (mltrack_internal.check_fraction('precision', precision)),
  recall double precision
    constraint validation_results_recall_check check (mltrack_internal.check_fraction('recall', recall)),
  map50 double precision
    constraint validation_results_map50_check check (mltrack_internal.check_fraction('map50', map50)),
  map50_95 double precision
    constraint validation_results_map50_95_check check (mltrack_internal.check_fraction('map50_95', map50_95)),
  extra jsonb not null default '{}'
    constraint validation_results_extra_check check (mltrack_internal.check_json_object('extra', extra, 16384)),
  recorded_at timestamptz not null default now(),
  unique (session_id, split, class_name)
);
comment on table public.validation_results is 'Validation metrics per session, split and class, plus an overall row (class_name ''all'').';

create table public.model_benchmarks (
  -- A uuid the client may choose, so a replayed benchmark is not recorded twice.
  id uuid primary key default gen_random_uuid(),
  session_id uuid not null references public.training_sessions (id) on delete cascade,
  device text not null default 'cpu'
    constraint model_benchmarks_device_check check (mltrack_internal.check_name('device', device, 100)),
  device_name text
    constraint model_benchmarks_device_name_check check (mltrack_internal.check_text('device_name', device_name, 200)),
  hardware_info jsonb not null default '{}'
    constraint model_benchmarks_hardware_info_check check (mltrack_internal.check_json_object('hardware_info', hardware_info, 16384)),
  model_format text not null default 'pytorch'
    constraint model_benchmarks_model_format_check check (mltrack_internal.check_name('model_format', model_format, 50)),
  dtype text not null default 'fp32'
    constraint model_benchmarks_dtype_check check (mltrack_internal.check_name('dtype', dtype, 20)),
  batch_size integer not null default 1
    constraint model_benchmarks_batch_size_check check (mltrack_internal.check_positive_int('batch_size', batch_size, true)),
  img_size integer
    constraint model_benchmarks_img_size_check check (mltrack_internal.check_positive_int('img_size', img_size, false)),
  num_runs integer
    constraint model_benchmarks_num_runs_check check (mltrack_internal.check_positive_int('num_runs', num_runs, false)),
  warmup_runs integer
    constraint model_benchmarks_warmup_runs_check check (mltrack_internal.check_count('warmup_runs', warmup_runs)),
  avg_inference_ms double precision
    constraint model_benchmarks_avg_inference_ms_check check (
      (avg_inference_ms is not null or mltrack_internal.reject('MT002', 'avg_inference_ms', 'is required'))
      and mltrack_internal.check_positive('avg_inference_ms', avg_inference_ms)
      and mltrack_internal.check_order('avg_inference_ms', avg_inference_ms, 'min_inference_ms', min_inference_ms)
      and mltrack_internal.check_order('max_inference_ms', max_inference_ms, 'avg_inference_ms', avg_inference_ms)),
  min_inference_ms double precision
    constraint model_benchmarks_min_inference_ms_check check (mltrack_internal.check_non_negative('min_inference_ms', min_inference_ms)),
  max_inference_ms double precision
    constraint model_benchmarks_max_inference_ms_check check (mltrack_internal.check_non_negative('max_inference_ms', max_inference_ms)),
  p50_inference_ms double precision
    constraint model_benchmarks_p50_inference_ms_check check (
      mltrack_internal.check_non_negative('p50_inference_ms', p50_inference_ms)
      and mltrack_internal.check_order('p50_inference_ms', p50_inference_ms, 'min_inference_ms', min_inference_ms)),
  p95_inference_ms double precision
    constraint model_benchmarks_p95_inference_ms_check check (
      mltrack_internal.check_non_negative('p95_inference_ms', p95_inference_ms)
      and mltrack_internal.check_order('p95_inference_ms', p95_inference_ms, 'p50_inference_ms', p50_inference_ms)
      and mltrack_internal.check_order('p95_inference_ms', p95_inference_ms, 'min_inference_ms', min_inference_ms)
      and mltrack_internal.check_order('max_inference_ms', max_inference_ms, 'p95_inference_ms', p95_inference_ms)
      and mltrack_internal.check_order('max_inference_ms', max_inference_ms, 'p50_inference_ms', p50_inference_ms)),
  -- Frames per second; computed from avg_inference_ms and batch_size when not given.
  fps double precision
    constraint model_benchmarks_fps_check check (mltrack_internal.check_positive('fps', fps)),
  preprocess_ms double precision
    constraint model_benchmarks_preprocess_ms_check check (mltrack_internal.check_non_negative('preprocess_ms', preprocess_ms)),
  postprocess_ms double precision
    constraint model_benchmarks_postprocess_ms_check check (mltrack_internal.check_non_negative('postprocess_ms', postprocess_ms)),
  created_at timestamptz not null default now()
);
comment on table public.model_benchmarks is 'Inference speed of a trained model on a device.';
create index model_benchmarks_session_id_idx on public.model_benchmarks (session_id, avg_inference_ms);
