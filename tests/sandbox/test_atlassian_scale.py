"""100,000 Atlassian accounts: seeded quickly with bulk inserts, searchable and pageable.
Opt in: SANDBOX_SCALE_TEST=1."""

import os
import random
import time

import pytest

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
    assert len(last) == 1000 and found and time.monotonic() - started < 10
