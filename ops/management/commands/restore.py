from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from matchmaker.env import parse_database_url
from ops.backup import BackupError, Database, restore_snapshot


class Command(BaseCommand):
    help = (
        "Restore a snapshot written by `backup` into an empty database and MEDIA_ROOT, after "
        "checking every checksum; the restored row counts are compared with the manifest."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", type=Path, help="a directory written by `manage.py backup`")
        parser.add_argument(
            "--database-url", help="restore into this database instead of the configured one"
        )
        parser.add_argument("--media-root", type=Path, help="uploaded files (default: MEDIA_ROOT)")

    def handle(self, *args, source, database_url, media_root, **options):
        database = (
            Database.from_settings(parse_database_url(database_url)) if database_url else None
        )
        try:
            summary = restore_snapshot(source=source, database=database, media_root=media_root)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"restored {summary['tables']} tables, {summary['rows']} rows, "
            f"{summary['media_files']} files (snapshot of {summary['created_at']})"
        )
        if not summary["model_matches"]:
            self.stderr.write(
                "the embedding model differs from the one in the backup: run `manage.py reindex`"
            )
