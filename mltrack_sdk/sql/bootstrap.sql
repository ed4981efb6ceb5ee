-- Supabase stand-ins for a plain Postgres database.
--
-- A Supabase project already has everything below; a plain Postgres (Debian's, the embedded one,
-- a CI service) does not, and the migrations in supabase/migrations rely on it. `mltrack db migrate`
-- applies this file first on a database that lacks Supabase's `auth` schema. Every statement is
-- idempotent, so applying it twice changes nothing.

do $bootstrap$
begin
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    -- As on Supabase: the key of trusted servers (training machines) bypasses row-level security.
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticator') then
    -- PostgREST's login role, which switches to the three above per request.
    create role authenticator noinherit;
  end if;
  if not exists (select from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$bootstrap$;

grant anon, authenticated, service_role to authenticator;
-- Supabase's per-role statement timeouts (PostgREST applies them on its role switch).
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';

create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;
grant usage on schema public to anon, authenticated, service_role;

-- As on Supabase: everything new in public is granted to the API roles by default, so a
-- migration that forgets to revoke leaks here exactly as it would on a project (and fails the
-- privilege tests here first).
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;

-- The users of Supabase Auth (GoTrue owns the real table; this is its key and a few columns).
create table if not exists auth.users (
  id uuid primary key,
  email text,
  created_at timestamptz not null default now()
);

-- The same definitions Supabase ships: claims come from the `request.jwt.claims` setting that
-- PostgREST sets per request (or a test sets with `set local`).
create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

grant execute on function auth.jwt(), auth.uid(), auth.role() to anon, authenticated, service_role;
