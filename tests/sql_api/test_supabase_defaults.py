"""The plain-Postgres bootstrap gives what a Supabase project gives, so tests here catch what
would leak there: everything new in public is granted to the API roles by default."""

from __future__ import annotations

from .api import Conn


def test_new_objects_in_public_are_granted_to_the_api_roles(conn: Conn) -> None:
    conn.execute("create table public.forgotten (id int)")
    conn.execute("create function public.forgotten_fn() returns int language sql as 'select 1'")
    row = conn.execute(
        "select has_table_privilege('anon', 'public.forgotten', 'select') as t,"
        " has_function_privilege('anon', 'public.forgotten_fn()', 'execute') as f"
    ).fetchone()
    assert row == {"t": True, "f": True}


def test_anon_can_use_nothing_of_mltrack(conn: Conn) -> None:
    """With those defaults in force, every mltrack table, view and API function revokes anon."""
    leaks = conn.execute(
        "select c.relname as name from pg_class c"
        " where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v', 'm')"
        "   and (has_table_privilege('anon', c.oid, 'select')"
        "        or has_table_privilege('anon', c.oid, 'insert')"
        "        or has_table_privilege('anon', c.oid, 'update')"
        "        or has_table_privilege('anon', c.oid, 'delete'))"
        "   and not exists (select from pg_depend d where d.classid = 'pg_class'::regclass"
        "                   and d.objid = c.oid and d.deptype = 'e')"
        " union all"
        " select p.proname from pg_proc p"
        " where p.pronamespace in ('public'::regnamespace, 'mltrack_internal'::regnamespace)"
        "   and has_function_privilege('anon', p.oid, 'execute')"
        "   and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass"
        "                   and d.objid = p.oid and d.deptype = 'e')"
    ).fetchall()
    assert leaks == []


def test_roles_and_timeouts_as_on_supabase(conn: Conn) -> None:
    rows = conn.execute(
        "select r.rolname, r.rolinherit, r.rolbypassrls,"
        " (select array_agg(s) from pg_db_role_setting x, unnest(x.setconfig) s"
        "   where x.setrole = r.oid and x.setdatabase = 0) as settings"
        " from pg_roles r where r.rolname in ('anon', 'authenticated', 'service_role')"
        " order by r.rolname"
    ).fetchall()
    assert [(r["rolname"], r["rolbypassrls"], r["settings"]) for r in rows] == [
        ("anon", False, ["statement_timeout=3s"]),
        ("authenticated", False, ["statement_timeout=8s"]),
        ("service_role", True, None),
    ]
    members = conn.execute(
        "select array_agg(r.rolname order by r.rolname) as roles from pg_auth_members m"
        " join pg_roles r on r.oid = m.roleid join pg_roles u on u.oid = m.member"
        " where u.rolname = 'authenticator'"
    ).fetchone()
    assert members == {"roles": ["anon", "authenticated", "service_role"]}
    assert conn.execute("select to_regclass('auth.users') is not null as ok").fetchone() == {
        "ok": True
    }
