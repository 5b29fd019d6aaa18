"""Embedded services for a bare machine: PostgreSQL 16 + pgvector from the ``pgserver`` wheel, and a
local ``redis-server``.

Both keep their data under ``var/`` and are reused by the next start. Starting twice is safe:
pgserver takes an inter-process lock and attaches to a running postmaster instead of starting a second
one, and Redis is only spawned when nothing answers on its port.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import time
import warnings
from pathlib import Path

EMBEDDED_DB_NAME = "matchmaker"


class EmbeddedServiceError(RuntimeError):
    pass


def ensure_postgres(data_dir: Path, *, database: str = EMBEDDED_DB_NAME) -> dict:
    """Start (or attach to) the embedded server and return a Django DATABASES entry for ``database``."""
    import psycopg

    pgserver = _import_pgserver()

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    socket_dir = str(server.get_postmaster_info().socket_dir)
    with psycopg.connect(
        host=socket_dir, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            try:
                conn.execute(f'CREATE DATABASE "{database}"')
            except psycopg.errors.DuplicateDatabase:
                pass  # another process (web, worker, a parallel test run) created it just now
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": socket_dir,
        "PORT": "",
        "OPTIONS": {},
    }


def _import_pgserver():
    # Imported lazily: only the embedded default needs it. Its lock lives in the XDG runtime dir,
    # which a container often lacks; platformdirs then warns and falls back to /tmp, which is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    return pgserver


def stop_postgres(data_dir: Path) -> None:
    """Fast shutdown of the server on ``data_dir`` (if running) and forget this process's handle."""
    _import_pgserver()
    from pgserver._commands import pg_ctl
    from pgserver.postgres_server import PostgresServer

    data_dir = data_dir.resolve()
    if (data_dir / "postmaster.pid").exists():
        # pgserver runs the server as the 'pgserver' system user when we are root.
        user = "pgserver" if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user)
    server = PostgresServer._instances.pop(data_dir, None)
    if server is not None:
        atexit.unregister(server._cleanup)


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(data_dir: Path, port: int, *, wait: float = 10.0) -> subprocess.Popen | None:
    """Start ``redis-server`` on 127.0.0.1:``port`` unless something already answers there.

    Returns the process we started (the caller stops it), or None when one was already running.
    """
    if port_open("127.0.0.1", port):
        return None
    binary = shutil.which("redis-server")
    if binary is None:
        raise EmbeddedServiceError("redis-server is not installed: run `make setup`")
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data_dir),
            "--appendonly",
            "yes",
            "--save",
            "60 1",
            "--daemonize",
            "no",
            "--logfile",
            str(data_dir / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        # Its own session: a Ctrl-C in the terminal must not stop Redis while the workers that
        # use it are still shutting down; the caller stops it last.
        start_new_session=True,
    )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if port_open("127.0.0.1", port):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise EmbeddedServiceError(
        f"redis-server did not start on port {port}; see {data_dir}/redis.log"
    )
