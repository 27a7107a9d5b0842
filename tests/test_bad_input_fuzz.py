"""Bounded, seeded garbage at every OAuth callback, the consent-link pages and the site,
tenant and API-token forms, on PostgreSQL (which refuses NUL bytes and over-long values
that SQLite would store): never a 5xx, and every refused callback leaves an audit row.

Hypothesis generates the inputs, derandomized (the same examples on every run) and with no
example database, so a failure here is reproducible and the run stays short.
"""

from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connections.models import Connection
from tenants.models import AuditEvent

FUZZ = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- what an attacker (or a mangled redirect) can send -----------------------------------

_controls = st.text(alphabet=st.characters(max_codepoint=0x1F) | st.sampled_from("\x7f\x85\x9f"), max_size=20)
_unicode = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=200)
_huge = st.builds(lambda char, n: char * n, st.sampled_from(["A", "\x00", "é", "%", "🙂", "a\x00"]),
                  st.integers(300, 12_000))
garbage = st.one_of(
    _unicode,
    _controls,
    _huge,
    st.builds(lambda a, b: a + "\x00" + b, _unicode, _unicode),
    st.sampled_from(["", " ", "null", "None", "[]", "{}", "' OR 1=1 --", "<script>x</script>", "../../etc"]),
)
# Percent-escapes as they arrive on the wire, valid or not as UTF-8.
raw_escape = st.sampled_from(
    ["%00", "%ff", "%fe%ff", "%c3%28", "%e2%82", "%f0%28%8c%bc", "%", "%z", "%%", "%ed%a0%80", "%c0%af", "%0a%0d"]
)
raw_value = st.lists(st.one_of(raw_escape, st.sampled_from(["a", "AADSTS65004", ":", "+", "="])), max_size=12).map(
    "".join
)
PARAM_NAMES = ["state", "code", "error", "error_description", "tenant", "admin_consent", "session_state",
               "client_info", "scope", "error_uri"]


@st.composite
def query_strings(draw, names=PARAM_NAMES, min_size=0):
    """A callback's query: the names the providers use with garbage values, some raw
    escapes, and a few names of its own."""
    known = draw(st.dictionaries(st.sampled_from(names), garbage, min_size=min_size, max_size=5))
    unknown = draw(st.lists(st.tuples(garbage.map(lambda s: s[:40]), garbage), max_size=2))
    query = urlencode([*known.items(), *unknown])
    raws = draw(st.lists(st.tuples(st.sampled_from(names), raw_value), max_size=2))
    extra = "&".join(f"{n}={v}" for n, v in raws)
    return "&".join(q for q in (query, extra) if q)


# Site addresses that can never be a working one: odd ports, brackets, colons, schemes.
_hosts = st.sampled_from(["acme.atlassian.net", "[::1", "[::1]", "::1]", "[", "acme", "acme.atlassian.net]", ""])
_bad_ports = st.one_of(
    st.text(alphabet="abc:-+ %[]", min_size=1, max_size=6),
    st.integers(65_536, 10**12).map(str),
    st.integers(-99_999, -1).map(str),
)
site_addresses = st.one_of(
    st.builds(lambda s, h, p: f"{s}{h}:{p}", st.sampled_from(["", "https://", "http://", "ftp://", "https:///"]),
              _hosts, _bad_ports),
    st.builds(lambda h, rest: f"https://{h}{rest}", st.sampled_from(["[::1", "[", "[fe80::1%eth0", "[v1.x"]),
              garbage.map(lambda s: s[:50])),
    garbage,
    st.builds(lambda t: f"{t}: the jira one", garbage.map(lambda s: s[:30])),
)


# --- helpers ------------------------------------------------------------------------------


def _rejections():
    return AuditEvent.objects.filter(action__in=["consent.callback_rejected", "site.callback_rejected"]).count()


def _get(client, path, query):
    with transaction.atomic():  # a database error stays in this example, so the next one can run
        before = _rejections()
        response = client.get(f"{path}?{query}" if query else path)
        assert response.status_code < 500, (path, query, response.status_code)
        if response.status_code == 403:
            assert _rejections() == before + 1, f"a refused callback left no audit row: {path}?{query}"
        return response


@pytest.fixture
def fuzz_world(sandbox, settings, client, acme):
    """Acme's admin signed in; Microsoft and Atlassian are the sandbox, so a flow can be started
    for real and a garbage code is answered by it (never a network error)."""
    from sandbox.atlassian.apps_registry import register_redirect_uri

    settings.SITE_URL = "http://testserver"
    settings.CONSENT_LINK_RATE_LIMIT = 10_000
    sandbox.register_portal(settings.SITE_URL)
    register_redirect_uri(settings.ATLASSIAN_CLIENT_ID, settings.SITE_URL + "/connect/atlassian/callback")
    Connection.objects.filter(pk=acme.connection.pk).update(features=["user_mapping"])
    client.force_login(acme.admin)
    return acme


def _started_state(client, acme, provider):
    """The state of a flow this browser really started, so garbage reaches the deeper paths."""
    if provider == "microsoft":
        start = client.post(reverse("connections:microsoft:give_permission", args=[acme.connection.pk]))
    else:
        start = client.post(reverse("connections:atlassian:connect"), {"features": ["user_mapping"]})
    assert start.status_code == 302, start.content[:500]
    return parse_qs(urlsplit(start.url).query)["state"][0]


CALLBACKS = {
    "microsoft": ["/connect/microsoft/callback", "/connect/microsoft/adminconsent/callback"],
    "atlassian": ["/connect/atlassian/callback"],
}


# --- the fuzz tests -------------------------------------------------------------------------


@FUZZ
@given(query=query_strings(), which=st.integers(0, 2))
def test_callbacks_nobody_started_are_refused_and_audited(fuzz_world, client, query, which):
    _get(client, [*CALLBACKS["microsoft"], *CALLBACKS["atlassian"]][which], query)


# Everything but `state`: that is the one this browser really started.
AFTER_STATE = [n for n in PARAM_NAMES if n != "state"]


@FUZZ
@given(query=query_strings(names=AFTER_STATE, min_size=1), provider=st.sampled_from(["microsoft", "atlassian"]))
def test_callbacks_of_a_flow_this_browser_started_never_fail(fuzz_world, client, query, provider):
    state = _started_state(client, fuzz_world, provider)
    _get(client, CALLBACKS[provider][0], urlencode({"state": state}) + "&" + query)


@FUZZ
@given(query=query_strings(), which=st.integers(0, 2))
def test_callbacks_from_a_browser_with_no_session_never_fail(fuzz_world, query, which):
    from django.test import Client

    path = [*CALLBACKS["microsoft"], *CALLBACKS["atlassian"]][which]
    response = _get(Client(), path, query)
    if path.startswith("/connect/atlassian"):
        # Sent to sign in first (nothing read); 400 when the address is too long to send back in `next`.
        assert response.status_code in (302, 400)


@FUZZ
@given(token=st.one_of(garbage, raw_value), start=st.booleans(), raw=st.booleans())
def test_consent_link_pages_never_fail(fuzz_world, client, token, start, raw):
    from django.test import Client

    stranger = Client()
    segment = token if raw else quote(token, safe="")
    path = f"/consent/{segment}/" + ("start/" if start else "")
    with transaction.atomic():
        response = stranger.post(path) if start else stranger.get(path)
    assert response.status_code < 500, (path, response.status_code)
    assert response.status_code in (404, 405, 410, 400), (path, response.status_code)


@FUZZ
@given(url=site_addresses, name=garbage, products=st.lists(st.sampled_from(["jira", "confluence", "x\x00"]),
                                                             max_size=3))
def test_the_site_form_never_fails(fuzz_world, client, url, name, products):
    with transaction.atomic():
        response = client.post(reverse("tenants:site_new"), {"url": url, "name": name, "products": products})
    assert response.status_code == 200, (url, response.status_code)  # a form error, the page again
    assert response.context["form"].errors


@FUZZ
@given(tenant_id=st.one_of(garbage, st.uuids().map(lambda u: f"{{{u}}}\x00")), display_name=garbage,
       cloud=st.one_of(st.sampled_from(["public", "usgov"]), garbage), domains=garbage)
def test_the_tenant_form_never_fails(fuzz_world, client, tenant_id, display_name, cloud, domains):
    with transaction.atomic():
        response = client.post(
            reverse("tenants:tenant_new"),
            {"tenant_id": tenant_id, "display_name": display_name, "cloud": cloud, "domains": domains},
        )
    assert response.status_code in (200, 302), (tenant_id, response.status_code)


@FUZZ
@given(url=site_addresses, email=st.one_of(garbage, st.emails()), token=garbage)
def test_the_api_token_form_never_fails(fuzz_world, client, url, email, token):
    with transaction.atomic():
        response = client.post(
            reverse("connections:atlassian:api_token_new"), {"url": url, "email": email, "api_token": token}
        )
    assert response.status_code == 200, (url, response.status_code)
    assert response.context["form"].errors
