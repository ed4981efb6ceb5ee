-- Sessions newest first, ties by id: the order of one index.
--
-- Every list of sessions the SDK, the CLI and the dashboard read is newest first with the id as
-- the tiebreaker (order by created_at desc, id), so that pages are stable. The index on
-- created_at alone left the tiebreaker to an incremental sort, which the planner costs as a sort
-- of every session: at 100,000 sessions and 10 million metric rows it chose a parallel plan for
-- training_performance_summary (two workers started for each read of 50 rows), and
-- Client.performance_summary() took 21.6 ms where the same rows by created_at alone took 4.6; a
-- status filter took 27 ms. On (created_at desc, id) the read walks the index and stops after
-- the page (5.5 and 5.4 ms). The new index replaces the one on created_at alone: it serves every
-- order that one did (the same leading column).

create index training_sessions_created_at_id_idx
  on public.training_sessions (created_at desc, id);

drop index public.training_sessions_created_at_idx;
