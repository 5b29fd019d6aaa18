"""Issue an API token for a user from the shell, e.g. for a provincial platform's integration account
or a scripted check; the key is printed once and never stored (``accounts.services``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for the user with this email and print its key (shown only now)."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", default="命令行创建")

    def handle(self, *args, email: str, name: str, **options):
        try:
            user = User.objects.get(email__iexact=email.strip(), is_active=True)
        except User.DoesNotExist as exc:
            raise CommandError(f"no active user with email {email!r}") from exc
        try:
            _token, key = api_token_create(user=user, name=name)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(key)
