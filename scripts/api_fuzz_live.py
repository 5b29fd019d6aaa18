"""The deep contract run against a live service, as an integrator's generator would meet it:
``make run``'s stack (gunicorn, worker, beat, embedded PostgreSQL and Redis, demo data) started in a
scratch directory, never the one ``make run`` uses, then the Schemathesis CLI over every operation
of ``/api/schema/`` once per demo role with that role's token.

    python scripts/api_fuzz_live.py [--examples 100] [--port 8765] [--roles lab,staff] [--keep]

Prints each role's Schemathesis summary and, last, one JSON line with the totals; exits non-zero on
any failure. Each role's whole report is kept in ``var/api-fuzz-live/<role>.txt``. ``make api-fuzz-live``
runs it. The scratch directory is removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROLES = {
    "enterprise": "enterprise@demo.example.cn",
    "lab": "lab@demo.example.cn",
    "expert": "expert@demo.example.cn",
    "staff": "admin@demo.example.cn",
}
CHECKS = (
    "not_a_server_error,response_schema_conformance,status_code_conformance,"
    "content_type_conformance,negative_data_rejection"
)


def _wait_for(url: str, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(2)
    raise SystemExit(f"the scratch service did not answer {url} within {seconds:.0f} s")


def _summary(output: str) -> dict:
    generated = re.search(r"(\d+) generated", output)
    failures = re.search(r"(\d+) unique failures?", output)
    operations = re.search(r"Tested: (\d+)", output)
    return {
        "operations": int(operations.group(1)) if operations else 0,
        "cases": int(generated.group(1)) if generated else 0,
        "unique_failures": int(failures.group(1)) if failures else 0,
    }


def _failures(output: str) -> str:
    """The failures section and the summary of a Schemathesis report (the whole one is kept)."""
    start = output.find("=== FAILURES")
    summary = output.find("=== SUMMARY")
    parts = [output[start : output.find("=== WARNINGS")] if start >= 0 else ""]
    parts.append(output[summary:] if summary >= 0 else output[-2000:])
    return "".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument(
        "--roles", default=",".join(ROLES), help=f"comma-separated, of {', '.join(ROLES)}"
    )
    args = parser.parse_args()

    python = sys.executable
    scratch = Path(tempfile.mkdtemp(prefix="api-fuzz-live-"))
    scratch.chmod(0o755)  # the embedded server runs as its own system user when we are root
    (scratch / "models").symlink_to((ROOT / "var" / "models").resolve())
    env = {
        **os.environ,
        "DEBUG": "1",
        "MATCHMAKER_VAR_DIR": str(scratch),
        "EMBEDDED_REDIS_PORT": str(args.port + 1),
        # The run measures the contract, not the rate limit (429 is documented and tested elsewhere).
        "API_THROTTLE_USER": "100000/min",
        "API_THROTTLE_ANON": "100000/min",
        "API_THROTTLE_BULK": "100000/min",
    }
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    base = f"http://127.0.0.1:{args.port}"
    service = subprocess.Popen(  # noqa: S603
        [python, "manage.py", "runall", "--bind", f"127.0.0.1:{args.port}"],
        cwd=ROOT,
        env=env,
        stdout=(scratch / "service.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    reports = ROOT / "var" / "api-fuzz-live"
    reports.mkdir(parents=True, exist_ok=True)
    totals: dict[str, dict] = {}
    try:
        _wait_for(f"{base}/healthz", seconds=1800)
        for role in args.roles.split(","):
            email = ROLES[role]
            key = subprocess.run(  # noqa: S603
                [python, "manage.py", "api_token", email, "--name", "schemathesis"],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            started = time.monotonic()
            run = subprocess.run(  # noqa: S603
                [
                    str(Path(python).parent / "schemathesis"),
                    "run",
                    f"{base}/api/schema/",
                    "--header",
                    f"Authorization: Token {key}",
                    "--checks",
                    CHECKS,
                    "--max-examples",
                    str(args.examples),
                    "--mode",
                    "all",
                    "--generation-deterministic",
                    "--request-timeout",
                    "60",
                ],
                cwd=scratch,
                capture_output=True,
                text=True,
            )
            report = reports / f"{role}.txt"
            report.write_text(run.stdout, encoding="utf-8")
            print(
                f"--- {role} ({report.relative_to(ROOT)}) ---\n{_failures(run.stdout)}", flush=True
            )
            totals[role] = {
                **_summary(run.stdout),
                "exit": run.returncode,
                "seconds": round(time.monotonic() - started),
            }
    finally:
        os.killpg(service.pid, signal.SIGINT)
        try:
            service.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(service.pid, signal.SIGKILL)
        sys.path.insert(0, str(ROOT))
        from matchmaker.embedded import stop_postgres

        stop_postgres(scratch / "pgdata")
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    failed = sum(t["unique_failures"] for t in totals.values())
    print(
        json.dumps(
            {
                "examples": args.examples,
                "roles": totals,
                "cases": sum(t["cases"] for t in totals.values()),
                "unique_failures": failed,
            },
            ensure_ascii=False,
        )
    )
    return 1 if failed or any(t["exit"] for t in totals.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
