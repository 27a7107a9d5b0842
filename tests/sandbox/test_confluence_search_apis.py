"""The Confluence APIs a search crawler reads, in the sandbox over HTTPS: blog posts and their
scope, ancestors, restrictions per operation, groups and members past the 200-a-page cap, user
search with hidden emails, cursor-only CQL search in the caller's time zone, trashed content."""

import pytest

from tests.sandbox.test_atlassian_helpers import SCOPES, http, site, token_for

SEARCH_SCOPES = [*SCOPES, "read:blogpost:confluence", "read:group:confluence", "read:user:confluence"]


@pytest.fixture
def wiki(sandbox):
    token = token_for(sandbox, sites=["acme"], scopes=SEARCH_SCOPES)["access_token"]
    session = http(sandbox)
    session.headers["Authorization"] = f"Bearer {token}"
    return session, f"{sandbox.atlassian_api_url}/ex/confluence/{site(sandbox, 'acme')['id']}/wiki"


def _eng(session, base):
    return session.get(f"{base}/api/v2/spaces", params={"keys": "ENG"}).json()["results"][0]


def test_blog_posts_need_their_own_scope(sandbox, wiki):
    session, base = wiki
    eng = _eng(session, base)
    posts = session.get(f"{base}/api/v2/spaces/{eng['id']}/blogposts", params={"limit": 2, "body-format": "storage"})
    body = posts.json()
    assert len(body["results"]) == 2 and "cursor=" in body["_links"]["next"]
    first = body["results"][0]
    assert first["_links"]["webui"].startswith("/spaces/ENG/blog/") and "parentId" not in first
    gateway = f"{sandbox.atlassian_api_url}/ex/confluence/{site(sandbox, 'acme')['id']}"
    rest = session.get(gateway + body["_links"]["next"])
    assert len(rest.json()["results"]) == 1 and "next" not in rest.json()["_links"]
    without = token_for(sandbox, sites=["acme"], scopes=SCOPES)["access_token"]
    refused = http(sandbox).get(f"{base}/api/v2/blogposts", headers={"Authorization": f"Bearer {without}"})
    assert refused.status_code == 401 and refused.json()["message"] == "Unauthorized; scope does not match"


def test_ancestors_top_first_and_restrictions_by_operation(sandbox, wiki):
    session, base = wiki
    eng = _eng(session, base)
    pages = session.get(f"{base}/api/v2/spaces/{eng['id']}/pages", params={"limit": 250}).json()["results"]
    by_title = {p["title"]: p for p in pages}
    grandchild = by_title["Engineering page 41"]  # under page 14, under 5, under 2, under 1
    ancestors = session.get(f"{base}/api/v2/pages/{grandchild['id']}/ancestors").json()["results"]
    assert [a["id"] for a in ancestors] == [by_title[f"Engineering page {n}"]["id"] for n in (1, 2, 5, 14)]
    assert grandchild["parentId"] == by_title["Engineering page 14"]["id"]
    nearest = session.get(f"{base}/api/v2/pages/{grandchild['id']}/ancestors", params={"limit": 1}).json()
    assert [a["id"] for a in nearest["results"]] == [by_title["Engineering page 14"]["id"]]
    parent = session.get(f"{base}/rest/api/content/{by_title['Engineering page 5']['id']}/restriction/byOperation/read")
    groups = parent.json()["restrictions"]["group"]["results"]
    assert [g["name"] for g in groups] == ["engineering-leads"] and len(groups[0]["id"]) == 36
    child = session.get(f"{base}/rest/api/content/{by_title['Engineering page 15']['id']}/restriction/byOperation/read")
    assert child.json()["restrictions"]["user"]["results"] == [] and child.json()["restrictions"]["group"]["size"] == 0
    bad = session.get(f"{base}/rest/api/content/{grandchild['id']}/restriction/byOperation/purge")
    assert bad.status_code == 400


def test_group_members_are_capped_at_200_a_page(sandbox, wiki):
    from sandbox.atlassian.models import Account, Group, Site

    session, base = wiki
    acme = Site.objects.get(name="acme")
    big = Group.objects.create(site=acme, group_id="0f0f0f0f-0000-4000-8000-000000000250", name="all-hands")
    made = Account.objects.bulk_create(
        [Account(account_id=f"557058:bulk-{n:04d}", email=f"bulk{n}@acme.example", display_name=f"Bulk {n}")
         for n in range(250)]
    )
    big.members.add(*made)
    listed = session.get(f"{base}/rest/api/group", params={"limit": 2}).json()
    assert len(listed["results"]) == 2 and listed["_links"]["next"].startswith("/rest/api/group?")
    first = session.get(f"{base}/rest/api/group/{big.group_id}/membersByGroupId", params={"limit": 500}).json()
    assert first["limit"] == 200 and first["size"] == 200 and "start=200" in first["_links"]["next"]
    second = session.get(f"{base}/rest/api/group/{big.group_id}/membersByGroupId",
                         params={"start": 200, "limit": 200}).json()
    assert second["size"] == 50 and "next" not in second["_links"]
    ids = {u["accountId"] for u in first["results"]} | {u["accountId"] for u in second["results"]}
    assert len(ids) == 250


def test_user_search_and_bulk_lookup_hide_private_emails(sandbox, wiki):
    session, base = wiki
    users = session.get(f"{base}/rest/api/search/user", params={"cql": "type=user", "limit": 200}).json()["results"]
    hal = next(u["user"] for u in users if u["user"]["displayName"] == "Hal Hidden")
    assert hal["email"] == ""
    ada = next(u["user"] for u in users if u["user"]["displayName"] == "Ada Admin")
    bulk = session.post(f"{base}/api/v2/users-bulk", json={"accountIds": [hal["accountId"], ada["accountId"]]})
    emails = {u["displayName"]: u["email"] for u in bulk.json()["results"]}
    assert emails == {"Hal Hidden": "", "Ada Admin": "ada.admin@acme.example"}


def test_cql_search_is_cursor_only_in_the_callers_time_zone_and_skips_trashed(sandbox, wiki):
    import datetime as dt

    from sandbox.atlassian.models import Page

    session, base = wiki
    found = session.get(f"{base}/rest/api/search", params={"cql": "space = ENG", "limit": 10}).json()
    assert found["totalSize"] == 60 and "cursor=" in found["_links"]["next"]
    ignored = session.get(f"{base}/rest/api/search", params={"cql": "space = ENG", "limit": 10, "start": 10}).json()
    assert [r["content"]["id"] for r in ignored["results"]] == [r["content"]["id"] for r in found["results"]]
    # Ada's profile is in Los Angeles: "2026/06/01 10:00" is 17:00 UTC for her.
    page = Page.objects.filter(space__key="ENG", type="page").order_by("page_id").first()
    Page.objects.filter(space__key="ENG").update(modified_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    Page.objects.filter(pk=page.pk).update(modified_at=dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC))
    cql = 'space = ENG AND lastmodified >= "2026/06/01 10:00"'
    assert session.get(f"{base}/rest/api/search", params={"cql": cql}).json()["totalSize"] == 0
    earlier = 'space = ENG AND lastmodified >= "2026/06/01 04:00"'
    assert session.get(f"{base}/rest/api/search", params={"cql": earlier}).json()["totalSize"] == 1
    Page.objects.filter(pk=page.pk).update(status="trashed")
    assert session.get(f"{base}/rest/api/search", params={"cql": earlier}).json()["totalSize"] == 0
    trashed = session.get(f"{base}/api/v2/pages", params={"status": "trashed"}).json()["results"]
    assert [p["id"] for p in trashed] == [str(page.page_id)] and trashed[0]["status"] == "trashed"
    bad = session.get(f"{base}/rest/api/search", params={"cql": "space = = ENG"})
    assert bad.status_code == 400 and bad.json()["message"].startswith("Could not parse cql : space = = ENG")
