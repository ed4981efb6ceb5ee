-- is_end_user() is plpgsql: every call of a live run asks it, and it was planned anew each time.
--
-- Every API write (an epoch, a heartbeat, a validation) checks its session with
-- writable_session(), which asks is_end_user(). A SQL function with a SET clause - its pinned
-- search_path, as splinter asks of every function - is never inlined: Postgres calls it, and
-- parses, analyses and plans its body again in every transaction that calls it. A plpgsql
-- function is compiled once per connection and keeps its plan. Measured on a 2-core machine
-- (server CPU, the two forms interleaved): writable_session 0.146 ms before, 0.063 ms after; a
-- one-epoch log_epoch_columns call 1.65 ms before, 1.38 ms after. Same answer, same rights, same
-- pinned search_path.

create or replace function mltrack_internal.is_end_user() returns boolean
language plpgsql stable
set search_path = ''
as $$
begin
  return current_user in ('anon', 'authenticated')
      or coalesce(auth.role(), '') in ('anon', 'authenticated');
end
$$;
