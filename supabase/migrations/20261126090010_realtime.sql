-- Live updates. On Supabase the tables the UI watches join the `supabase_realtime` publication
-- (postgres_changes); the notify triggers serve direct LISTEN mltrack_changes clients everywhere.
-- Replica identities stay the primary keys: with REPLICA IDENTITY FULL, Postgres 18 refuses
-- every UPDATE of a table whose stored generated column (duration_seconds) the publication does
-- not publish. UPDATE events still carry the whole new row.

do $realtime$
declare
  watched text;
begin
  if not exists (select from pg_publication where pubname = 'supabase_realtime') then
    return;
  end if;
  foreach watched in array array['training_sessions', 'training_metrics', 'validation_results',
                                 'model_benchmarks', 'training_datasets', 'hyperparameter_runs'] loop
    if not exists (select from pg_publication_tables
                    where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = watched) then
      execute format('alter publication supabase_realtime add table public.%I', watched);
    end if;
  end loop;
end
$realtime$;

-- Where pg_cron is installed, the database itself marks dead runs failed every minute.
do $cron$
begin
  if exists (select from pg_extension where extname = 'pg_cron') then
    perform cron.schedule('mltrack-mark-stale-sessions', '* * * * *',
                          'select public.mark_stale_sessions()');
  end if;
end
$cron$;
