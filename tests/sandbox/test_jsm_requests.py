"""Jira's enhanced search (nextPageToken; the old search is gone), watchers, and Jira Service
Management's request participants and public/internal comments, in the sandbox."""

import pytest

from sandbox.atlassian.models import IssueComment
from tests.sandbox.test_atlassian_helpers import SCOPES, http, site, token_for

JSM_SCOPES = [*SCOPES, "read:servicedesk-request", "write:servicedesk-request"]


@pytest.fixture
def jira(sandbox):
    """A session with Ada Admin's OAuth token for acme-support, and its gateway base URL."""
    token = token_for(sandbox, sites=["acme-support"], scopes=JSM_SCOPES)["access_token"]
    session = http(sandbox)
    session.headers["Authorization"] = f"Bearer {token}"
    session.base = f"{sandbox.atlassian_api_url}/ex/jira/{site(sandbox, 'acme-support')['id']}"
    return session


def test_search_pages_by_next_page_token_and_the_old_search_is_gone(jira):
    jql = 'project = "IT" AND issuetype = Incident AND statusCategory != Done ORDER BY created DESC'
    keys, token, pages = [], None, 0
    while True:
        params = {"jql": jql, "fields": "summary,status,assignee", "maxResults": 4}
        if token:
            params["nextPageToken"] = token
        body = jira.get(f"{jira.base}/rest/api/3/search/jql", params=params).json()
        pages += 1
        keys += [i["key"] for i in body["issues"]]
        token = body.get("nextPageToken")
        assert body["isLast"] is (token is None)
        if not token:
            break
    assert pages == 2 and keys == ["IT-7", "IT-5", "IT-4", "IT-3", "IT-2", "IT-1"]  # IT-6 is resolved
    ids_only = jira.get(f"{jira.base}/rest/api/3/search/jql", params={"jql": "project = IT"}).json()
    assert set(ids_only["issues"][0]) == {"id", "key", "self"}
    assert jira.get(f"{jira.base}/rest/api/3/search/jql", params={"jql": ""}).status_code == 400
    bad_token = jira.get(f"{jira.base}/rest/api/3/search/jql", params={"jql": jql, "nextPageToken": "x"})
    assert bad_token.status_code == 400
    gone = jira.get(f"{jira.base}/rest/api/3/search", params={"jql": jql})
    assert gone.status_code == 410 and "/rest/api/3/search/jql" in gone.json()["errorMessages"][0]


def test_responders_watchers_and_participants(jira):
    watchers = jira.get(f"{jira.base}/rest/api/3/issue/IT-1/watchers").json()
    assert [w["displayName"] for w in watchers["watchers"]] == ["Bea Member"] and watchers["watchCount"] == 1
    participants = jira.get(f"{jira.base}/rest/servicedeskapi/request/IT-1/participant").json()
    assert [p["displayName"] for p in participants["values"]] == ["Hal Hidden"] and participants["isLastPage"]
    assert jira.get(f"{jira.base}/rest/api/3/issue/IT-404/watchers").status_code == 404


def test_internal_comments_need_an_agent_and_the_write_scope(sandbox, jira):
    url = f"{jira.base}/rest/servicedeskapi/request/IT-1/comment"
    internal = jira.post(url, json={"body": "Chat opened in Teams", "public": False})
    assert internal.status_code == 201
    body = internal.json()
    assert body["public"] is False and body["author"]["displayName"] == "Ada Admin" and body["created"]["iso8601"]
    assert IssueComment.objects.get(comment_id=int(body["id"])).public is False
    assert jira.post(url, json={"body": " "}).status_code == 400

    # Hal Hidden is on the site but no agent of IT: no internal comment.
    hal = next(u for u in sandbox.atlassian["users"] if u["email"] == "hal.hidden@acme.example")
    session = http(sandbox)
    session.auth = (hal["email"], hal["api_token"])
    site_url = f"{sandbox.origin}/sites/acme-support/rest/servicedeskapi/request/IT-1/comment"
    refused = session.post(site_url, json={"body": "note", "public": False})
    assert refused.status_code == 403 and "internal" in refused.json()["errorMessages"][0]

    read_only = token_for(sandbox, sites=["acme-support"], scopes=[*SCOPES, "read:servicedesk-request"])
    session = http(sandbox)
    session.headers["Authorization"] = f"Bearer {read_only['access_token']}"
    assert session.post(url, json={"body": "note", "public": False}).status_code == 401  # scope does not match
