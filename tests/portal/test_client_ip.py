"""The client's address: X-Forwarded-For believed only from TRUSTED_PROXIES, never a 500,
and the consent-link rate limit counting per client and per link."""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from connections.microsoft import consent
from tenants.models import AuditEvent


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


def _register_site(client, name, **headers):
    return client.post(reverse("tenants:site_new"), {"url": f"https://{name}.atlassian.net", "products": ["jira"]},
                       **headers)


def _audited_ip():
    return AuditEvent.objects.get(action="site.registered").ip_address


def test_a_forged_forwarded_for_from_an_untrusted_peer_does_not_reach_the_audit_trail(admin_client):
    response = _register_site(admin_client, "forged", REMOTE_ADDR="203.0.113.9",
                              HTTP_X_FORWARDED_FOR="198.51.100.66")
    assert response.status_code == 302
    assert _audited_ip() == "203.0.113.9"


@pytest.mark.parametrize("garbage", ["not-an-ip", "'; DROP TABLE x; --", "1.2.3.4.5, ", "::zz", "x" * 5000])
def test_a_garbage_forwarded_for_gives_no_500_and_the_peer_is_recorded(admin_client, settings, garbage):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    response = _register_site(admin_client, "garbage", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=garbage)
    assert response.status_code == 302
    assert _audited_ip() == "10.0.0.2"


def test_behind_a_trusted_proxy_the_real_client_is_recorded_not_what_it_wrote(admin_client, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8::/32"]
    # The client wrote 198.51.100.66 itself; the outer proxy appended the address it saw
    # (203.0.113.50), the inner one appended the outer one's (10.0.0.7).
    _register_site(admin_client, "proxied", REMOTE_ADDR="10.0.0.2",
                   HTTP_X_FORWARDED_FOR="198.51.100.66, 203.0.113.50, 10.0.0.7")
    assert _audited_ip() == "203.0.113.50"


def test_behind_a_trusted_ipv6_proxy_an_ipv6_client_is_recorded(admin_client, settings):
    settings.TRUSTED_PROXIES = ["2001:db8::/32"]
    _register_site(admin_client, "six", REMOTE_ADDR="2001:db8::1",
                   HTTP_X_FORWARDED_FOR="2001:db8:ffff::9, 2606:4700::1111")
    assert _audited_ip() == "2606:4700::1111"


def test_a_bad_trusted_proxies_setting_stops_the_start_with_its_name():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={"DJANGO_SETTINGS_MODULE": "portal.settings_test", "TRUSTED_PROXIES": "10.0.0.0/8,proxy.local",
             "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "TRUSTED_PROXIES" in result.stderr and "proxy.local" in result.stderr


# --- consent-link rate limit ------------------------------------------------------------------


def _link(acme):
    acme.connection.features = ["user_mapping"]
    acme.connection.save(update_fields=["features"])
    _request, raw = consent.consent_request_create(connection=acme.connection, acting_user=acme.admin)
    return reverse("connections:microsoft:consent_link", args=[raw])


def _via_proxy(client_address):
    return Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=client_address)


def test_a_guesser_behind_the_same_proxy_does_not_lock_out_an_admin_with_a_real_link(acme, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    settings.CONSENT_LINK_RATE_LIMIT = 5
    path = _link(acme)
    guesser = _via_proxy("198.51.100.7")
    statuses = [guesser.get(f"/consent/guess-{n}/").status_code for n in range(7)]
    assert statuses == [404] * 5 + [429, 429]

    admin = _via_proxy("203.0.113.20")
    page = admin.get(path)
    assert page.status_code == 200 and acme.admin.email in page.content.decode()
    # The guesser stays locked out, on a real link too.
    assert guesser.get(path).status_code == 429


def test_one_link_has_a_budget_of_its_own_that_one_client_cannot_use_up(acme, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    settings.CONSENT_LINK_RATE_LIMIT = 3
    settings.CONSENT_LINK_RATE_LIMIT_PER_LINK = 5
    path = _link(acme)
    hammering = _via_proxy("198.51.100.7")
    assert [hammering.get(path).status_code for _ in range(5)] == [200, 200, 200, 429, 429]
    # Its refused requests did not count against the link: two more clients still get in...
    assert [_via_proxy(f"203.0.113.{n}").get(path).status_code for n in (1, 2)] == [200, 200]
    # ...and then the link's own budget is spent, whoever asks.
    assert _via_proxy("203.0.113.3").get(path).status_code == 429


def test_sign_in_rate_limits_count_the_same_client_as_the_audit_trail(settings, rf):
    from allauth.account.adapter import get_adapter

    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    request = rf.get("/accounts/login/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.66, 203.0.113.50")
    assert get_adapter(request).get_client_ip(request) == "203.0.113.50"
    request = rf.get("/accounts/login/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.66")
    assert get_adapter(request).get_client_ip(request) == "203.0.113.9"
