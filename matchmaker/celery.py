import os
import sys
from collections.abc import Sequence

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "matchmaker.settings")

app = Celery("matchmaker")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _reset_db_connections(**_kwargs) -> None:
    # A forked pool child must not share the parent's database socket.
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.close()


@worker_process_init.connect
def _load_embedding_model(**_kwargs) -> None:
    # Load the matcher's model when the pool child starts, not inside the first publish's task.
    from django.conf import settings

    from matchmaker.warmup import preload_embedding_model

    if settings.WORKER_PRELOAD_MODEL:
        preload_embedding_model()


def worker_command(
    *,
    hostname: str,
    queues: Sequence[str] = (),
    concurrency: int = 1,
    loglevel: str = "INFO",
    private: bool = False,
) -> list[str]:
    """The argv of a ``celery worker`` for this project, run by this Python (``make run``, the
    tests and the benchmarks start workers with it). ``private``: a worker that needs no
    cluster chatter (tests, benchmarks): prefork pool, no gossip, no mingle."""
    argv = [sys.executable, "-m", "celery", "-A", "matchmaker", "worker"]
    argv += ["--loglevel", loglevel, "--concurrency", str(concurrency), "--hostname", hostname]
    if queues:
        argv += ["--queues", ",".join(queues)]
    if private:
        argv += ["--pool", "prefork", "--without-gossip", "--without-mingle"]
    return argv
