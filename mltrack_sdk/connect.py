"""Which backend the SDK talks to, most specific setting first.

1. ``transport=`` (any object implementing :class:`~mltrack_sdk.transports.base.Transport`);
2. ``supabase_url=`` + ``supabase_key=`` (and ``access_token=``, a user's token or a function
   returning the current one), else ``database_url=``, else ``$MLTRACK_DATABASE_URL``: direct
   Postgres or a Supabase pooler URL;
3. ``$SUPABASE_URL`` + ``$SUPABASE_KEY`` (optionally ``$SUPABASE_ACCESS_TOKEN``, a user's token);
4. the local database of ``mltrack up``.

Nothing is imported or connected before it is chosen, so ``import mltrack_sdk`` stays cheap.

Example::

    transport = resolve_transport(database_url="postgresql://postgres@localhost/postgres")
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from mltrack_sdk.config import database_url_from_env
from mltrack_sdk.errors import NotConfiguredError
from mltrack_sdk.transports.base import Backend, Transport

SUPABASE_URL_ENV = "SUPABASE_URL"
SUPABASE_KEY_ENV = "SUPABASE_KEY"
SUPABASE_ACCESS_TOKEN_ENV = "SUPABASE_ACCESS_TOKEN"


#: A user's JWT, or a function returning the current one (asked again when it expired).
AccessToken = str | Callable[[], str]


@dataclass(frozen=True)
class Target:
    """Where to connect: a Postgres URL, or a Supabase project (URL, API key, user token)."""

    database_url: str | None = None
    supabase_url: str | None = None
    supabase_key: str | None = None
    access_token: AccessToken | None = None


def resolve_target(
    database_url: str | None = None,
    *,
    supabase_url: str | None = None,
    supabase_key: str | None = None,
    access_token: AccessToken | None = None,
) -> Target:
    """The one rule of where to connect (see the module docstring), for writes, reads, the live
    feed and the CLI alike. Raises :class:`NotConfiguredError` when nothing is configured and
    ``mltrack up`` is not running::

        resolve_target()   # Target(database_url=...) from $MLTRACK_DATABASE_URL, say
    """
    if supabase_url or supabase_key:
        if not (supabase_url and supabase_key):
            raise NotConfiguredError(
                "supabase_url and supabase_key go together: pass both (the project URL and its"
                " API key)"
            )
        if database_url:
            raise NotConfiguredError("pass database_url or supabase_url, not both")
        return Target(
            supabase_url=supabase_url, supabase_key=supabase_key, access_token=access_token
        )
    url = database_url or database_url_from_env()
    if url:
        return Target(database_url=url)
    env_url, env_key = os.environ.get(SUPABASE_URL_ENV), os.environ.get(SUPABASE_KEY_ENV)
    if env_url and env_key:
        return Target(
            supabase_url=env_url,
            supabase_key=env_key,
            access_token=access_token or os.environ.get(SUPABASE_ACCESS_TOKEN_ENV),
        )
    from mltrack_sdk import local

    state = local.status()
    if state.running and state.url:
        return Target(database_url=state.url)
    raise NotConfiguredError(
        "no database configured and the local one is not running: run `mltrack up`, or pass"
        " database_url=, or set MLTRACK_DATABASE_URL (or SUPABASE_URL and SUPABASE_KEY)"
    )


def resolve_transport(
    database_url: str | None = None,
    transport: Transport | None = None,
    *,
    supabase_url: str | None = None,
    supabase_key: str | None = None,
    access_token: AccessToken | None = None,
) -> Transport:
    """Return the transport to use: ``transport`` when given, else the :func:`resolve_target`
    one. Raises :class:`NotConfiguredError` when nothing is configured and ``mltrack up`` is not
    running.
    """
    if transport is not None:
        return transport
    target = resolve_target(
        database_url,
        supabase_url=supabase_url,
        supabase_key=supabase_key,
        access_token=access_token,
    )
    return backend_of(target).open_transport(target)


def backend_of(target: Target) -> Backend:
    """The backend module for ``target`` (imported only now): it opens the transport and the
    change source, and its transport says how it takes a batch."""
    if target.database_url:
        from mltrack_sdk.transports import postgres

        return cast("Backend", postgres)
    from mltrack_sdk.transports import supabase

    return cast("Backend", supabase)
