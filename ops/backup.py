"""Backups an operator can trust: one directory per snapshot.

A snapshot holds the database as a ``pg_dump`` custom-format archive (``database.dump``), the uploaded
files (``media/``), the embedding model's ``BUILD_INFO.json``, a ``manifest.json`` (when, which
server, the row count of every table as seen by the dump) and ``SHA256SUMS`` over all of them, in the
format ``sha256sum -c`` reads.

Consistency: the row counts are taken in a REPEATABLE READ transaction whose snapshot ``pg_dump``
shares (``--snapshot``), so the counts describe exactly what the archive holds. The files are copied
after the database snapshot is taken, so every attachment row in the archive finds its file (a file
uploaded in between is copied too and is harmless).

``restore_snapshot`` refuses a target database that already has tables, checks every checksum before
it touches anything, restores in one transaction, and compares the restored row counts with the
manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connections
from django.utils import timezone
from psycopg import sql

FORMAT_VERSION = 1
DUMP_NAME = "database.dump"
MEDIA_DIR = "media"
BUILD_INFO_NAME = "BUILD_INFO.json"
MANIFEST_NAME = "manifest.json"
SUMS_NAME = "SHA256SUMS"


class BackupError(RuntimeError):
    pass


@dataclass(frozen=True)
class Database:
    """Where a database is: the parts of a Django DATABASES entry libpq needs."""

    name: str
    user: str = ""
    password: str = ""
    host: str = ""
    port: str = ""

    @classmethod
    def from_settings(cls, entry: dict) -> Database:
        return cls(
            name=entry["NAME"],
            user=entry.get("USER") or "",
            password=entry.get("PASSWORD") or "",
            host=entry.get("HOST") or "",
            port=str(entry.get("PORT") or ""),
        )

    @classmethod
    def default(cls) -> Database:
        return cls.from_settings(connections["default"].settings_dict)

    def connect(self, **kwargs) -> psycopg.Connection:
        params = {"dbname": self.name, "user": self.user or None, "host": self.host or None}
        if self.port:
            params["port"] = self.port
        if self.password:
            params["password"] = self.password
        return psycopg.connect(**{k: v for k, v in params.items() if v is not None}, **kwargs)

    def cli_args(self) -> list[str]:
        args = ["--dbname", self.name]
        if self.host:
            args += ["--host", self.host]
        if self.port:
            args += ["--port", self.port]
        if self.user:
            args += ["--username", self.user]
        return args + ["--no-password"]

    def cli_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env


def pg_tool(name: str) -> str:
    """``pg_dump`` / ``pg_restore``: the ones shipped with the pgserver wheel (the same major version
    as the embedded server and as the compose file's ``pgvector/pgvector:pg16``), else from PATH."""
    try:
        import pgserver  # noqa: PLC0415 - optional: only the embedded default needs the wheel

        bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found: install the PostgreSQL client or the pgserver wheel")
    return found


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def table_row_counts(cursor) -> dict[str, int]:
    """Row count of every ordinary table in the ``public`` schema, as the cursor's snapshot sees it."""
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    tables = [row[0] for row in cursor.fetchall()]
    counts = {}
    for table in tables:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        counts[table] = cursor.fetchone()[0]
    return counts


def _model_build_info() -> Path | None:
    model = Path(str(settings.MATCHER_MODEL))
    candidate = model / BUILD_INFO_NAME
    return candidate if candidate.is_file() else None


def _copy_media(source: Path, target: Path) -> int:
    copied = 0
    if not source.is_dir():
        return 0
    for path in sorted(source.rglob("*")):
        if path.is_file() and not path.is_symlink():
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
            copied += 1
    return copied


def _write_sums(directory: Path) -> None:
    lines = []
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name != SUMS_NAME:
            lines.append(f"{sha256_file(path)}  {path.relative_to(directory).as_posix()}\n")
    (directory / SUMS_NAME).write_text("".join(lines), encoding="utf-8")


def backup_create(
    *, output: Path, database: Database | None = None, media_root: Path | None = None
) -> dict:
    """Write a snapshot into ``output`` (which must not exist or be empty); return its manifest."""
    database = database or Database.default()
    media_root = Path(media_root or settings.MEDIA_ROOT)
    output = Path(output)
    if output.exists() and any(output.iterdir()):
        raise BackupError(f"{output} is not empty")
    output.mkdir(parents=True, exist_ok=True)

    with database.connect(autocommit=True) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, server_version = cursor.fetchone()
            counts = table_row_counts(cursor)
            # The exporting transaction stays open while pg_dump reads the same snapshot.
            completed = subprocess.run(
                [
                    pg_tool("pg_dump"),
                    *database.cli_args(),
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={output / DUMP_NAME}",
                ],
                env=database.cli_env(),
                capture_output=True,
                text=True,
            )
        conn.execute("COMMIT")
    if completed.returncode != 0:
        raise BackupError(f"pg_dump failed: {completed.stderr.strip()}")

    files = _copy_media(media_root, output / MEDIA_DIR)
    build_info = _model_build_info()
    if build_info is not None:
        shutil.copy2(build_info, output / BUILD_INFO_NAME)
    manifest = {
        "format": FORMAT_VERSION,
        "created_at": timezone.now().isoformat(),
        "database": {"name": database.name, "server_version": server_version},
        "tables": counts,
        "media_files": files,
        "model_build_info": json.loads(build_info.read_text()) if build_info else None,
    }
    (output / MANIFEST_NAME).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    _write_sums(output)
    return manifest


def backup_verify(*, source: Path) -> dict:
    """Check every checksum in ``SHA256SUMS`` and that no file is missing; return the manifest."""
    source = Path(source)
    sums = source / SUMS_NAME
    if not sums.is_file():
        raise BackupError(f"{source} has no {SUMS_NAME}: not a backup made by `manage.py backup`")
    listed = set()
    for line in sums.read_text(encoding="utf-8").splitlines():
        expected, _sep, relative = line.partition("  ")
        path = source / relative
        listed.add(relative)
        if not path.is_file():
            raise BackupError(f"missing from the backup: {relative}")
        if sha256_file(path) != expected:
            raise BackupError(f"checksum mismatch: {relative}")
    present = {
        p.relative_to(source).as_posix()
        for p in source.rglob("*")
        if p.is_file() and p.name != SUMS_NAME
    }
    if present - listed:
        raise BackupError(f"files not in {SUMS_NAME}: {sorted(present - listed)[:5]}")
    if MANIFEST_NAME not in listed or DUMP_NAME not in listed:
        raise BackupError("the backup has no manifest or no database dump")
    manifest = json.loads((source / MANIFEST_NAME).read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    return manifest


def restore_snapshot(
    *, source: Path, database: Database | None = None, media_root: Path | None = None
) -> dict:
    """Restore a verified snapshot into an empty database and MEDIA_ROOT; return a summary."""
    source = Path(source)
    database = database or Database.default()
    media_root = Path(media_root or settings.MEDIA_ROOT)
    manifest = backup_verify(source=source)

    with database.connect(autocommit=True) as conn:
        existing = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()[0]
    if existing:
        raise BackupError(
            f"database {database.name!r} already has {existing} tables: restore into an empty one"
        )
    media_source = source / MEDIA_DIR
    clashes = [
        p.relative_to(media_source)
        for p in (media_source.rglob("*") if media_source.is_dir() else [])
        if p.is_file()
        and (media_root / p.relative_to(media_source)).exists()
        and sha256_file(media_root / p.relative_to(media_source)) != sha256_file(p)
    ]
    if clashes:
        raise BackupError(f"{media_root} holds different files under the same names: {clashes[:5]}")

    completed = subprocess.run(
        [
            pg_tool("pg_restore"),
            *database.cli_args(),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            str(source / DUMP_NAME),
        ],
        env=database.cli_env(),
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise BackupError(f"pg_restore failed: {completed.stderr.strip()}")

    with database.connect() as conn, conn.cursor() as cursor:
        restored = table_row_counts(cursor)
    if restored != manifest["tables"]:
        differing = sorted(
            t
            for t in set(restored) | set(manifest["tables"])
            if restored.get(t) != manifest["tables"].get(t)
        )
        raise BackupError(f"row counts differ from the manifest after restore: {differing[:10]}")

    files = _copy_media(media_source, media_root)
    current = _model_build_info()
    saved = manifest.get("model_build_info")
    model_matches = saved is None or (
        current is not None and json.loads(current.read_text()) == saved
    )
    return {
        "tables": len(restored),
        "rows": sum(restored.values()),
        "media_files": files,
        "model_matches": model_matches,
        "created_at": manifest["created_at"],
    }
