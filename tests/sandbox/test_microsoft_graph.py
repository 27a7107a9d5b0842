"""Graph in the sandbox: paging, delta, $batch, throttling and permission checks."""

import time

import pytest
from django.conf import settings

GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]


@pytest.fixture
def graph(sandbox):
    """A requests session with an app-only token for Northwind (consented in the seed)."""
    token = sandbox.msal_app("northwind").acquire_token_for_client(GRAPH_DEFAULT)["access_token"]
    http = sandbox.http()
    http.headers["Authorization"] = f"Bearer {token}"
    http.base = sandbox.graph_url
    return http


def _all_pages(http, url):
    pages = []
    while url:
        body = http.get(url, timeout=10).json()
        pages.append(body)
        url = body.get("@odata.nextLink")
    return pages


def test_users_paged_with_select_and_absolute_next_links(sandbox, graph):
    pages = _all_pages(graph, f"{graph.base}/v1.0/users?$select=id,mail&$top=5")
    users = [u for page in pages for u in page["value"]]
    assert len(pages) == 3 and len(users) == 12  # 5 generated + 7 special (one special is deleted)
    assert len({u["id"] for u in users}) == 12
    assert all(set(u) == {"id", "mail"} for u in users)
    assert pages[0]["@odata.nextLink"].startswith(sandbox.graph_url + "/v1.0/users?")
    assert {None} <= {u["mail"] for u in users}  # a user without a mailbox


def test_users_top_limit_and_filter(sandbox, graph):
    response = graph.get(f"{graph.base}/v1.0/users?$top=1000", timeout=10)
    assert response.status_code == 400 and response.json()["error"]["code"] == "Request_UnsupportedQuery"
    domain = sandbox.tenants["northwind"].domain
    found = graph.get(f"{graph.base}/v1.0/users", params={"$filter": f"mail eq 'bob.case@{domain}'"}, timeout=10)
    assert [u["mail"] for u in found.json()["value"]] == [f"Bob.Case@{domain.upper()}"]
    by_upn = graph.get(
        f"{graph.base}/v1.0/users",
        params={"$filter": f"userPrincipalName eq 'alice@{domain}' or mail eq 'nobody@x'", "$select": "id"},
        timeout=10,
    )
    assert len(by_upn.json()["value"]) == 1
    bad = graph.get(f"{graph.base}/v1.0/users", params={"$filter": "startswith(displayName,'A')"}, timeout=10)
    assert bad.status_code == 400


def test_delta_reports_deletions_then_gives_a_new_delta_link(sandbox, graph):
    pages = _all_pages(graph, f"{graph.base}/v1.0/users/delta?$select=id,userPrincipalName&$top=4")
    assert "@odata.deltaLink" in pages[-1] and all("@odata.deltaLink" not in p for p in pages[:-1])
    assert len([u for p in pages for u in p["value"]]) == 12
    domain = sandbox.tenants["northwind"].domain
    deleted = sandbox.delete_user("northwind", f"alice@{domain}")
    purged = sandbox.delete_user("northwind", "c.alias@northwind.onmicrosoft.com", permanently=True)
    sandbox.update_user("northwind", f"bob.case@{domain}", display_name="Bob Renamed")

    changes = _all_pages(graph, pages[-1]["@odata.deltaLink"])
    items = [u for p in changes for u in p["value"]]
    assert {"id": str(deleted.pk), "@removed": {"reason": "changed"}} in items  # soft-deleted
    assert {"id": str(purged.pk), "@removed": {"reason": "deleted"}} in items  # permanently
    assert [u["userPrincipalName"] for u in items if "@removed" not in u] == [f"bob.case@{domain}"]
    quiet = graph.get(changes[-1]["@odata.deltaLink"], timeout=10).json()
    assert quiet["value"] == [] and "@odata.deltaLink" in quiet


def test_delta_token_latest_gives_no_users_and_a_delta_link_that_keeps_the_select(sandbox, graph):
    # "Sync from now": no users, a deltaLink from this moment; the round's $select is kept.
    now = graph.get(f"{graph.base}/v1.0/users/delta?$select=id,mail&$deltatoken=latest", timeout=10).json()
    assert now["value"] == [] and "@odata.nextLink" not in now
    assert graph.get(now["@odata.deltaLink"], timeout=10).json()["value"] == []  # nothing changed since
    domain = sandbox.tenants["northwind"].domain
    sandbox.update_user("northwind", f"bob.case@{domain}", display_name="Bob Renamed")
    changed = graph.get(now["@odata.deltaLink"], timeout=10).json()["value"]
    assert [set(u) for u in changed] == [{"id", "mail"}]
    bad = graph.get(f"{graph.base}/v1.0/users/delta?$select=nope&$deltatoken=latest", timeout=10)
    assert bad.status_code == 400


def test_a_page_limit_makes_the_user_list_pages_smaller_than_top(sandbox, graph):
    sandbox.set_fault("page_limit", "northwind", max=4)
    pages = _all_pages(graph, f"{graph.base}/v1.0/users?$select=id&$top=999")
    assert [len(p["value"]) for p in pages] == [4, 4, 4]
    sandbox.clear_faults()
    assert len(_all_pages(graph, f"{graph.base}/v1.0/users?$select=id&$top=999")) == 1


def test_expired_delta_token_is_400_sync_state_not_found(sandbox, graph):
    pages = _all_pages(graph, f"{graph.base}/v1.0/users/delta?$select=id")
    sandbox.set_fault("delta_expiry", "northwind", seconds=0)
    time.sleep(1.1)
    response = graph.get(pages[-1]["@odata.deltaLink"], timeout=10)
    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "syncStateNotFound"
    assert "must be synchronized again" in error["message"]


def test_missing_role_is_403_and_bad_token_401(sandbox, graph):
    sandbox.revoke("northwind", "User.Read.All")
    token = sandbox.msal_app("northwind").acquire_token_for_client(GRAPH_DEFAULT)["access_token"]
    response = graph.get(f"{graph.base}/v1.0/users", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 403
    body = response.json()["error"]
    # A directory endpoint: Microsoft's fixed sentence, no permission named.
    assert body["code"] == "Authorization_RequestDenied" and {"date", "request-id", "client-request-id"} <= set(
        body["innerError"]
    )
    assert body["message"] == "Insufficient privileges to complete the operation."
    unauthenticated = sandbox.http().get(f"{graph.base}/v1.0/users", timeout=10)
    assert unauthenticated.status_code == 401
    forged = graph.get(f"{graph.base}/v1.0/users", headers={"Authorization": f"Bearer {token[:-4]}AAAA"}, timeout=10)
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_batch_with_failed_dependency(sandbox, graph):
    body = {
        "requests": [
            {"id": "1", "method": "GET", "url": "/users/00000000-0000-0000-0000-000000000000"},
            {"id": "2", "method": "GET", "url": "/domains", "dependsOn": ["1"]},
            {"id": "3", "method": "GET", "url": "/users?$top=2&$select=id"},
        ]
    }
    response = graph.post(f"{graph.base}/v1.0/$batch", json=body, timeout=10)
    assert response.status_code == 200
    statuses = {r["id"]: r["status"] for r in response.json()["responses"]}
    assert statuses == {"1": 404, "2": 424, "3": 200}
    third = next(r for r in response.json()["responses"] if r["id"] == "3")
    assert len(third["body"]["value"]) == 2 and third["body"]["@odata.nextLink"].startswith(sandbox.graph_url)
    too_many = {"requests": [{"id": str(i), "method": "GET", "url": "/domains"} for i in range(21)]}
    assert graph.post(f"{graph.base}/v1.0/$batch", json=too_many, timeout=10).status_code == 400


def test_throttling_with_retry_after(sandbox, graph):
    sandbox.set_fault("rate_limit", "northwind", limit=2, window=30)
    statuses = [graph.get(f"{graph.base}/v1.0/domains", timeout=10) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert 1 <= int(statuses[-1].headers["Retry-After"]) <= 30
    assert statuses[-1].json()["error"]["code"] == "TooManyRequests"
    batch = graph.post(
        f"{graph.base}/v1.0/$batch", json={"requests": [{"id": "a", "method": "GET", "url": "/domains"}]}, timeout=10
    )
    assert batch.status_code == 200  # the outer status stays 200; the item is throttled on its own
    item = batch.json()["responses"][0]
    assert item["status"] == 429 and "Retry-After" in item["headers"]


def test_error_rate_fault(sandbox, graph):
    sandbox.set_fault("error_rate", "northwind", share=1.0, status=503)
    response = graph.get(f"{graph.base}/v1.0/organization", timeout=10)
    assert response.status_code == 503 and "Retry-After" in response.headers


def test_tenant_endpoints(sandbox, graph):
    domains = graph.get(f"{graph.base}/v1.0/domains", timeout=10).json()["value"]
    assert {d["id"] for d in domains} >= {"northwind.onmicrosoft.com", "northwind.example"}
    org = graph.get(f"{graph.base}/v1.0/organization", timeout=10).json()["value"][0]
    assert org["id"] == sandbox.tenants["northwind"].id
    sps = graph.get(
        f"{graph.base}/v1.0/servicePrincipals", params={"$filter": f"appId eq '{sandbox.client_id}'"}, timeout=10
    ).json()["value"]
    assert len(sps) == 1
    graph_sp = graph.get(
        f"{graph.base}/v1.0/servicePrincipals",
        params={"$filter": "appId eq '00000003-0000-0000-c000-000000000000'"},
        timeout=10,
    ).json()["value"][0]
    role_names = {r["id"]: r["value"] for r in graph_sp["appRoles"]}
    assignments = graph.get(
        f"{graph.base}/v1.0/servicePrincipals/{sps[0]['id']}/appRoleAssignments", timeout=10
    ).json()["value"]
    assert "User.Read.All" in {role_names[a["appRoleId"]] for a in assignments}
    grants = graph.get(
        f"{graph.base}/v1.0/oauth2PermissionGrants", params={"$filter": f"clientId eq '{sps[0]['id']}'"}, timeout=10
    ).json()["value"]
    assert grants[0]["consentType"] == "AllPrincipals" and "User.Read" in grants[0]["scope"].split()


def test_teams_channels_messages_and_chats_app_only(sandbox, graph):
    domain = sandbox.tenants["northwind"].domain
    alice = sandbox.user("northwind", f"alice@{domain}")
    teams = graph.get(f"{graph.base}/v1.0/users/{alice.pk}/joinedTeams", timeout=10).json()["value"]
    assert {t["displayName"] for t in teams} == {"Service Desk", "Engineering"}
    assert graph.get(f"{graph.base}/v1.0/me/joinedTeams", timeout=10).status_code == 400  # delegated only
    channels = graph.get(f"{graph.base}/v1.0/teams/{teams[0]['id']}/channels", timeout=10).json()["value"]
    assert channels and all(c["id"].endswith("@thread.tacv2") for c in channels)
    url = f"{graph.base}/v1.0/teams/{teams[0]['id']}/channels/{channels[0]['id']}/messages"
    assert graph.get(url + "?$top=51", timeout=10).status_code == 400
    pages = _all_pages(graph, url + "?$top=5")
    messages = [m for p in pages for m in p["value"]]
    assert len(messages) == 12 and len(pages) == 3
    assert {"id", "createdDateTime", "from", "body", "mentions"} <= set(messages[0])
    chat = graph.post(
        f"{graph.base}/v1.0/chats",
        json={
            "chatType": "oneOnOne",
            "members": [
                {
                    "@odata.type": "#microsoft.graph.aadUserConversationMember",
                    "roles": ["owner"],
                    "user@odata.bind": f"https://graph.microsoft.com/v1.0/users('{alice.pk}')",
                },
                {
                    "@odata.type": "#microsoft.graph.aadUserConversationMember",
                    "roles": ["owner"],
                    "user@odata.bind": f"https://graph.microsoft.com/v1.0/users('bob.case@{domain}')",
                },
            ],
        },
        timeout=10,
    )
    assert chat.status_code == 201 and chat.json()["id"].endswith("@thread.v2")


def test_delegated_me_and_joined_teams(sandbox):
    contoso = sandbox.tenants["contoso"]
    app = sandbox.msal_app("contoso")
    flow = app.initiate_auth_code_flow(
        ["User.Read", "Team.ReadBasic.All"], redirect_uri=settings.SITE_URL + "/connect/microsoft/callback"
    )
    from urllib.parse import parse_qs, urlsplit

    location = sandbox.sign_in(flow["auth_uri"], *contoso.user)
    result = app.acquire_token_by_auth_code_flow(flow, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()})
    http = sandbox.http()
    http.headers["Authorization"] = f"Bearer {result['access_token']}"
    me = http.get(f"{sandbox.graph_url}/v1.0/me", timeout=10).json()
    assert me["userPrincipalName"] == contoso.user[0]
    teams = http.get(f"{sandbox.graph_url}/v1.0/me/joinedTeams", timeout=10).json()["value"]
    assert teams
    assert http.get(f"{sandbox.graph_url}/v1.0/users", timeout=10).status_code == 403  # User.Read is not enough
    logged = sandbox.requests(path_startswith="/graph/v1.0/me", client_id=sandbox.client_id)
    assert [r.path for r in logged] == ["/graph/v1.0/me", "/graph/v1.0/me/joinedTeams"]


def test_users_filter_by_id_in_takes_at_most_15_values(sandbox, graph):
    ids = [u["id"] for u in graph.get(f"{graph.base}/v1.0/users?$select=id&$top=20", timeout=10).json()["value"]]
    listed = ",".join(f"'{i}'" for i in ids[:3])
    found = graph.get(f"{graph.base}/v1.0/users", params={"$filter": f"id in ({listed})", "$select": "id,displayName"},
                      timeout=10).json()["value"]
    assert sorted(u["id"] for u in found) == sorted(ids[:3]) and all("displayName" in u for u in found)
    too_many = ",".join(f"'{i}'" for i in (ids * 2)[:16])
    refused = graph.get(f"{graph.base}/v1.0/users", params={"$filter": f"id in ({too_many})"}, timeout=10)
    assert refused.status_code == 400 and "Max allowed: 15" in refused.json()["error"]["message"]
