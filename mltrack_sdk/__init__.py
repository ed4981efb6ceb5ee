"""mltrack: training-run tracking on Postgres/Supabase.

All business logic (tables, triggers, views, row-level security and the SQL
functions that form the API) lives in the Supabase migrations shipped with this
package. The Python side is thin: it applies those migrations, starts a local
embedded Postgres for first runs, and talks to the SQL functions.

Importing this package is cheap on purpose: database drivers and the embedded
server are imported only by the modules that need them.

Example::

    import mltrack_sdk as mlt

    with mlt.start_session("YOLOv8n v1", model_type="yolov8n", epochs=100) as run:
        for epoch in range(100):
            run.log_epoch(epoch, box_loss=1.2, map50=0.61, map50_95=0.42)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mltrack_sdk.errors import (
    DatabaseError,
    DatabaseUnreachableError,
    InvalidTransitionError,
    InvalidValueError,
    MissingValueError,
    MltrackError,
    MltrackWarning,
    NotConfiguredError,
    NotFoundError,
    NotOwnerError,
    PermissionDeniedError,
    SessionClosedError,
    TokenExpiredError,
    ValueTooLargeError,
)
from mltrack_sdk.session import Session
from mltrack_sdk.session_start import start_session

if TYPE_CHECKING:
    from mltrack_sdk.client import Client

__version__ = "0.1.0"

__all__ = [
    "Client",
    "DatabaseError",
    "DatabaseUnreachableError",
    "InvalidTransitionError",
    "InvalidValueError",
    "MissingValueError",
    "MltrackError",
    "MltrackWarning",
    "NotConfiguredError",
    "NotFoundError",
    "NotOwnerError",
    "PermissionDeniedError",
    "Session",
    "SessionClosedError",
    "TokenExpiredError",
    "ValueTooLargeError",
    "__version__",
    "start_session",
]


def __getattr__(name: str) -> Any:
    # The read side imports its own dependencies; load it only when asked for.
    if name == "Client":
        from mltrack_sdk.client import Client

        return Client
    raise AttributeError(f"module 'mltrack_sdk' has no attribute {name!r}")
