import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent


def _compose() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("docker-compose is not installed: `make setup` installs Debian's docker-compose")


def test_docker_compose_file_validates():
    result = subprocess.run(
        [*_compose(), "config"],
        cwd=BASE_DIR,
        env={**os.environ, "SECRET_KEY": "compose-config-check"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for service in ["web:", "worker:", "worker-mail:", "beat:", "postgres:", "redis:", "mailpit:"]:
        assert service in result.stdout
    # One worker per queue: matching never waits behind a burst of emails.
    assert re.search(r"--queues\s+celery\b", result.stdout)
    assert re.search(r"--queues\s+mail\b", result.stdout)
    assert "WORKER_PRELOAD_MODEL" in result.stdout
    assert "pgvector/pgvector:pg16" in result.stdout


def test_docker_compose_refuses_to_run_without_a_secret():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    result = subprocess.run(
        [*_compose(), "config"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
