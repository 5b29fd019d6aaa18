"""The embedded PostgreSQL: starts, is reused, and survives a second start while running."""

import multiprocessing
import subprocess
import sys

import psycopg
import pytest

from matchmaker.embedded import ensure_postgres, stop_postgres

pytestmark = pytest.mark.slow


def _connect(db: dict) -> psycopg.Connection:
    return psycopg.connect(host=db["HOST"], user=db["USER"], dbname=db["NAME"], autocommit=True)


def _postmaster_pid(data_dir) -> int:
    return int((data_dir / "postmaster.pid").read_text().splitlines()[0])


def _start_in_child(data_dir: str, queue) -> None:
    from pathlib import Path

    db = ensure_postgres(Path(data_dir), database="embedded_probe")
    queue.put(db["HOST"])


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "pgdata"
    yield path
    if (path / "postmaster.pid").exists():
        stop_postgres(path)


def test_first_start_initialises_a_server_with_pgvector(data_dir):
    db = ensure_postgres(data_dir, database="embedded_probe")
    with _connect(db) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        version = conn.execute("SHOW server_version").fetchone()[0]
        distance = conn.execute("SELECT '[1,0]'::vector <=> '[0,1]'::vector").fetchone()[0]
    assert version.startswith("16")
    assert distance == pytest.approx(1.0)


def test_restart_reuses_the_data_directory(data_dir):
    db = ensure_postgres(data_dir, database="embedded_probe")
    with _connect(db) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('需求清单')")
    stop_postgres(data_dir)
    assert not (data_dir / "postmaster.pid").exists()

    db = ensure_postgres(data_dir, database="embedded_probe")
    with _connect(db) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone()[0] == "需求清单"


def test_second_start_while_running_attaches_instead_of_corrupting(data_dir):
    db = ensure_postgres(data_dir, database="embedded_probe")
    pid = _postmaster_pid(data_dir)
    with _connect(db) as conn:
        conn.execute("CREATE TABLE rows (n int)")
        conn.execute("INSERT INTO rows SELECT generate_series(1, 1000)")

    # Two more processes start it at the same moment, as web and worker do under `make run`.
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    children = [ctx.Process(target=_start_in_child, args=(str(data_dir), queue)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    assert {queue.get(timeout=5), queue.get(timeout=5)} == {db["HOST"]}

    assert _postmaster_pid(data_dir) == pid
    with _connect(db) as conn:
        assert conn.execute("SELECT count(*), sum(n) FROM rows").fetchone() == (1000, 500500)
    log = (data_dir / "log").read_text()
    assert "corrupt" not in log.lower()
    assert 'lock file "postmaster.pid" already exists' not in log


def test_manage_py_starts_the_embedded_server_when_database_url_is_unset(tmp_path):
    env_var_dir = tmp_path / "var"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='matchmaker.settings'; "
            "django.setup(); from django.db import connection; "
            "c = connection.cursor(); c.execute('select current_database()'); print(c.fetchone()[0])",
        ],
        env={
            **__import__("os").environ,
            "MATCHMAKER_VAR_DIR": str(env_var_dir),
            "DATABASE_URL": "",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "matchmaker"
        assert (env_var_dir / "pgdata" / "PG_VERSION").exists()
    finally:
        stop_postgres(env_var_dir / "pgdata")
