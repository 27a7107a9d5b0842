"""Confluence and Jira in the sandbox through the unmodified atlassian-python-api: the API
gateway with OAuth 2.0 tokens, the site URL with email + API token, scope checks, paging."""

import pytest
from atlassian import ConfluenceV2, Jira

from sandbox import defaults
from tests.sandbox.test_atlassian_helpers import http, site, token_for


def _oauth2(token):
    return {"client_id": defaults.ATLASSIAN_CLIENT_ID, "token": {"access_token": token, "token_type": "Bearer"}}


def _confluence(sandbox, cloud_id, token):
    url = f"{sandbox.atlassian_api_url}/ex/confluence/{cloud_id}/wiki"
    return ConfluenceV2(url=url, oauth2=_oauth2(token), verify_ssl=sandbox.ca_bundle)


def _jira(sandbox, cloud_id, token):
    url = f"{sandbox.atlassian_api_url}/ex/jira/{cloud_id}"
    # verify_ssl takes a CA bundle path too: the client passes it to every request as `verify`.
    return Jira(url=url, oauth2=_oauth2(token), cloud=True, api_version="3", verify_ssl=sandbox.ca_bundle)


@pytest.fixture
def acme_token(sandbox):
    return token_for(sandbox, sites=["acme", "acme-support"])["access_token"]


def test_confluence_v2_spaces_and_pages_over_several_pages(sandbox, acme_token):
    cloud_id = site(sandbox, "acme")["id"]
    confluence = _confluence(sandbox, cloud_id, acme_token)
    spaces = list(confluence._get_paged("api/v2/spaces", params={"limit": 7}))
    assert len(spaces) == 30 and len({s["id"] for s in spaces}) == 30
    eng = next(s for s in spaces if s["key"] == "ENG")
    pages = list(confluence._get_paged(f"api/v2/spaces/{eng['id']}/pages", params={"limit": 10}))
    assert len(pages) == 57 and len({p["id"] for p in pages}) == 57  # 60 minus 3 blog posts
    page = confluence.get_page_by_id(pages[0]["id"], body_format="storage")
    assert page["body"]["storage"]["representation"] == "storage" and "<p>" in page["body"]["storage"]["value"]


def test_v2_links_and_link_header(sandbox, acme_token):
    cloud_id = site(sandbox, "acme")["id"]
    response = http(sandbox).get(
        f"{sandbox.atlassian_api_url}/ex/confluence/{cloud_id}/wiki/api/v2/spaces?limit=5",
        headers={"Authorization": f"Bearer {acme_token}"},
    )
    body = response.json()
    assert body["_links"]["next"].startswith("/wiki/api/v2/spaces?") and "cursor=" in body["_links"]["next"]
    assert body["_links"]["base"] == f"{sandbox.origin}/sites/acme/wiki"
    assert response.headers["Link"].startswith(f'<{body["_links"]["next"]}>; rel="next"')


def test_space_permissions_restrictions_and_cql(sandbox, acme_token):
    cloud_id = site(sandbox, "acme")["id"]
    session = http(sandbox)
    session.headers["Authorization"] = f"Bearer {acme_token}"
    base = f"{sandbox.atlassian_api_url}/ex/confluence/{cloud_id}/wiki"
    spaces = session.get(f"{base}/api/v2/spaces", params={"keys": "PUB,HR"}).json()["results"]
    pub = next(s for s in spaces if s["key"] == "PUB")
    perms = session.get(f"{base}/api/v2/spaces/{pub['id']}/permissions").json()["results"]
    # v2 names users, groups and roles only: anonymous access shows in v1's space permissions.
    assert {p["principal"]["type"] for p in perms} <= {"user", "group", "role"}
    v1 = session.get(f"{base}/rest/api/space/PUB", params={"expand": "permissions"}).json()
    assert any(p["anonymousAccess"] and p["operation"]["operation"] == "read" for p in v1["permissions"])
    assert all(set(p["operation"]) == {"key", "targetType"} for p in perms)
    found = session.get(f"{base}/rest/api/search", params={"cql": 'type = page AND space = "HR"', "limit": 5}).json()
    assert found["totalSize"] == 12 and found["_links"]["next"].startswith("/rest/api/search?")
    assert found["_links"]["base"].endswith("/sites/acme/wiki")
    restricted = session.get(f"{base}/rest/api/content/{found['results'][0]['content']['id']}/restriction/byOperation")
    read = restricted.json()["read"]["restrictions"]
    assert read["group"]["results"][0]["name"] == "hr" and read["user"]["size"] == 1
    recent = session.get(
        f"{base}/rest/api/search",
        params={"cql": '(space = ENG OR space = HR) AND lastModified >= "2018/12/31" AND title ~ "page"'},
    ).json()
    assert recent["totalSize"] > 0 and all(r["content"]["type"] == "page" for r in recent["results"])
    bad = session.get(f"{base}/rest/api/search", params={"cql": "nonsense ~~ ("})
    assert bad.status_code == 400


def test_jira_user_search_hides_private_emails_and_projects_include_service_desks(sandbox, acme_token):
    support = site(sandbox, "acme-support")["id"]
    jira = _jira(sandbox, support, acme_token)
    users = jira.user_find_by_user_string(query="Hal")
    assert users and users[0]["displayName"] == "Hal Hidden" and "emailAddress" not in users[0]
    bea = jira.user_find_by_user_string(query="Bea")
    assert bea[0]["emailAddress"] == "Bea.Member@Acme.example"
    everyone = jira.users_get_all(start=0, limit=3)
    assert isinstance(everyone, list) and len(everyone) == 3
    projects = jira.projects()
    assert {"service_desk", "software"} <= {p["projectTypeKey"] for p in projects}
    assert jira.myself()["emailAddress"] == sandbox.atlassian["admin"]["email"]


def test_missing_scope_is_401_scope_does_not_match(sandbox):
    token = token_for(sandbox, sites=["acme"], scopes=["read:jira-user", "read:me"])["access_token"]
    cloud_id = site(sandbox, "acme")["id"]
    response = http(sandbox).get(
        f"{sandbox.atlassian_api_url}/ex/confluence/{cloud_id}/wiki/api/v2/spaces",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Unauthorized; scope does not match"}
    other = site(sandbox, "globex")["id"]  # not covered by the grant
    uncovered = http(sandbox).get(
        f"{sandbox.atlassian_api_url}/ex/jira/{other}/rest/api/3/myself", headers={"Authorization": f"Bearer {token}"}
    )
    assert uncovered.status_code == 401


def test_basic_auth_at_the_site_url(sandbox):
    user = next(u for u in sandbox.atlassian["users"] if u["email"].startswith("gil"))
    url = f"{sandbox.origin}/sites/globex"
    confluence = ConfluenceV2(
        url=f"{url}/wiki", username=user["email"].upper(), password=user["api_token"], verify_ssl=sandbox.ca_bundle
    )
    assert [s["key"] for s in confluence._get_paged("api/v2/spaces")] == ["GX", "OPS"]
    jira = Jira(
        url=url,
        username=user["email"],
        password=user["api_token"],
        cloud=True,
        api_version="3",
        verify_ssl=sandbox.ca_bundle,
    )
    assert jira.myself()["accountId"] == user["account_id"]
    wrong = http(sandbox).get(f"{url}/rest/api/3/myself", auth=(user["email"], "nope"))
    assert wrong.status_code == 401
    elsewhere = http(sandbox).get(
        f"{sandbox.origin}/sites/acme/rest/api/3/myself", auth=(user["email"], user["api_token"])
    )
    assert elsewhere.status_code == 401  # not a member of acme
    assert http(sandbox).get(f"{url}/_edge/tenant_info").json() == {"cloudId": site(sandbox, "globex")["id"]}


def test_rate_limit_fault_gives_429_with_headers(sandbox, acme_token):
    from sandbox import faults

    faults.set_fault("rate_limit", "site:acme", limit=1, window=60)
    cloud_id = site(sandbox, "acme")["id"]
    session = http(sandbox)
    url = f"{sandbox.atlassian_api_url}/ex/jira/{cloud_id}/rest/api/3/myself"
    assert session.get(url, headers={"Authorization": f"Bearer {acme_token}"}).status_code == 200
    limited = session.get(url, headers={"Authorization": f"Bearer {acme_token}"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["X-RateLimit-Remaining"] == "0" and limited.json()["code"] == 429
