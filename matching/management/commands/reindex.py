import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from matching.matcher import indexing
from matching.matcher import reindex as rebuild


class Command(BaseCommand):
    help = (
        "Rebuild embeddings, lexical documents and matches in batches, with a progress bar. By "
        "default the batches go to the `reindex` Celery queue and every worker consuming it shares "
        "them; --inline does them in this process. Resumable either way: a rerun skips the batches "
        "already done for the configured model (--restart forgets them)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--inline", action="store_true", help="do the batches here instead of on the workers"
        )
        parser.add_argument(
            "--kinds",
            default=",".join(rebuild.DEFAULT_ORDER),
            help="result,capability,need (--inline only)",
        )
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--no-match", action="store_true", help="only rebuild the indexes")
        parser.add_argument(
            "--restart", action="store_true", help="forget the batches done for this model first"
        )
        parser.add_argument(
            "--no-wait", action="store_true", help="send the batches and return (no progress bar)"
        )
        parser.add_argument("--status", action="store_true", help="print the progress and return")

    def handle(self, *args, inline, kinds, batch_size, no_match, restart, no_wait, status, **opts):
        if status:
            self.stdout.write(f"reindex: {rebuild.progress_counts()}")
            return
        version = indexing.version_for_current_model()
        if restart:
            self.stdout.write(f"forgot {rebuild.reset(version)} batches of {version.model_id}")
        if inline:
            bars: dict[str, tqdm] = {}

            def progress(stage: str, done: int, total: int) -> None:
                self._bar(bars, stage, done, total)

            summary = rebuild.reindex(
                kinds=[k.strip() for k in kinds.split(",") if k.strip()],
                batch_size=batch_size,
                match=not no_match,
                progress=progress,
            )
            for bar in bars.values():
                bar.close()
            self.stdout.write(f"reindex: {summary}")
            return
        self._fan_out(version, match=not no_match, batch_size=batch_size, wait=not no_wait)

    def _fan_out(self, version, *, match: bool, batch_size: int | None, wait: bool) -> None:
        from django.conf import settings

        from core.health import queue_consumers
        from matching.tasks import start_reindex

        queue = settings.CELERY_REINDEX_QUEUE
        consumers = queue_consumers().get(queue, 0)
        if not consumers:
            raise CommandError(
                f"no Celery worker consumes the `{queue}` queue: start one "
                f"(`celery -A matchmaker worker -Q {queue}`) or use --inline"
            )
        version, sent, index_done = start_reindex(match=match, batch_size=batch_size)
        self.stdout.write(
            f"sent {sent} index batches of {version.model_id} to `{queue}` "
            f"({consumers} worker(s) consume it)"
        )
        if not wait:
            return
        bars: dict[str, tqdm] = {}
        while not index_done.ready():
            self._poll(bars, version, rebuild.Stage.INDEX)
            time.sleep(1)
        self._poll(bars, version, rebuild.Stage.INDEX)
        finished = index_done.get(disable_sync_subtasks=False)
        index_done.forget()
        if finished.get("match_batches") is not None:
            while self._poll(bars, version, rebuild.Stage.MATCH):
                time.sleep(1)
        for bar in bars.values():
            bar.close()
        self.stdout.write(f"reindex: {rebuild.progress_counts(version)}")
        if not finished.get("ready"):
            self.stdout.write(
                "the index is not complete yet (batches still running elsewhere, or a new model's "
                "version waits for them): the workers finish it"
            )

    def _poll(self, bars, version, stage: str) -> bool:
        """Update the stage's bar; True while some of its batches are not done."""
        counts = rebuild.progress_counts(version)["stages"].get(stage, {"batches": 0, "done": 0})
        self._bar(bars, stage, counts["done"], counts["batches"])
        return counts["done"] < counts["batches"]

    def _bar(self, bars, stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="batch", file=self.stderr._out)
        bar.total = total
        bar.n = done
        bar.refresh()
