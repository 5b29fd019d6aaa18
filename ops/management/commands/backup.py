from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from matchmaker.env import parse_database_url
from ops.backup import BackupError, Database, backup_create


class Command(BaseCommand):
    help = (
        "Write a consistent snapshot (pg_dump custom format, uploaded files, the model's BUILD_INFO, "
        "SHA-256 checksums) into a new directory."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            type=Path,
            help="directory to create (default: var/backups/<timestamp>)",
        )
        parser.add_argument(
            "--database-url", help="back up this database instead of the configured one"
        )
        parser.add_argument("--media-root", type=Path, help="uploaded files (default: MEDIA_ROOT)")

    def handle(self, *args, output, database_url, media_root, **options):
        from django.conf import settings

        output = output or Path(settings.VAR_DIR) / "backups" / timezone.now().strftime(
            "%Y%m%dT%H%M%S"
        )
        database = (
            Database.from_settings(parse_database_url(database_url)) if database_url else None
        )
        try:
            manifest = backup_create(output=output, database=database, media_root=media_root)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(manifest["tables"].values())
        self.stdout.write(
            f"backup written to {output}: {len(manifest['tables'])} tables, {rows} rows, "
            f"{manifest['media_files']} files"
        )
