"""Atlassian 3LO in the sandbox over HTTPS: authorize with sign-in, site choice and consent,
token exchange (JSON / form, secret in body / Basic), rotating refresh tokens, declines."""

import pytest

from tests.sandbox.test_atlassian_helpers import (
    SCOPES,
    authorize_url,
    consent,
    exchange,
    http,
    refresh,
    register_callback,
    site,
    token_for,
)


@pytest.fixture
def admin(sandbox):
    register_callback()
    return sandbox.atlassian["admin"]


def test_full_dance_with_site_choice_and_accessible_resources(sandbox, admin):
    session = http(sandbox)
    params = consent(sandbox, session, email=admin["email"], password=admin["password"], sites=["acme", "globex"])
    assert params["state"] == "st-1" and params["code"]
    response = exchange(sandbox, session, params["code"], as_json=False, basic=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["refresh_token"]
    assert set(body["scope"].split()) == set(SCOPES)
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    resources = session.get(f"{sandbox.atlassian_api_url}/oauth/token/accessible-resources", headers=bearer).json()
    assert [r["name"] for r in resources] == ["acme", "globex"]
    assert resources[0]["id"] == site(sandbox, "acme")["id"]
    assert resources[0]["url"] == f"{sandbox.origin}/sites/acme"
    assert "read:jira-work" in resources[0]["scopes"] and "offline_access" not in resources[0]["scopes"]
    assert {"id", "name", "url", "scopes", "avatarUrl"} <= set(resources[0])
    me = session.get(f"{sandbox.atlassian_api_url}/me", headers=bearer).json()
    assert me["account_id"] == admin["account_id"] and me["email"] == admin["email"] and me["name"]


def test_code_is_single_use_and_bound_to_client(sandbox, admin):
    session = http(sandbox)
    params = consent(sandbox, session, email=admin["email"], password=admin["password"], sites=["acme"])
    assert exchange(sandbox, session, params["code"]).status_code == 200
    again = exchange(sandbox, session, params["code"])
    assert again.status_code == 403 and again.json()["error"] == "invalid_grant"
    bad = session.post(
        f"{sandbox.atlassian_auth_url}/oauth/token",
        json={"grant_type": "authorization_code", "code": "x", "client_id": "nope", "client_secret": "nope"},
    )
    assert bad.status_code == 401


def test_refresh_rotates_and_old_token_is_dead(sandbox):
    body = token_for(sandbox, sites=["acme"])
    session = http(sandbox)
    first = refresh(sandbox, session, body["refresh_token"])
    assert first.status_code == 200, first.text
    new = first.json()
    assert new["refresh_token"] != body["refresh_token"] and new["access_token"]
    stale = refresh(sandbox, session, body["refresh_token"])
    assert stale.status_code == 403
    assert stale.json() == {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}
    assert refresh(sandbox, session, new["refresh_token"]).status_code == 200


def test_no_refresh_token_without_offline_access(sandbox):
    body = token_for(sandbox, sites=["acme"], scopes=["read:jira-user", "read:me"])
    assert "refresh_token" not in body and body["scope"] == "read:jira-user read:me"


def test_decline_and_cancel_redirect_with_access_denied(sandbox, admin):
    for decision in ("cancel", "cancel-at-sites"):
        params = consent(
            sandbox,
            http(sandbox),
            email=admin["email"],
            password=admin["password"],
            sites=["acme"],
            decision=decision,
            state="s-" + decision,
        )
        assert params["error"] == "access_denied" and params["state"] == "s-" + decision and "code" not in params


def test_authorize_rejects_unregistered_redirect_and_wrong_password(sandbox, admin):
    session = http(sandbox)
    bad = session.get(authorize_url(sandbox, redirect_uri="https://evil.example/cb"), allow_redirects=False)
    assert bad.status_code == 200 or bad.status_code == 400
    assert "redirect_uri" in bad.text and bad.status_code == 400
    page = session.get(authorize_url(sandbox))
    assert 'type="password"' in page.text
    flow = page.text.split('name="flow" value="')[1].split('"')[0]
    wrong = session.post(
        f"{sandbox.atlassian_auth_url}/signin", data={"flow": flow, "email": admin["email"], "password": "wrong"}
    )
    assert "Incorrect email" in wrong.text


def test_expired_access_token_is_refused(sandbox):
    import time

    from sandbox import faults

    faults.set_fault("token_lifetime", "site:acme", seconds=1)
    body = token_for(sandbox, sites=["acme"])
    assert body["expires_in"] == 1
    time.sleep(1.5)
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    response = http(sandbox).get(f"{sandbox.atlassian_api_url}/oauth/token/accessible-resources", headers=bearer)
    assert response.status_code == 401


def test_racing_refreshers_exactly_one_wins(sandbox):
    from concurrent.futures import ThreadPoolExecutor

    body = token_for(sandbox, sites=["acme"])
    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(lambda _: refresh(sandbox, http(sandbox), body["refresh_token"]).status_code, range(8))
        )
    assert sorted(statuses) == [200] + [403] * 7
