"""Shared by ``import_needs`` and ``import_results``."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.selectors import user_is_member
from matching.catalogue import importers


class ImportCommand(BaseCommand):
    kind = ""

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="a .csv (UTF-8 or GBK) or .xlsx file")
        parser.add_argument(
            "--org", required=True, help="the organization: its uuid or 统一社会信用代码"
        )
        parser.add_argument(
            "--user", required=True, help="email of the member who imports (the records' author)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="validate every row and write nothing"
        )

    def handle(self, *args, file: Path, org: str, user: str, dry_run: bool, **options):
        if not file.is_file():
            raise CommandError(f"no such file: {file}")
        organization = importers.resolve_organization(org)
        if organization is None:
            raise CommandError(f"no organization with uuid or credit code {org!r}")
        actor = User.objects.filter(email__iexact=user.strip()).first()
        if actor is None or not actor.is_active:
            raise CommandError(f"no active user {user!r}")
        if not user_is_member(user=actor, org=organization):
            raise CommandError(f"{actor.email} is not a member of {organization.name}")
        try:
            report = importers.import_file(
                path=file, kind=self.kind, actor=actor, organization=organization, dry_run=dry_run
            )
        except importers.ImportRejected as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(
                f"{len(exc.errors)} error(s); nothing was imported from {file.name}"
            ) from exc
        except PermissionDenied as exc:
            raise CommandError(f"{actor.email} may not write for {organization.name}") from exc
        verb = "would import" if dry_run else "imported"
        self.stdout.write(
            f"{verb} {len(report.items)} {self.kind} from {file.name}: "
            f"{report.created} created, {report.updated} updated"
        )
