-- The foreign-key check of every row that names a session probes a hash index of the key.
--
-- Postgres checks the foreign key of each inserted epoch, validation and benchmark row with a
-- query of its own, run once per row: select 1 from only training_sessions x where id = $1
-- for key share of x. The planner gives that equality the cheapest index of the key. With only
-- the primary key's btree, each probe starts a btree scan: a scan state of about 27 kB, and a
-- descent from the root page to a leaf. A hash index answers the same equality from one bucket
-- page with a small scan state. Measured on 100,000 sessions (server CPU of a 1000-row
-- log_epoch_columns call, summary trigger off, interleaved): the foreign-key checks went from
-- 11.5-12.2 to 9.3-9.9 ms, the whole call from 25.8-28.3 to 23.7-25.9 ms.
--
-- The primary key, the foreign keys and what they accept and refuse are unchanged. The key is
-- never updated, so the heartbeat and summary updates of a running session stay HOT.

create index training_sessions_id_hash_idx
  on public.training_sessions using hash (id);
