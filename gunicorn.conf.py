"""gunicorn settings, read from the working directory (``make run``, the Dockerfile, docker-compose);
flags on the command line override them.

Sizing (README, "Web tier"): a worker is a process with its own copy of the
embedding model (about 0.5 GB with torch), its threads wait on PostgreSQL and Redis most of the
time. One worker per core and four threads each serves list pages and the API; raise
``GUNICORN_THREADS`` before ``GUNICORN_WORKERS`` when memory is short.
"""

import os

workers = int(os.environ.get("GUNICORN_WORKERS") or os.cpu_count() or 2)
threads = int(os.environ.get("GUNICORN_THREADS") or 4)
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 120)
# A thread whose client went away is not kept: the keep-alive of a proxy in front is enough.
keepalive = 5


def post_worker_init(worker) -> None:
    """Each worker loads the embedding model before it takes requests (WEB_PRELOAD_MODEL)."""
    from django.conf import settings

    from matchmaker.warmup import preload_embedding_model

    if settings.WEB_PRELOAD_MODEL:
        preload_embedding_model()
