"""The mix ``bench_load`` runs (Locust): API and web reads of the lists, and one ad-hoc match in 13.

Each simulated user is a different demo account, signed in both ways: an API token for
``/api/v1/…`` and a session cookie for the pages. Accounts come from the JSON file named by
``BENCH_LOAD_ACCOUNTS`` (written by ``bench/bench_load.py``); the ad-hoc texts are real dev
demands from the same file. Not a Django module: Locust runs it in its own process.
"""

from __future__ import annotations

import itertools
import json
import os
import random

from locust import HttpUser, between, task

with open(os.environ["BENCH_LOAD_ACCOUNTS"], encoding="utf-8") as _fh:
    _DATA = json.load(_fh)
_ACCOUNTS = itertools.cycle(_DATA["accounts"])
_TEXTS = _DATA["texts"]


class Visitor(HttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        account = next(_ACCOUNTS)
        self.api_headers = {"Authorization": f"Token {account['token']}"}
        # The session only on page requests (an API call is authenticated by its token alone).
        self.page_headers = {"Cookie": f"sessionid={account['session']}"}

    def _api(self, path: str) -> None:
        self.client.get(path, headers=self.api_headers, name=path.split("?")[0])

    def _page(self, path: str) -> None:
        self.client.get(path, headers=self.page_headers, name=path)

    # 12 reads ...
    @task(2)
    def api_needs(self) -> None:
        self._api("/api/v1/needs/?page_size=20")

    @task(2)
    def api_results(self) -> None:
        self._api("/api/v1/results/?page_size=20")

    @task(1)
    def api_challenges(self) -> None:
        self._api("/api/v1/challenges/")

    @task(2)
    def page_needs(self) -> None:
        self._page("/needs/")

    @task(2)
    def page_results(self) -> None:
        self._page("/results/")

    @task(2)
    def page_matches(self) -> None:
        self._page("/matches/")

    @task(1)
    def page_challenges(self) -> None:
        self._page("/challenges/")

    # ... and 1 ad-hoc match in 13.
    @task(1)
    def adhoc_match(self) -> None:
        self.client.post(
            "/api/v1/match/",
            json={"text": random.choice(_TEXTS)},  # noqa: S311 - a load mix, not security
            headers=self.api_headers,
            name="/api/v1/match/",
        )
