"""Test environment, set before pytest-django imports the settings (loaded with ``-p``).

The suite gets its own Redis on a free port, so it never touches the one ``make run`` uses, and can
stop it without disturbing anything else. PostgreSQL is the embedded server (or ``DATABASE_URL``);
pytest-django creates ``test_<name>`` in it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from matchmaker.embedded import free_port, start_redis

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
os.environ.setdefault("API_THROTTLE_USER", "100000/minute")
os.environ.setdefault("API_THROTTLE_ANON", "100000/minute")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Under pytest-xdist every test process gets its own Redis: a Celery worker started by one process
# must never consume the tasks of another, which point at a different test database.
if not os.environ.get("REDIS_URL") or os.environ.get("PYTEST_XDIST_WORKER"):
    _redis_dir = Path(tempfile.mkdtemp(prefix="mm-test-redis-"))
    _port = free_port()
    _redis = start_redis(_redis_dir, _port)
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{_port}/0"

    @atexit.register
    def _stop_redis() -> None:
        if _redis is not None and _redis.poll() is None:
            _redis.terminate()
            _redis.wait(timeout=10)
        shutil.rmtree(_redis_dir, ignore_errors=True)
