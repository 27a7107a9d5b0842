"""The sandbox's servers: TLS with the local CA, the browser port, routing, the request log."""

import ssl
import urllib.request

import pytest
import requests

from sandbox import requestlog


def test_tls_origin_trusted_with_the_ca_bundle_only(sandbox):
    tenant = sandbox.tenants["contoso"].id
    url = f"{sandbox.origin}/{tenant}/v2.0/.well-known/openid-configuration"
    assert requests.get(url, verify=sandbox.ca_bundle, timeout=10).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, timeout=10)  # the system store does not know the local CA


def test_server_certificate_names_loopback(sandbox):
    context = ssl.create_default_context(cafile=sandbox.ca_bundle)
    host_port = sandbox.origin.removeprefix("https://")
    with urllib.request.urlopen(
        f"https://localhost:{host_port.split(':')[1]}/common/discovery/v2.0/keys", context=context, timeout=10
    ) as response:
        assert response.status == 200


def test_browser_port_is_plain_http_and_serves_the_same_routes(sandbox):
    tenant = sandbox.tenants["contoso"].id
    response = requests.get(f"{sandbox.browser_origin}/{tenant}/v2.0/.well-known/openid-configuration", timeout=10)
    assert response.status_code == 200
    assert sandbox.browser_origin.startswith("http://127.0.0.1:")


def test_every_request_is_logged_with_client_id_and_status(sandbox):
    tenant = sandbox.tenants["contoso"].id
    http = sandbox.http()
    http.get(f"{sandbox.origin}/{tenant}/v2.0/.well-known/openid-configuration", timeout=10)
    http.post(
        f"{sandbox.origin}/{tenant}/oauth2/v2.0/token",
        data={
            "client_id": sandbox.client_id,
            "client_secret": "wrong",
            "grant_type": "client_credentials",
            "scope": "https://graph.microsoft.com/.default",
        },
        timeout=10,
    )
    rows = requestlog.entries(path_contains="/oauth2/v2.0/token")
    assert [(r.method, r.status, r.client_id) for r in rows] == [("POST", 401, sandbox.client_id)]
    assert requestlog.entries(path_contains="openid-configuration")[0].port == "tls"


def test_unknown_path_is_404_not_the_portal(sandbox):
    response = sandbox.http().get(f"{sandbox.origin}/accounts/login/", timeout=10)
    assert response.status_code in (400, 404)


def test_request_log_is_bounded(sandbox, monkeypatch):
    from sandbox.models import RequestLog

    monkeypatch.setattr(requestlog, "KEEP", 3)
    monkeypatch.setattr(requestlog, "_PRUNE_EVERY", 1)
    http = sandbox.http()
    for _ in range(6):
        http.get(f"{sandbox.origin}/common/discovery/v2.0/keys", timeout=10)
    assert RequestLog.objects.count() <= 3
