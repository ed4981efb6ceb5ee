-- Every CHECK constraint spells out its test of a valid value, so a statement prepares its
-- constraints without inlining a SQL function.
--
-- Postgres prepares a table's CHECK expressions again for every statement that writes it. A
-- constraint that calls a validation helper (check_fraction and the rest) has the helper inlined
-- each time: its body is looked up, parsed and analysed anew. Migration 20261203120001 made the
-- helpers small (a test of a valid value, else a call of <helper>_verdict), yet the inlining
-- itself stayed: the 19 constraints of training_sessions and the 16 of training_metrics cost
-- each single-row session UPDATE about 0.53 ms and each insert of epochs about 0.38 ms, whatever
-- its row count (server CPU of 300 single-row statements, interleaved, on a 2-core machine).
-- Written here inline, the same constraints cost 0.35 and 0.19 ms: what remains is Postgres
-- reading the stored expressions.
--
-- Each constraint keeps its name and its verdict: the test is the helper's own test of a valid
-- value, written with the constraint's arguments, and any other value (or a NULL the test cannot
-- decide) goes to the same <helper>_verdict call, which raises the same SQLSTATE, message, hint
-- and column. A verdict only ever answers true or raises, so "test or verdict" decides as the
-- helper's "case when test then true else verdict end". The verdicts are never inlined (they
-- pin search_path). The helpers stay as they are: the API functions call them on their arguments.
--
-- Each table is altered in one statement, which checks its rows against the new constraints in
-- one pass (they accept what the old ones accepted) under the table's exclusive lock: about 15 s
-- for 11 million epochs and under a second for 100,000 sessions on a 2-core machine, while
-- writes to that table wait.

alter table public.training_datasets
  drop constraint training_datasets_description_check,
  add constraint training_datasets_description_check check (
    description is null or length(description) <= 2000
    or mltrack_internal.check_text_verdict('description', description, 2000)),
  drop constraint training_datasets_format_check,
  add constraint training_datasets_format_check check (
    (length(format) <= 50 and format !~ '^[\u0001-\u0020\u007f-\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]*$')
    or mltrack_internal.check_name_verdict('format', format, 50)),
  drop constraint training_datasets_metadata_check,
  add constraint training_datasets_metadata_check check (
    (jsonb_typeof(metadata) = 'object' and octet_length(metadata::text) <= 65536)
    or mltrack_internal.check_json_object_verdict('metadata', metadata, 65536)),
  drop constraint training_datasets_name_check,
  add constraint training_datasets_name_check check (
    (length(name) <= 200 and name !~ '^[\u0001-\u0020\u007f-\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]*$')
    or mltrack_internal.check_name_verdict('name', name, 200)),
  drop constraint training_datasets_num_classes_check,
  add constraint training_datasets_num_classes_check check (
    (num_classes is null or num_classes >= 0
     or mltrack_internal.check_count_verdict('num_classes', num_classes))
    and (num_classes is null or cardinality(class_names) = 0
         or cardinality(class_names) = num_classes
         or mltrack_internal.reject('MT001', 'num_classes', 'must equal the number of class_names',
                                    num_classes || ' vs ' || cardinality(class_names)))),
  drop constraint training_datasets_path_check,
  add constraint training_datasets_path_check check (
    path is null or length(path) <= 1000
    or mltrack_internal.check_text_verdict('path', path, 1000)),
  drop constraint training_datasets_test_size_check,
  add constraint training_datasets_test_size_check check (
    test_size is null or test_size >= 0
    or mltrack_internal.check_count_verdict('test_size', test_size)),
  drop constraint training_datasets_train_size_check,
  add constraint training_datasets_train_size_check check (
    train_size is null or train_size >= 0
    or mltrack_internal.check_count_verdict('train_size', train_size)),
  drop constraint training_datasets_val_size_check,
  add constraint training_datasets_val_size_check check (
    val_size is null or val_size >= 0
    or mltrack_internal.check_count_verdict('val_size', val_size));

alter table public.hyperparameter_runs
  drop constraint hyperparameter_runs_dataset_name_check,
  add constraint hyperparameter_runs_dataset_name_check check (
    dataset_name is null or length(dataset_name) <= 200
    or mltrack_internal.check_text_verdict('dataset_name', dataset_name, 200)),
  drop constraint hyperparameter_runs_direction_check,
  add constraint hyperparameter_runs_direction_check check (
    direction = any ('{maximize,minimize}')
    or mltrack_internal.check_choice_verdict('direction', direction, '{maximize,minimize}', true)),
  drop constraint hyperparameter_runs_model_type_check,
  add constraint hyperparameter_runs_model_type_check check (
    model_type is null or length(model_type) <= 100
    or mltrack_internal.check_text_verdict('model_type', model_type, 100)),
  drop constraint hyperparameter_runs_n_trials_check,
  add constraint hyperparameter_runs_n_trials_check check (
    n_trials > 0 or n_trials is null
    or mltrack_internal.check_positive_int_verdict('n_trials', n_trials, false)),
  drop constraint hyperparameter_runs_name_check,
  add constraint hyperparameter_runs_name_check check (
    (length(name) <= 200 and name !~ '^[\u0001-\u0020\u007f-\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]*$')
    or mltrack_internal.check_name_verdict('name', name, 200)),
  drop constraint hyperparameter_runs_objective_check,
  add constraint hyperparameter_runs_objective_check check (
    objective = any ('{map50_95,map50,precision,recall,loss}')
    or mltrack_internal.check_choice_verdict('objective', objective, '{map50_95,map50,precision,recall,loss}', true)),
  drop constraint hyperparameter_runs_search_space_check,
  add constraint hyperparameter_runs_search_space_check check (
    (jsonb_typeof(search_space) = 'object' and octet_length(search_space::text) <= 65536)
    or mltrack_internal.check_json_object_verdict('search_space', search_space, 65536)),
  drop constraint hyperparameter_runs_status_check,
  add constraint hyperparameter_runs_status_check check (
    status = any ('{running,completed,cancelled}')
    or mltrack_internal.check_choice_verdict('status', status, '{running,completed,cancelled}', true));

alter table public.training_sessions
  drop constraint training_sessions_batch_size_check,
  add constraint training_sessions_batch_size_check check (
    batch_size > 0 or batch_size is null
    or mltrack_internal.check_positive_int_verdict('batch_size', batch_size, false)),
  drop constraint training_sessions_config_check,
  add constraint training_sessions_config_check check (
    (jsonb_typeof(config) = 'object' and octet_length(config::text) <= 65536)
    or mltrack_internal.check_json_object_verdict('config', config, 65536)),
  drop constraint training_sessions_dataset_name_check,
  add constraint training_sessions_dataset_name_check check (
    dataset_name is null or length(dataset_name) <= 200
    or mltrack_internal.check_text_verdict('dataset_name', dataset_name, 200)),
  drop constraint training_sessions_dataset_size_check,
  add constraint training_sessions_dataset_size_check check (
    dataset_size is null or dataset_size >= 0
    or mltrack_internal.check_count_verdict('dataset_size', dataset_size)),
  drop constraint training_sessions_epochs_check,
  add constraint training_sessions_epochs_check check (
    epochs > 0
    or mltrack_internal.check_positive_int_verdict('epochs', epochs, true)),
  drop constraint training_sessions_final_loss_check,
  add constraint training_sessions_final_loss_check check (
    final_loss is null or (final_loss >= 0 and final_loss < 'infinity')
    or mltrack_internal.check_non_negative_verdict('final_loss', final_loss)),
  drop constraint training_sessions_final_map50_95_check,
  add constraint training_sessions_final_map50_95_check check (
    final_map50_95 is null or (final_map50_95 >= 0 and final_map50_95 <= 1)
    or mltrack_internal.check_fraction_verdict('final_map50_95', final_map50_95)),
  drop constraint training_sessions_final_map50_check,
  add constraint training_sessions_final_map50_check check (
    final_map50 is null or (final_map50 >= 0 and final_map50 <= 1)
    or mltrack_internal.check_fraction_verdict('final_map50', final_map50)),
  drop constraint training_sessions_final_precision_check,
  add constraint training_sessions_final_precision_check check (
    final_precision is null or (final_precision >= 0 and final_precision <= 1)
    or mltrack_internal.check_fraction_verdict('final_precision', final_precision)),
  drop constraint training_sessions_final_recall_check,
  add constraint training_sessions_final_recall_check check (
    final_recall is null or (final_recall >= 0 and final_recall <= 1)
    or mltrack_internal.check_fraction_verdict('final_recall', final_recall)),
  drop constraint training_sessions_hardware_info_check,
  add constraint training_sessions_hardware_info_check check (
    (jsonb_typeof(hardware_info) = 'object' and octet_length(hardware_info::text) <= 16384)
    or mltrack_internal.check_json_object_verdict('hardware_info', hardware_info, 16384)),
  drop constraint training_sessions_img_size_check,
  add constraint training_sessions_img_size_check check (
    img_size > 0 or img_size is null
    or mltrack_internal.check_positive_int_verdict('img_size', img_size, false)),
  drop constraint training_sessions_learning_rate_check,
  add constraint training_sessions_learning_rate_check check (
    learning_rate is null or (learning_rate > 0 and learning_rate < 'infinity')
    or mltrack_internal.check_positive_verdict('learning_rate', learning_rate)),
  drop constraint training_sessions_model_path_check,
  add constraint training_sessions_model_path_check check (
    model_path is null or length(model_path) <= 1000
    or mltrack_internal.check_text_verdict('model_path', model_path, 1000)),
  drop constraint training_sessions_model_type_check,
  add constraint training_sessions_model_type_check check (
    (length(model_type) <= 100 and model_type !~ '^[\u0001-\u0020\u007f-\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]*$')
    or mltrack_internal.check_name_verdict('model_type', model_type, 100)),
  drop constraint training_sessions_session_name_check,
  add constraint training_sessions_session_name_check check (
    (length(session_name) <= 200 and session_name !~ '^[\u0001-\u0020\u007f-\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]*$')
    or mltrack_internal.check_name_verdict('session_name', session_name, 200)),
  drop constraint training_sessions_status_check,
  add constraint training_sessions_status_check check (
    status = any ('{pending,running,completed,failed,cancelled}')
    or mltrack_internal.check_choice_verdict('status', status, '{pending,running,completed,failed,cancelled}', true)),
  drop constraint training_sessions_status_reason_check,
  add constraint training_sessions_status_reason_check check (
    status_reason is null or length(status_reason) <= 4000
    or mltrack_internal.check_text_verdict('status_reason', status_reason, 4000));

alter table public.training_metrics
  drop constraint training_metrics_box_loss_check,
  add constraint training_metrics_box_loss_check check (
    box_loss is null or (box_loss >= 0 and box_loss < 'infinity')
    or mltrack_internal.check_non_negative_verdict('box_loss', box_loss)),
  drop constraint training_metrics_cls_loss_check,
  add constraint training_metrics_cls_loss_check check (
    cls_loss is null or (cls_loss >= 0 and cls_loss < 'infinity')
    or mltrack_internal.check_non_negative_verdict('cls_loss', cls_loss)),
  drop constraint training_metrics_dfl_loss_check,
  add constraint training_metrics_dfl_loss_check check (
    dfl_loss is null or (dfl_loss >= 0 and dfl_loss < 'infinity')
    or mltrack_internal.check_non_negative_verdict('dfl_loss', dfl_loss)),
  drop constraint training_metrics_epoch_check,
  add constraint training_metrics_epoch_check check (
    epoch is null or epoch >= 0
    or mltrack_internal.check_count_verdict('epoch', epoch)),
  drop constraint training_metrics_epoch_time_seconds_check,
  add constraint training_metrics_epoch_time_seconds_check check (
    epoch_time_seconds is null or (epoch_time_seconds >= 0 and epoch_time_seconds < 'infinity')
    or mltrack_internal.check_non_negative_verdict('epoch_time_seconds', epoch_time_seconds)),
  drop constraint training_metrics_extra_check,
  add constraint training_metrics_extra_check check (
    (jsonb_typeof(extra) = 'object' and octet_length(extra::text) <= 16384)
    or mltrack_internal.check_json_object_verdict('extra', extra, 16384)),
  drop constraint training_metrics_gpu_memory_mb_check,
  add constraint training_metrics_gpu_memory_mb_check check (
    gpu_memory_mb is null or (gpu_memory_mb >= 0 and gpu_memory_mb < 'infinity')
    or mltrack_internal.check_non_negative_verdict('gpu_memory_mb', gpu_memory_mb)),
  drop constraint training_metrics_learning_rate_check,
  add constraint training_metrics_learning_rate_check check (
    learning_rate is null or (learning_rate >= 0 and learning_rate < 'infinity')
    or mltrack_internal.check_non_negative_verdict('learning_rate', learning_rate)),
  drop constraint training_metrics_map50_95_check,
  add constraint training_metrics_map50_95_check check (
    map50_95 is null or (map50_95 >= 0 and map50_95 <= 1)
    or mltrack_internal.check_fraction_verdict('map50_95', map50_95)),
  drop constraint training_metrics_map50_check,
  add constraint training_metrics_map50_check check (
    map50 is null or (map50 >= 0 and map50 <= 1)
    or mltrack_internal.check_fraction_verdict('map50', map50)),
  drop constraint training_metrics_precision_check,
  add constraint training_metrics_precision_check check (
    "precision" is null or ("precision" >= 0 and "precision" <= 1)
    or mltrack_internal.check_fraction_verdict('precision', "precision")),
  drop constraint training_metrics_recall_check,
  add constraint training_metrics_recall_check check (
    recall is null or (recall >= 0 and recall <= 1)
    or mltrack_internal.check_fraction_verdict('recall', recall)),
  drop constraint training_metrics_total_loss_check,
  add constraint training_metrics_total_loss_check check (
    total_loss is null or (total_loss >= 0 and total_loss < 'infinity')
    or mltrack_internal.check_non_negative_verdict('total_loss', total_loss)),
  drop constraint training_metrics_val_box_loss_check,
  add constraint training_metrics_val_box_loss_check check (
    val_box_loss is null or (val_box_loss >= 0 and val_box_loss < 'infinity')
    or mltrack_internal.check_non_negative_verdict('val_box_loss', val_box_loss)),
  drop constraint training_metrics_val_cls_loss_check,
  add constraint training_metrics_val_cls_loss_check check (
    val_cls_loss is null or (val_cls_loss >= 0 and val_cls_loss < 'infinity')
    or mltrack_internal.check_non_negative_verdict('val_cls_loss', val_cls_loss)),
  drop constraint training_metrics_val_dfl_loss_check,
  add constraint training_metrics_val_dfl_loss_check check (
    val_dfl_loss is null or (val_dfl_loss >= 0 and val_dfl_loss < 'infinity')
    or mltrack_internal.check_non_negative_verdict('val_dfl_loss', val_dfl_loss));

alter table public.validation_results
  drop constraint validation_results_class_id_check,
  add constraint validation_results_class_id_check check (
    class_id is null or class_id >= 0
    or mltrack_internal.check_count_verdict('class_id', class_id)),
  drop constraint validation_results_class_name_check,
  add constraint validation_results_class_name_check check (
    (length(class_name) <= 200 and class_name !~ '^[\u0001-\u0020\u007f-\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]*$')
    or mltrack_internal.check_name_verdict('class_name', class_name, 200)),
  drop constraint validation_results_extra_check,
  add constraint validation_results_extra_check check (
    (jsonb_typeof(extra) = 'object' and octet_length(extra::text) <= 16384)
    or mltrack_internal.check_json_object_verdict('extra', extra, 16384)),
  drop constraint validation_results_images_check,
  add constraint validation_results_images_check check (
    images is null or images >= 0
    or mltrack_internal.check_count_verdict('images', images)),
  drop constraint validation_results_instances_check,
  add constraint validation_results_instances_check check (
    instances is null or instances >= 0
    or mltrack_internal.check_count_verdict('instances', instances)),
  drop constraint validation_results_map50_95_check,
  add constraint validation_results_map50_95_check check (
    map50_95 is null or (map50_95 >= 0 and map50_95 <= 1)
    or mltrack_internal.check_fraction_verdict('map50_95', map50_95)),
  drop constraint validation_results_map50_check,
  add constraint validation_results_map50_check check (
    map50 is null or (map50 >= 0 and map50 <= 1)
    or mltrack_internal.check_fraction_verdict('map50', map50)),
  drop constraint validation_results_precision_check,
  add constraint validation_results_precision_check check (
    "precision" is null or ("precision" >= 0 and "precision" <= 1)
    or mltrack_internal.check_fraction_verdict('precision', "precision")),
  drop constraint validation_results_recall_check,
  add constraint validation_results_recall_check check (
    recall is null or (recall >= 0 and recall <= 1)
    or mltrack_internal.check_fraction_verdict('recall', recall)),
  drop constraint validation_results_split_check,
  add constraint validation_results_split_check check (
    split = any ('{train,val,test}')
    or mltrack_internal.check_choice_verdict('split', split, '{train,val,test}', true));

alter table public.model_benchmarks
  drop constraint model_benchmarks_avg_inference_ms_check,
  add constraint model_benchmarks_avg_inference_ms_check check (
    (avg_inference_ms is not null
     or mltrack_internal.reject('MT002', 'avg_inference_ms', 'is required'))
    and (avg_inference_ms is null or (avg_inference_ms > 0 and avg_inference_ms < 'infinity')
         or mltrack_internal.check_positive_verdict('avg_inference_ms', avg_inference_ms))
    and (avg_inference_ms is null or min_inference_ms is null
         or avg_inference_ms >= min_inference_ms
         or mltrack_internal.check_order_verdict('avg_inference_ms', avg_inference_ms,
                                                 'min_inference_ms', min_inference_ms))
    and (max_inference_ms is null or avg_inference_ms is null
         or max_inference_ms >= avg_inference_ms
         or mltrack_internal.check_order_verdict('max_inference_ms', max_inference_ms,
                                                 'avg_inference_ms', avg_inference_ms))),
  drop constraint model_benchmarks_batch_size_check,
  add constraint model_benchmarks_batch_size_check check (
    batch_size > 0
    or mltrack_internal.check_positive_int_verdict('batch_size', batch_size, true)),
  drop constraint model_benchmarks_device_check,
  add constraint model_benchmarks_device_check check (
    (length(device) <= 100 and device !~ '^[\u0001-\u0020\u007f-\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]*$')
    or mltrack_internal.check_name_verdict('device', device, 100)),
  drop constraint model_benchmarks_device_name_check,
  add constraint model_benchmarks_device_name_check check (
    device_name is null or length(device_name) <= 200
    or mltrack_internal.check_text_verdict('device_name', device_name, 200)),
  drop constraint model_benchmarks_dtype_check,
  add constraint model_benchmarks_dtype_check check (
    (length(dtype) <= 20 and dtype !~ '^[\u0001-\u0020\u007f-\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]*$')
    or mltrack_internal.check_name_verdict('dtype', dtype, 20)),
  drop constraint model_benchmarks_fps_check,
  add constraint model_benchmarks_fps_check check (
    fps is null or (fps > 0 and fps < 'infinity')
    or mltrack_internal.check_positive_verdict('fps', fps)),
  drop constraint model_benchmarks_hardware_info_check,
  add constraint model_benchmarks_hardware_info_check check (
    (jsonb_typeof(hardware_info) = 'object' and octet_length(hardware_info::text) <= 16384)
    or mltrack_internal.check_json_object_verdict('hardware_info', hardware_info, 16384)),
  drop constraint model_benchmarks_img_size_check,
  add constraint model_benchmarks_img_size_check check (
    img_size > 0 or img_size is null
    or mltrack_internal.check_positive_int_verdict('img_size', img_size, false)),
  drop constraint model_benchmarks_max_inference_ms_check,
  add constraint model_benchmarks_max_inference_ms_check check (
    max_inference_ms is null or (max_inference_ms >= 0 and max_inference_ms < 'infinity')
    or mltrack_internal.check_non_negative_verdict('max_inference_ms', max_inference_ms)),
  drop constraint model_benchmarks_min_inference_ms_check,
  add constraint model_benchmarks_min_inference_ms_check check (
    min_inference_ms is null or (min_inference_ms >= 0 and min_inference_ms < 'infinity')
    or mltrack_internal.check_non_negative_verdict('min_inference_ms', min_inference_ms)),
  drop constraint model_benchmarks_model_format_check,
  add constraint model_benchmarks_model_format_check check (
    (length(model_format) <= 50 and model_format !~ '^[\u0001-\u0020\u007f-\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]*$')
    or mltrack_internal.check_name_verdict('model_format', model_format, 50)),
  drop constraint model_benchmarks_num_runs_check,
  add constraint model_benchmarks_num_runs_check check (
    num_runs > 0 or num_runs is null
    or mltrack_internal.check_positive_int_verdict('num_runs', num_runs, false)),
  drop constraint model_benchmarks_p50_inference_ms_check,
  add constraint model_benchmarks_p50_inference_ms_check check (
    (p50_inference_ms is null or (p50_inference_ms >= 0 and p50_inference_ms < 'infinity')
     or mltrack_internal.check_non_negative_verdict('p50_inference_ms', p50_inference_ms))
    and (p50_inference_ms is null or min_inference_ms is null
         or p50_inference_ms >= min_inference_ms
         or mltrack_internal.check_order_verdict('p50_inference_ms', p50_inference_ms,
                                                 'min_inference_ms', min_inference_ms))),
  drop constraint model_benchmarks_p95_inference_ms_check,
  add constraint model_benchmarks_p95_inference_ms_check check (
    (p95_inference_ms is null or (p95_inference_ms >= 0 and p95_inference_ms < 'infinity')
     or mltrack_internal.check_non_negative_verdict('p95_inference_ms', p95_inference_ms))
    and (p95_inference_ms is null or p50_inference_ms is null
         or p95_inference_ms >= p50_inference_ms
         or mltrack_internal.check_order_verdict('p95_inference_ms', p95_inference_ms,
                                                 'p50_inference_ms', p50_inference_ms))
    and (p95_inference_ms is null or min_inference_ms is null
         or p95_inference_ms >= min_inference_ms
         or mltrack_internal.check_order_verdict('p95_inference_ms', p95_inference_ms,
                                                 'min_inference_ms', min_inference_ms))
    and (max_inference_ms is null or p95_inference_ms is null
         or max_inference_ms >= p95_inference_ms
         or mltrack_internal.check_order_verdict('max_inference_ms', max_inference_ms,
                                                 'p95_inference_ms', p95_inference_ms))
    and (max_inference_ms is null or p50_inference_ms is null
         or max_inference_ms >= p50_inference_ms
         or mltrack_internal.check_order_verdict('max_inference_ms', max_inference_ms,
                                                 'p50_inference_ms', p50_inference_ms))),
  drop constraint model_benchmarks_postprocess_ms_check,
  add constraint model_benchmarks_postprocess_ms_check check (
    postprocess_ms is null or (postprocess_ms >= 0 and postprocess_ms < 'infinity')
    or mltrack_internal.check_non_negative_verdict('postprocess_ms', postprocess_ms)),
  drop constraint model_benchmarks_preprocess_ms_check,
  add constraint model_benchmarks_preprocess_ms_check check (
    preprocess_ms is null or (preprocess_ms >= 0 and preprocess_ms < 'infinity')
    or mltrack_internal.check_non_negative_verdict('preprocess_ms', preprocess_ms)),
  drop constraint model_benchmarks_warmup_runs_check,
  add constraint model_benchmarks_warmup_runs_check check (
    warmup_runs is null or warmup_runs >= 0
    or mltrack_internal.check_count_verdict('warmup_runs', warmup_runs));

