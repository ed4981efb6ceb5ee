-- A hyperparameter run ends through the API, as a session does: finish_hyperparameter_run sets
-- its status (completed, or cancelled when the search was stopped) and completed_at. Replaying
-- the same call returns the row unchanged (a spooled call may arrive twice); ending an ended run
-- another way is MT004. The trials' counts and the best trial stay the trigger's.

create function public.finish_hyperparameter_run(run_id uuid, status text default 'completed')
returns public.hyperparameter_runs
language plpgsql
set search_path = ''
as $$
declare
  result public.hyperparameter_runs;
begin
  if finish_hyperparameter_run.run_id is null then
    perform mltrack_internal.reject('MT002', 'run_id', 'is required');
  end if;
  perform mltrack_internal.check_choice('status', finish_hyperparameter_run.status,
    '{completed,cancelled}', true);
  -- A plain read (every signed-in user may read every run; FOR UPDATE would hide another
  -- user's run behind the update policy and say "not found" instead of "not yours").
  select * into result from public.hyperparameter_runs h where h.id = finish_hyperparameter_run.run_id;
  if not found then
    perform mltrack_internal.reject('MT005', 'run_id', 'does not match any hyperparameter run',
      finish_hyperparameter_run.run_id::text, 'Create it with create_hyperparameter_run() first.');
  end if;
  if mltrack_internal.is_end_user() and result.owner_id is distinct from auth.uid() then
    perform mltrack_internal.reject('MT006', 'run_id',
      'belongs to another user: you may read it but not write to it',
      finish_hyperparameter_run.run_id::text,
      'Sign in as the owner, or use the service_role key on training machines.');
  end if;
  update public.hyperparameter_runs h
     set status = finish_hyperparameter_run.status,
         completed_at = now()
   where h.id = finish_hyperparameter_run.run_id and h.status = 'running'
  returning * into result;
  if not found then  -- ended already (perhaps by a concurrent call): the row as it is now
    select * into result from public.hyperparameter_runs h where h.id = finish_hyperparameter_run.run_id;
    if result.status is distinct from finish_hyperparameter_run.status then
      perform mltrack_internal.reject('MT004', 'status',
        'cannot change: the hyperparameter run is already ' || result.status,
        finish_hyperparameter_run.status);
    end if;
  end if;
  return result;
end
$$;
comment on function public.finish_hyperparameter_run is
  'Ends a hyperparameter run (completed or cancelled); its best trial stays the trigger''s.';

revoke all on function public.finish_hyperparameter_run(uuid, text) from public, anon;
grant execute on function public.finish_hyperparameter_run(uuid, text) to authenticated, service_role;
