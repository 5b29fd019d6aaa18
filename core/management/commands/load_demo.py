from django.core.management.base import BaseCommand

from accounts.demo import load_accounts
from challenges.demo import load_challenges
from core.demo import DEMO_DIR
from matching.catalogue.demo import load_matching
from ops.demo import load_history
from taxonomy.services import taxonomy_load


class Command(BaseCommand):
    help = "Load the demo data in fixtures/demo and a year of demo activity for /ops/ (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--password", default="demo12345", help="password of every demo user")

    def handle(self, *args, password: str, **options):
        counts = taxonomy_load(path=DEMO_DIR / "taxonomy.json")
        counts |= load_accounts(password=password)
        counts |= load_matching()
        counts |= load_challenges()  # after needs and results
        # A year of activity for the operator dashboard (/ops/), by demo organizations of its own.
        counts |= load_history(password=password)
        self.stdout.write("demo data: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
