"""Pytest fixtures that serve the sandbox over HTTPS for tests (owned by the sandbox).

`sandbox` (function scope, transactional database): seeds a small deterministic dataset,
points the portal's settings at a server started once per session on ephemeral ports, and
yields a `sandbox.testing.Sandbox` (origin, browser_origin, ca_bundle, tenants, helpers).
"""

import pytest

SMALL_USERS = 5
SMALL_ATLASSIAN = 5


@pytest.fixture(scope="session")
def sandbox_server():
    """The sandbox's HTTPS + browser servers, once per test session (per xdist worker)."""
    from django.conf import settings

    if not settings.SANDBOX_ENABLED:
        pytest.skip("SANDBOX_ENABLED is off")
    from sandbox.server import start_in_thread

    handle = start_in_thread("127.0.0.1", 0, 0)
    yield handle
    handle.stop()


@pytest.fixture
def sandbox(transactional_db, settings, sandbox_server, monkeypatch):
    from sandbox import faults
    from sandbox.microsoft import atlassian_apps, directory
    from sandbox.seeding import seed
    from sandbox.testing import Sandbox, point_settings, tenant_infos

    seed(seed=1, users=SMALL_USERS, atlassian_size=SMALL_ATLASSIAN)
    faults.clear()
    directory.ensure_portal_app()
    # Atlassian's mobile apps reply to this server's page origin.
    atlassian_apps.ensure_apps(sandbox_server.browser_origin)
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a Session's `verify`, which is
    # how msal applies `verify=`: with them set, msal would not trust the sandbox's CA.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    point_settings(settings, sandbox_server.origin, sandbox_server.ca_bundle)
    yield Sandbox(
        origin=sandbox_server.origin,
        browser_origin=sandbox_server.browser_origin,
        ca_bundle=sandbox_server.ca_bundle,
        tenants=tenant_infos(),
    )
