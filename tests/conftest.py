from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import Membership
from matchmaker.celery import worker_command
from matchmaker.embedded import free_port
from tests.factories import MembershipFactory, OrganizationFactory

BASE_DIR = Path(__file__).resolve().parent.parent


# --- The fixed cast: an owner and a member of org A, and an outsider who owns org B -------------


@dataclass
class Cast:
    org: object
    owner: object
    member: object
    other_org: object
    outsider: object


@pytest.fixture
def cast(db) -> Cast:
    org = OrganizationFactory(name="甲公司")
    owner = MembershipFactory(organization=org, role=Membership.Role.OWNER).user
    member = MembershipFactory(organization=org).user
    other_org = OrganizationFactory(name="乙研究院", kind="institution")
    outsider = MembershipFactory(organization=other_org, role=Membership.Role.OWNER).user
    return Cast(org=org, owner=owner, member=member, other_org=other_org, outsider=outsider)


@pytest.fixture
def owner_client(client, cast):
    client.force_login(cast.owner)
    return client


@pytest.fixture
def outsider_client(client, cast):
    client.force_login(cast.outsider)
    return client


# --- A real SMTP server on loopback ---------------------------------------------------------------


@dataclass
class SmtpSink:
    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    # When set, the server answers every RCPT with this code (e.g. "451 try later").
    reject_with: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.reject_with:
            return self.reject_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        msg = message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        self.messages.append(msg)
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@pytest.fixture
def smtp_server(settings):
    from aiosmtpd.controller import Controller

    port = free_port()
    sink = SmtpSink(host="127.0.0.1", port=port)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    try:
        yield sink
    finally:
        controller.stop()


# --- A real Celery worker process against the test database -------------------------------------


def worker_database_url() -> str:
    db = connection.settings_dict
    host = db["HOST"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    if host.startswith("/"):
        return f"postgresql://{auth}@/{db['NAME']}?host={host}"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{auth}@{host}{port}/{db['NAME']}"


class WorkerProcess:
    """``celery worker`` in a child process, pointed at the test database and the test Redis."""

    def __init__(self, extra_env: dict[str, str], queues: tuple[str, ...] | None = None):
        self.extra_env = extra_env
        self.queues = queues or tuple(settings.WORKER_QUEUES)
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"mm-worker-{os.getpid()}.log"

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": worker_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            **self.extra_env,
        }
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.proc = subprocess.Popen(
            worker_command(
                hostname=f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
                queues=self.queues,
                private=True,
            ),
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready()

    def log(self) -> str:
        """What the current worker process has written so far."""
        with open(self.log_path, "rb") as handle:
            handle.seek(self._log_offset)
            return handle.read().decode(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        from matchmaker.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early; log: {self.log_path.read_text()[-3000:]}")
            if app.control.ping(timeout=0.5):
                return
        raise RuntimeError(f"worker not ready; log: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole worker process group, as an OOM killer or a power cut would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def celery_worker_process(transactional_db, request):
    """Start a worker; the test's data must be committed for it to be seen (transactional_db)."""
    marker = request.node.get_closest_marker("worker_env")
    extra_env = dict(marker.kwargs) if marker else {}
    queues = request.node.get_closest_marker("worker_queues")
    worker = WorkerProcess(extra_env, queues=tuple(queues.args) if queues else None)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


# --- Debian's Chromium through Playwright ---------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; Django refuses DB access from a thread that has one.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(locale="zh-CN", base_url=live_server.url)
    page = context.new_page()
    yield page
    context.close()
