"""Settings that come from the environment.

Only names and small look-ups live here, so every other module (CLI, local
stack, SDK) reads the environment the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Directory for mltrack's own state (embedded Postgres data dir, local.json).
HOME_ENV = "MLTRACK_HOME"
#: Database URL used by ``mltrack db ...`` when ``--database-url`` is not given.
DATABASE_URL_ENV = "MLTRACK_DATABASE_URL"


def mltrack_home() -> Path:
    """Return the directory where mltrack keeps local state.

    ``$MLTRACK_HOME`` when set, else the platform's user data directory
    (``~/.local/share/mltrack`` on Linux). The directory is not created here.

    Example::

        from mltrack_sdk.config import mltrack_home
        state_file = mltrack_home() / "local.json"   # $MLTRACK_HOME/local.json if set
    """
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().absolute()
    from platformdirs import user_data_path

    return user_data_path("mltrack", appauthor=False)


def database_url_from_env() -> str | None:
    """Return ``$MLTRACK_DATABASE_URL`` or None when it is unset or empty."""
    return os.environ.get(DATABASE_URL_ENV) or None
