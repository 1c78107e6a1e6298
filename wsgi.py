"""The web entry point: gevent monkey-patching first, then app = create_app()."""

from gevent import monkey

monkey.patch_all()

import psycopg2.extensions  # noqa: E402
import psycopg2.extras  # noqa: E402

# Let other greenlets run while psycopg2 waits on PostgreSQL.
psycopg2.extensions.set_wait_callback(psycopg2.extras.wait_select)

from journal import create_app  # noqa: E402

app = create_app()
