"""mltrack: training-run tracking on Postgres/Supabase.

All business logic (tables, triggers, views, row-level security and the SQL
functions that form the API) lives in the Supabase migrations shipped with this
package. The Python side is thin: it applies those migrations, starts a local
embedded Postgres for first runs, and talks to the SQL functions.

Importing this package is cheap on purpose: database drivers and the embedded
server are imported only by the modules that need them.

Example::

    from mltrack_sdk import local
    url = local.up().url          # embedded Postgres, migrated
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
