"""A gunicorn worker (gunicorn.conf.py) loads the embedding model when it starts, before any
request, so the first ad-hoc match does not pay for it; WEB_PRELOAD_MODEL=0 turns that off."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings

from matchmaker.embedded import free_port
from tests.conftest import BASE_DIR, worker_database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PRELOADED = "embedding model preloaded in process"


def run_gunicorn(tmp_path, preload: str) -> str:
    """Start gunicorn with the project's config, wait until it answers /healthz, stop it; return
    its log."""
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "WEB_PRELOAD_MODEL": preload,
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "2",
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "matchmaker.wsgi", "--bind", f"127.0.0.1:{port}"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)  # noqa: S310
            except urllib.error.HTTPError:
                break  # 503 without a Celery worker: the web worker answers
            except OSError:
                time.sleep(0.3)
                continue
            break
        else:
            raise AssertionError(log_path.read_text()[-3000:])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return log_path.read_text()


def test_gunicorn_worker_loads_the_model_before_its_first_request(tmp_path):
    log = run_gunicorn(tmp_path, "1")
    # post_worker_init runs before the worker accepts a connection; the only request it answered
    # was /healthz, which never touches the model.
    assert PRELOADED in log


def test_preload_can_be_turned_off(tmp_path):
    assert PRELOADED not in run_gunicorn(tmp_path, "0")
