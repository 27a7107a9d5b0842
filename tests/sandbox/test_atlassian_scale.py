"""100,000 Atlassian accounts: seeded quickly with bulk inserts, searchable and pageable.
Opt in: SANDBOX_SCALE_TEST=1."""

import os
import random
import time

import pytest

from sandbox.atlassian.jira_views import USER_PAGE_LIMIT
from sandbox.atlassian.seed import seed_atlassian
from tests.sandbox.test_atlassian_helpers import http, site, token_for

pytestmark = pytest.mark.skipif(not os.environ.get("SANDBOX_SCALE_TEST"), reason="set SANDBOX_SCALE_TEST=1")


def test_hundred_thousand_accounts(sandbox):
    started = time.monotonic()
    seed_atlassian(random.Random(3), 100_000)  # noqa: S311
    assert time.monotonic() - started < 60
    token = token_for(sandbox, sites=["acme"])["access_token"]
    session = http(sandbox)
    session.headers["Authorization"] = f"Bearer {token}"
    base = f"{sandbox.atlassian_api_url}/ex/jira/{site(sandbox, 'acme')['id']}/rest/api/3"
    started = time.monotonic()
    last = session.get(f"{base}/users/search", params={"startAt": 99_000, "maxResults": 1000}).json()
    found = session.get(f"{base}/user/search", params={"query": "Kim"}).json()
    assert len(last) == USER_PAGE_LIMIT and found and time.monotonic() - started < 10


def test_paging_fifty_thousand_accounts_costs_the_same_per_page_at_the_end(sandbox):
    """Keyset paging (sandbox/atlassian/offsets.py): the last pages cost what the first ones do."""
    seed_atlassian(random.Random(5), 50_000)  # noqa: S311
    token = token_for(sandbox, sites=["acme"])["access_token"]
    session = http(sandbox)
    session.headers["Authorization"] = f"Bearer {token}"
    base = f"{sandbox.atlassian_api_url}/ex/jira/{site(sandbox, 'acme')['id']}/rest/api/3"
    timings, start = [], 0
    while True:
        began = time.perf_counter()
        page = session.get(f"{base}/users/search", params={"startAt": start, "maxResults": 1000}, timeout=60).json()
        timings.append((time.perf_counter() - began, len(page)))
        if not page:
            break
        start += len(page)
    full = [t for t, n in timings if n]
    first, last = sorted(full[:5])[2], sorted(full[-5:])[2]  # medians of five
    size = timings[0][1]
    print(f"\n50k accounts: {len(full)} pages of {size}; first pages {first * 1000:.0f} ms, last {last * 1000:.0f} ms")
    assert start >= 50_000 and last < 2 * first
