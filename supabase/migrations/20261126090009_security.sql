-- Row-level security and privileges.
--
--   anon           nothing at all
--   authenticated  reads every row of the project; writes only rows of sessions (and datasets,
--                  hyperparameter runs) it owns - directly in the tables, as a Supabase client
--                  does, and through the SQL functions, which run with the caller's rights
--   service_role   bypasses RLS (as on Supabase): the key of training machines
-- Policies call auth.uid() through a sub-select so Postgres evaluates it once per statement.

alter table public.training_datasets enable row level security;
alter table public.hyperparameter_runs enable row level security;
alter table public.training_sessions enable row level security;
alter table public.training_metrics enable row level security;
alter table public.validation_results enable row level security;
alter table public.model_benchmarks enable row level security;

-- Tables with an owner.
create policy training_sessions_read on public.training_sessions for select to authenticated using (true);
-- A session may join only a hyperparameter run of its owner (the run's best trial follows it).
create policy training_sessions_insert on public.training_sessions for insert to authenticated
  with check (owner_id = (select auth.uid())
              and (hyperparameter_run_id is null or mltrack_internal.owns_run(hyperparameter_run_id)));
create policy training_sessions_update on public.training_sessions for update to authenticated
  using (owner_id = (select auth.uid()))
  with check (owner_id = (select auth.uid())
              and (hyperparameter_run_id is null or mltrack_internal.owns_run(hyperparameter_run_id)));
create policy training_sessions_delete on public.training_sessions for delete to authenticated
  using (owner_id = (select auth.uid()));

create policy training_datasets_read on public.training_datasets for select to authenticated using (true);
create policy training_datasets_insert on public.training_datasets for insert to authenticated
  with check (owner_id = (select auth.uid()));
create policy training_datasets_update on public.training_datasets for update to authenticated
  using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));
create policy training_datasets_delete on public.training_datasets for delete to authenticated
  using (owner_id = (select auth.uid()));

create policy hyperparameter_runs_read on public.hyperparameter_runs for select to authenticated using (true);
create policy hyperparameter_runs_insert on public.hyperparameter_runs for insert to authenticated
  with check (owner_id = (select auth.uid()));
create policy hyperparameter_runs_update on public.hyperparameter_runs for update to authenticated
  using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));
create policy hyperparameter_runs_delete on public.hyperparameter_runs for delete to authenticated
  using (owner_id = (select auth.uid()));

-- Tables that belong to a session: writable by the session's owner.
create function mltrack_internal.owns_session(session_id uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select exists (
    select from public.training_sessions s
     where s.id = owns_session.session_id and s.owner_id = auth.uid())
$$;

create policy training_metrics_read on public.training_metrics for select to authenticated using (true);
create policy training_metrics_insert on public.training_metrics for insert to authenticated
  with check ((select mltrack_internal.owns_session(session_id)));
create policy training_metrics_update on public.training_metrics for update to authenticated
  using ((select mltrack_internal.owns_session(session_id)))
  with check ((select mltrack_internal.owns_session(session_id)));
create policy training_metrics_delete on public.training_metrics for delete to authenticated
  using ((select mltrack_internal.owns_session(session_id)));

create policy validation_results_read on public.validation_results for select to authenticated using (true);
create policy validation_results_insert on public.validation_results for insert to authenticated
  with check ((select mltrack_internal.owns_session(session_id)));
create policy validation_results_update on public.validation_results for update to authenticated
  using ((select mltrack_internal.owns_session(session_id)))
  with check ((select mltrack_internal.owns_session(session_id)));
create policy validation_results_delete on public.validation_results for delete to authenticated
  using ((select mltrack_internal.owns_session(session_id)));

create policy model_benchmarks_read on public.model_benchmarks for select to authenticated using (true);
create policy model_benchmarks_insert on public.model_benchmarks for insert to authenticated
  with check ((select mltrack_internal.owns_session(session_id)));
create policy model_benchmarks_update on public.model_benchmarks for update to authenticated
  using ((select mltrack_internal.owns_session(session_id)))
  with check ((select mltrack_internal.owns_session(session_id)));
create policy model_benchmarks_delete on public.model_benchmarks for delete to authenticated
  using ((select mltrack_internal.owns_session(session_id)));

-- Privileges. Supabase grants everything in `public` to anon by default; mltrack takes it back.
revoke all on public.training_datasets, public.hyperparameter_runs, public.training_sessions,
  public.training_metrics, public.validation_results, public.model_benchmarks,
  public.active_training_sessions, public.training_performance_summary, public.models_leaderboard
  from anon, public;
grant select, insert, update, delete on public.training_datasets, public.hyperparameter_runs,
  public.training_sessions, public.training_metrics, public.validation_results, public.model_benchmarks
  to authenticated, service_role;
grant select on public.active_training_sessions, public.training_performance_summary,
  public.models_leaderboard to authenticated, service_role;

grant usage on schema mltrack_internal to authenticated, service_role;
revoke all on all functions in schema mltrack_internal from public, anon;
-- The constraint checks and helpers run with the writer's rights; trigger functions need no grant.
grant execute on function
  mltrack_internal.reject(text, text, text, text, text),
  mltrack_internal.check_name(text, text, integer),
  mltrack_internal.check_text(text, text, integer),
  mltrack_internal.check_fraction(text, double precision),
  mltrack_internal.check_non_negative(text, double precision),
  mltrack_internal.check_positive(text, double precision),
  mltrack_internal.check_positive_int(text, bigint, boolean),
  mltrack_internal.check_count(text, bigint),
  mltrack_internal.check_json_object(text, jsonb, integer),
  mltrack_internal.check_choice(text, text, text[], boolean),
  mltrack_internal.check_order(text, double precision, text, double precision),
  mltrack_internal.is_end_user(),
  mltrack_internal.writable_session(uuid),
  mltrack_internal.check_batch(text, jsonb, text[], text[], text[], integer),
  mltrack_internal.owns_session(uuid),
  mltrack_internal.owns_run(uuid)
  to authenticated, service_role;

revoke all on function
  public.start_session(text, text, integer, text, integer, integer, double precision, integer, jsonb, jsonb, uuid, uuid, text, uuid),
  public.log_epochs(uuid, jsonb),
  public.log_epoch(uuid, integer, double precision, double precision, double precision, double precision,
    double precision, double precision, double precision, double precision, double precision,
    double precision, double precision, double precision, double precision, double precision, jsonb),
  public.finish_session(uuid, text, text, double precision, double precision, double precision,
    double precision, double precision, text, timestamptz),
  public.heartbeat(uuid),
  public.request_stop(uuid, text),
  public.mark_stale_sessions(integer),
  public.record_validation(uuid, jsonb, text),
  public.record_benchmark(uuid, double precision, double precision, double precision, double precision,
    double precision, double precision, text, text, text, text, integer, integer, integer, integer,
    double precision, double precision, jsonb, uuid),
  public.upsert_dataset(text, text[], integer, integer, integer, text, text, text, jsonb, integer),
  public.create_hyperparameter_run(text, jsonb, text, text, integer, text, text, uuid)
from public, anon;
grant execute on function
  public.start_session(text, text, integer, text, integer, integer, double precision, integer, jsonb, jsonb, uuid, uuid, text, uuid),
  public.log_epochs(uuid, jsonb),
  public.log_epoch(uuid, integer, double precision, double precision, double precision, double precision,
    double precision, double precision, double precision, double precision, double precision,
    double precision, double precision, double precision, double precision, double precision, jsonb),
  public.finish_session(uuid, text, text, double precision, double precision, double precision,
    double precision, double precision, text, timestamptz),
  public.heartbeat(uuid),
  public.request_stop(uuid, text),
  public.record_validation(uuid, jsonb, text),
  public.record_benchmark(uuid, double precision, double precision, double precision, double precision,
    double precision, double precision, text, text, text, text, integer, integer, integer, integer,
    double precision, double precision, jsonb, uuid),
  public.upsert_dataset(text, text[], integer, integer, integer, text, text, text, jsonb, integer),
  public.create_hyperparameter_run(text, jsonb, text, text, integer, text, text, uuid)
to authenticated, service_role;
-- Marking other users' sessions failed is maintenance: the scheduler and training servers only.
revoke all on function public.mark_stale_sessions(integer) from authenticated;
grant execute on function public.mark_stale_sessions(integer) to service_role;
