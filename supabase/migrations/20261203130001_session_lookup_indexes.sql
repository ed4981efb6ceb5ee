-- A run found by its name, a model by its weights file: one index probe, not a walk of every
-- session.
--
-- start_session(resume => '<name>') reads the newest session of that name, and recording a
-- benchmark of a weights file (mltrack benchmark, mltrack_sdk.benchmark) reads the newest
-- session whose model_path is that file. Neither column had an index: at 100,000 sessions each
-- lookup scanned the whole table (resume 47-62 ms, the model path 85-99 ms; a name or path that
-- matches nothing costs the same). Both indexes carry the newest-first order of the lookups.
-- The columns are written once (the name when the run starts, the path when it finishes), so
-- the heartbeat and summary updates of a running session stay HOT.

create index training_sessions_session_name_idx
  on public.training_sessions (session_name, created_at desc);

create index training_sessions_model_path_idx
  on public.training_sessions (model_path, created_at desc, id)
  where model_path is not null;
