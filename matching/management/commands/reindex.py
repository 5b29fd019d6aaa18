from django.core.management.base import BaseCommand
from tqdm import tqdm

from matching.matcher.reindex import DEFAULT_ORDER, reindex


class Command(BaseCommand):
    help = (
        "Rebuild embeddings, lexical documents and matches in batches with a progress bar. "
        "Resumable: unchanged content is never embedded twice, so an interrupted run can simply be rerun."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--kinds", default=",".join(DEFAULT_ORDER), help="result,capability,need"
        )
        parser.add_argument("--batch-size", type=int, default=256)
        parser.add_argument("--no-match", action="store_true", help="only rebuild the indexes")

    def handle(self, *args, kinds: str, batch_size: int, no_match: bool, **options):
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(total=total, desc=stage, unit="obj", file=self.stderr._out)
            bar.n = done
            bar.refresh()
            if done >= total:
                bar.close()

        summary = reindex(
            kinds=[k.strip() for k in kinds.split(",") if k.strip()],
            batch_size=batch_size,
            match=not no_match,
            progress=progress,
        )
        self.stdout.write(f"reindex: {summary}")
