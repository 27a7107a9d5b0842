"""Jira's user lists through atlassian-python-api and plain requests: a page can be shorter than
maxResults (each endpoint has its own limit), only an empty page ends the list, and paging by
startAt gives what OFFSET would, also when the sandbox answers it from its keyset hints."""

import uuid

import pytest
from atlassian import Jira

from sandbox import defaults
from sandbox.atlassian import jira_views
from sandbox.atlassian.models import Account, Site
from tests.sandbox.test_atlassian_helpers import http, site, token_for


@pytest.fixture
def acme(sandbox):
    token = token_for(sandbox, sites=["acme"])["access_token"]
    cloud_id = site(sandbox, "acme")["id"]
    oauth2 = {"client_id": defaults.ATLASSIAN_CLIENT_ID, "token": {"access_token": token, "token_type": "Bearer"}}
    url = f"{sandbox.atlassian_api_url}/ex/jira/{cloud_id}"
    jira = Jira(url=url, oauth2=oauth2, cloud=True, api_version="3", verify_ssl=sandbox.ca_bundle)
    session = http(sandbox)
    session.headers["Authorization"] = f"Bearer {token}"
    return jira, session, f"{url}/rest/api/3"


def _members():
    return list(Account.objects.filter(sites__name="acme").order_by("account_id").values_list("account_id", flat=True))


def _page_all(session, base, size):
    seen, start, pages = [], 0, []
    while True:
        page = session.get(f"{base}/users/search", params={"startAt": start, "maxResults": size}, timeout=10).json()
        pages.append(len(page))
        if not page:
            return seen, pages
        seen += [u["accountId"] for u in page]
        start += len(page)


def test_a_page_is_never_larger_than_the_endpoints_limit(sandbox, acme):
    jira, _, _ = acme
    everyone = jira.users_get_all(start=0, limit=1000)
    assert 0 < len(everyone) <= jira_views.USER_PAGE_LIMIT
    sandbox.set_fault("page_limit", "site:acme", max=4)
    assert len(jira.users_get_all(start=0, limit=50)) == 4
    assert len(jira.user_find_by_user_string(query="a", start=0, limit=50)) <= 4


def test_paging_until_an_empty_page_reads_every_member_once_in_order(sandbox, acme):
    _, session, base = acme
    sandbox.set_fault("page_limit", "site:acme", max=4)
    seen, pages = _page_all(session, base, 50)
    assert seen == _members() and len(seen) > 8
    assert pages[-1] == 0 and set(pages[:-2]) == {4}  # short pages all along, then the empty one


def test_a_jump_ahead_gives_the_same_rows_as_sequential_paging(sandbox, acme):
    _, session, base = acme
    sandbox.set_fault("page_limit", "site:acme", max=3)
    sequential, _ = _page_all(session, base, 3)
    members = _members()
    jumped = session.get(f"{base}/users/search", params={"startAt": 5, "maxResults": 3}, timeout=10).json()
    assert [u["accountId"] for u in jumped] == members[5:8] == sequential[5:8]


def test_a_new_member_between_two_passes_is_seen_in_the_second(sandbox, acme):
    _, session, base = acme
    sandbox.set_fault("page_limit", "site:acme", max=3)
    first, _ = _page_all(session, base, 3)
    # Sorted first among the members: every remembered offset shifts by one.
    newcomer = Account.objects.create(
        account_id="000000:" + uuid.uuid4().hex, email="new@acme.example", display_name="New Comer"
    )
    newcomer.sites.add(Site.objects.get(name="acme"))
    second, _ = _page_all(session, base, 3)
    assert second == _members() == [newcomer.account_id, *first]
