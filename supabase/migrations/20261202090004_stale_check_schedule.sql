-- The stale-heartbeat check can be scheduled at any time, not only when pg_cron was enabled
-- before the migrations ran (the realtime migration schedules it only then).
--
-- On Supabase: enable pg_cron (Database > Extensions), then, as service_role or in the SQL
-- editor: select schedule_stale_check();

create function public.schedule_stale_check(timeout_seconds integer default 120)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  job bigint;
begin
  if schedule_stale_check.timeout_seconds is null or schedule_stale_check.timeout_seconds <= 0 then
    perform mltrack_internal.reject('MT001', 'timeout_seconds', 'must be a positive integer',
      schedule_stale_check.timeout_seconds::text);
  end if;
  if not exists (select from pg_catalog.pg_extension where extname = 'pg_cron') then
    perform mltrack_internal.reject('MT005', 'pg_cron', 'is not enabled in this database', null,
      'Enable the pg_cron extension (Supabase: Database > Extensions), then call schedule_stale_check() again.');
  end if;
  -- Dynamic SQL: the function must exist (and lint cleanly) where pg_cron is not installed.
  -- The job name makes a second call replace the schedule instead of adding one.
  execute pg_catalog.format('select cron.schedule(%L, %L, %L)',
    'mltrack-mark-stale-sessions', '* * * * *',
    pg_catalog.format('select public.mark_stale_sessions(%s)', schedule_stale_check.timeout_seconds))
    into job;
  return job;
end
$$;
comment on function public.schedule_stale_check is 'Schedules mark_stale_sessions(timeout_seconds) every minute with pg_cron (enable the extension first); returns the cron job id.';

-- Maintenance, like mark_stale_sessions: the scheduler's owner and training servers only.
revoke all on function public.schedule_stale_check(integer) from public, anon, authenticated;
grant execute on function public.schedule_stale_check(integer) to service_role;
