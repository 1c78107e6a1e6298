"""The web entry point: gevent monkey-patching first, then app = create_app(), then wait for its services."""

from gevent import monkey

monkey.patch_all()

from journal.green import make_psycopg2_green  # noqa: E402

make_psycopg2_green()

from journal import create_app  # noqa: E402
from journal.startup import wait_for_services  # noqa: E402

app = create_app({"PROCESS_KIND": "web"})
wait_for_services(app)
