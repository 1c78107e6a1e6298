"""Celery entry point (`celery -A journal.worker worker|beat`): the app as the worker DB role."""

import os
import signal

from celery.signals import task_postrun, worker_process_init

os.environ.setdefault("JOURNAL_DB_ROLE", "worker")

from journal import create_app  # noqa: E402
from journal.extensions import db  # noqa: E402
from journal.startup import die_with_parent, wait_for_services  # noqa: E402

TASK_RUNS_KEY = "metrics:task_runs"
MAIN_PID = os.getpid()  # the pool processes fork from this one

flask_app = create_app({"PROCESS_KIND": "worker"})
wait_for_services(flask_app)
celery = flask_app.extensions["celery"]
celery.autodiscover_tasks(["journal"], related_name="tasks", force=True)


@worker_process_init.connect
def fresh_connections(**_: object) -> None:
    """A pool process dies with the worker (Celery's pool asks the same; this also covers a worker
    that died before the pool process asked), and must not share the parent's database connections
    (Superset does the same)."""
    die_with_parent(signal.SIGKILL, MAIN_PID)
    with flask_app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


@task_postrun.connect
def count_run(task=None, **_: object) -> None:
    """Count every task run in Redis (metrics:task_runs), for operators and the beat tests."""
    flask_app.extensions["redis"].hincrby(TASK_RUNS_KEY, task.name, 1)
