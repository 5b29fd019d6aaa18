"""The list endpoints and pages read a page in a fixed number of queries: adding rows (needs full
and summary-only, results, challenges, matches) adds no query, for an owner and an outsider."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from matching.models import Need
from tests.factories import (
    CapabilityProfileFactory,
    ChallengeFactory,
    MatchFactory,
    NeedFactory,
    NeedIndicatorFactory,
    ResultFactory,
)

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/needs/",
    "/api/v1/results/",
    "/api/v1/challenges/",
    "/needs/",
    "/results/",
    "/matches/",
    "/challenges/",
]
# Each list's whole request (session, user, memberships, page, prefetches) stays within this.
MAX_QUERIES = 14


def add_rows(cast, n: int) -> None:
    """``n`` more of everything a list shows, for the cast's org (full) and others (summary)."""
    for i in range(n):
        mine = NeedFactory(organization=cast.org, created_by=cast.owner, title=f"本机构需求{i}")
        NeedIndicatorFactory(need=mine)
        NeedFactory(
            organization=cast.other_org,
            created_by=cast.outsider,
            confidentiality=Need.Confidentiality.SUMMARY,
            title=f"摘要公开需求{i}",
        )
        NeedFactory(title=f"公开需求{i}")
        result = ResultFactory(organization=cast.other_org, created_by=cast.outsider)
        ResultFactory()
        MatchFactory(need=mine, result=result)
        MatchFactory(need=mine, result=None, capability=CapabilityProfileFactory())
        ChallengeFactory(need=NeedFactory(organization=cast.org, created_by=cast.owner))
        ChallengeFactory()


def count(client, path: str) -> int:
    client.get(path)  # warm per-process caches (taxonomy choices, templates)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(queries.captured_queries)


@pytest.mark.parametrize("who", ["owner", "outsider"])
def test_list_query_counts_do_not_grow_with_rows(client, cast, who, django_assert_max_num_queries):
    client.force_login(getattr(cast, who))
    add_rows(cast, 2)
    few = {path: count(client, path) for path in LISTS}
    add_rows(cast, 10)
    many = {path: count(client, path) for path in LISTS}
    assert many == few
    for path in LISTS:
        with django_assert_max_num_queries(MAX_QUERIES):
            client.get(path)
