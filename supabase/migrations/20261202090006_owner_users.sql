-- Owners are Supabase Auth users: owner_id references auth.users(id).
--
-- Deleting a user keeps their runs, datasets and searches, with owner_id set to null: a team's
-- training history and leaderboard do not lose results because someone left. An ownerless row is
-- what the service role (training machines, the local stack) writes anyway: every signed-in user
-- still reads it, and only the service role may change it. To remove a user's data as well,
-- delete it before the user:
--   delete from public.training_sessions where owner_id = '<user id>';  -- metrics etc. cascade
--   delete from public.hyperparameter_runs where owner_id = '<user id>';
--   delete from public.training_datasets where owner_id = '<user id>';
--
-- Rows whose owner is no longer a user (deleted before this constraint existed) get the same
-- treatment the constraint now gives them, so the constraint can be validated.

update public.training_sessions s set owner_id = null
 where s.owner_id is not null and not exists (select from auth.users u where u.id = s.owner_id);
update public.hyperparameter_runs h set owner_id = null
 where h.owner_id is not null and not exists (select from auth.users u where u.id = h.owner_id);
update public.training_datasets d set owner_id = null
 where d.owner_id is not null and not exists (select from auth.users u where u.id = d.owner_id);

alter table public.training_sessions
  add constraint training_sessions_owner_id_fkey
  foreign key (owner_id) references auth.users (id) on delete set null;
alter table public.hyperparameter_runs
  add constraint hyperparameter_runs_owner_id_fkey
  foreign key (owner_id) references auth.users (id) on delete set null;
alter table public.training_datasets
  add constraint training_datasets_owner_id_fkey
  foreign key (owner_id) references auth.users (id) on delete set null;

-- The foreign keys' own lookups when a user is deleted.
create index if not exists hyperparameter_runs_owner_id_idx on public.hyperparameter_runs (owner_id);
create index if not exists training_datasets_owner_id_idx on public.training_datasets (owner_id);
