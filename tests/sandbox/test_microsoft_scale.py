"""100,000 users: seeded in under a minute, paged at 999 by keyset. Opt in: SANDBOX_SCALE_TEST=1."""

import os
import time

import pytest

from sandbox.seeding import seed

pytestmark = pytest.mark.skipif(not os.environ.get("SANDBOX_SCALE_TEST"), reason="set SANDBOX_SCALE_TEST=1")


def test_hundred_thousand_users(sandbox):
    started = time.monotonic()
    seed(seed=2, users=5, big_tenant_users=100_000, atlassian_size=5)
    seeded = time.monotonic() - started
    assert seeded < 60, seeded

    from sandbox.testing import tenant_infos

    sandbox.tenants = tenant_infos()
    sandbox.grant_admin_consent("northwind")
    token = sandbox.msal_app("northwind").acquire_token_for_client(["https://graph.microsoft.com/.default"])
    http = sandbox.http()
    http.headers["Authorization"] = f"Bearer {token['access_token']}"
    url, count, started = f"{sandbox.graph_url}/v1.0/users?$select=id,mail&$top=999", 0, time.monotonic()
    while url:
        body = http.get(url, timeout=30).json()
        count += len(body["value"])
        url = body.get("@odata.nextLink")
    paged = time.monotonic() - started
    print(f"seeded in {seeded:.1f}s, paged {count} users in {paged:.1f}s")
    assert count == 100_007 and paged < 60
