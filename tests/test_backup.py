"""Backups an operator can trust: ``manage.py backup`` then ``manage.py restore`` into a scratch
database gives back every row and every uploaded file byte for byte; a tampered snapshot or a
database that is not empty is refused before anything is written."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import connection
from psycopg import sql

from matching.models import Attachment, Need, Result
from ops.backup import SUMS_NAME, Database, table_row_counts
from tests.conftest import worker_database_url


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def scratch_database():
    """An empty database on the same server as the test database; dropped afterwards."""
    source = Database.default()
    name = f"{source.name}_restore"
    admin = Database(
        name="postgres",
        user=source.user,
        password=source.password,
        host=source.host,
        port=source.port,
    )
    with admin.connect(autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = worker_database_url().replace(f"/{source.name}", f"/{name}", 1)
    try:
        yield Database(**{**source.__dict__, "name": name}), url
    finally:
        with admin.connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def demo_with_attachments(count: int = 6) -> list[Attachment]:
    call_command("load_demo", "--password", "demo12345")
    rng = random.Random(15)
    owners = list(Need.objects.all()[:3]) + list(Result.objects.all()[:3])
    made = []
    for index in range(count):
        owner = owners[index % len(owners)]
        payload = b"%PDF-1.4\n" + rng.randbytes(2048 + index * 511)
        attachment = Attachment(
            original_name=f"附件{index}.pdf",
            content_type="application/pdf",
            size=len(payload),
            uploaded_by=owner.created_by,
            **({"need": owner} if isinstance(owner, Need) else {"result": owner}),
        )
        attachment.file.save(f"{index}.pdf", ContentFile(payload), save=False)
        attachment.save()
        made.append(attachment)
    return made


def test_backup_then_restore_into_empty_database_gives_back_every_row_and_file(
    transactional_db, media, tmp_path, scratch_database
):
    attachments = demo_with_attachments()
    backup_dir = tmp_path / "backup"
    call_command("backup", "--output", str(backup_dir))

    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["tables"]["matching_need"] == Need.objects.count() > 0
    assert manifest["media_files"] == len(attachments)
    assert (backup_dir / "BUILD_INFO.json").is_file()

    target, url = scratch_database
    restored_media = tmp_path / "restored-media"
    call_command(
        "restore", str(backup_dir), "--database-url", url, "--media-root", str(restored_media)
    )

    with connection.cursor() as cursor:
        source_counts = table_row_counts(cursor.cursor)
    with target.connect() as conn, conn.cursor() as cursor:
        assert table_row_counts(cursor) == source_counts
        cursor.execute("SELECT uuid::text, file, size FROM matching_attachment ORDER BY id")
        restored_rows = cursor.fetchall()
    assert sorted(r[0] for r in restored_rows) == sorted(str(a.uuid) for a in attachments)
    for _uuid, name, size in random.Random(1).sample(restored_rows, 4):
        original = (media / name).read_bytes()
        assert (restored_media / name).read_bytes() == original
        assert len(original) == size


def test_restore_refuses_a_database_that_has_tables(transactional_db, media, tmp_path):
    call_command("load_demo", "--password", "demo12345")
    backup_dir = tmp_path / "backup"
    call_command("backup", "--output", str(backup_dir))
    with pytest.raises(CommandError, match="already has"):
        call_command("restore", str(backup_dir), "--database-url", worker_database_url())


def test_restore_refuses_a_tampered_backup_before_touching_the_database(
    transactional_db, media, tmp_path, scratch_database
):
    demo_with_attachments(count=2)
    backup_dir = tmp_path / "backup"
    call_command("backup", "--output", str(backup_dir))
    victim = next(p for p in (backup_dir / "media").rglob("*") if p.is_file())
    victim.write_bytes(victim.read_bytes()[:-1] + b"X")

    target, url = scratch_database
    with pytest.raises(CommandError, match="checksum mismatch"):
        call_command("restore", str(backup_dir), "--database-url", url)
    with target.connect() as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchone()[0] == 0
    assert SUMS_NAME in {p.name for p in backup_dir.iterdir()}


def test_backup_refuses_a_directory_that_is_not_empty(db, tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "x").write_text("x")
    with pytest.raises(CommandError, match="not empty"):
        call_command("backup", "--output", str(tmp_path / "old"))


def test_sha256sums_is_readable_by_sha256sum(transactional_db, media, tmp_path):
    import subprocess

    demo_with_attachments(count=1)
    call_command("backup", "--output", str(tmp_path / "b"))
    check = subprocess.run(
        ["sha256sum", "--check", "--quiet", SUMS_NAME], cwd=tmp_path / "b", capture_output=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
