import pytest

from matchmaker.embedded import free_port, start_redis

pytestmark = pytest.mark.django_db


@pytest.mark.worker
def test_healthz_is_200_when_everything_answers(client, celery_worker_process):
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    checks = response.json()["checks"]
    assert checks == {"database": {"ok": True}, "redis": {"ok": True}, "worker": {"ok": True}}


def test_healthz_is_503_without_a_worker(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["redis"] == {"ok": True}
    assert body["checks"]["worker"]["ok"] is False


def test_healthz_goes_503_when_redis_is_stopped(client, settings, tmp_path):
    port = free_port()
    proc = start_redis(tmp_path, port)
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    assert client.get("/healthz").json()["checks"]["redis"] == {"ok": True}

    proc.terminate()
    proc.wait(timeout=10)
    response = client.get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"]["ok"] is False
    assert checks["database"] == {"ok": True}


@pytest.mark.worker
@pytest.mark.worker_queues("celery")
def test_healthz_is_503_when_no_worker_consumes_the_mail_queue(client, celery_worker_process):
    response = client.get("/healthz")
    assert response.status_code == 503
    error = response.json()["checks"]["worker"]["error"]
    assert "mail" in error and "celery" not in error.split(":")[-1]
