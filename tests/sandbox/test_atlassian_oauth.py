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


INVALID = {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}
DAY = 86400


def test_refresh_rotates_and_the_old_token_works_only_within_the_reuse_interval(sandbox):
    body = token_for(sandbox, sites=["acme"])
    session = http(sandbox)
    first = refresh(sandbox, session, body["refresh_token"])
    assert first.status_code == 200, first.text
    new = first.json()
    assert new["refresh_token"] != body["refresh_token"] and new["access_token"]
    # A client that lost the first answer sends the old token again at once: answered again.
    again = refresh(sandbox, session, body["refresh_token"])
    assert again.status_code == 200
    assert again.json()["refresh_token"] not in (body["refresh_token"], new["refresh_token"])
    assert refresh(sandbox, session, new["refresh_token"]).status_code == 200


def test_a_replay_after_the_reuse_interval_revokes_the_whole_family(sandbox):
    body = token_for(sandbox, sites=["acme"])
    session = http(sandbox)
    new = refresh(sandbox, session, body["refresh_token"]).json()
    sandbox.advance_clock(11 * 60)
    stale = refresh(sandbox, session, body["refresh_token"])
    assert stale.status_code == 403 and stale.json() == INVALID
    # Its successor, never used, is dead too: the user must consent again.
    assert refresh(sandbox, session, new["refresh_token"]).json() == INVALID


def test_a_refresh_token_unused_for_ninety_days_expires(sandbox):
    body = token_for(sandbox, sites=["acme"])
    session = http(sandbox)
    sandbox.advance_clock(89 * DAY)
    kept = refresh(sandbox, session, body["refresh_token"]).json()  # used in time: the next one lives 90 more days
    sandbox.advance_clock(89 * DAY)
    kept = refresh(sandbox, session, kept["refresh_token"]).json()
    sandbox.advance_clock(91 * DAY)
    assert refresh(sandbox, session, kept["refresh_token"]).json() == INVALID


def test_every_token_of_a_family_expires_a_year_after_consent(sandbox):
    body = token_for(sandbox, sites=["acme"])
    session = http(sandbox)
    token = body["refresh_token"]
    for _ in range(4):  # refreshed every 80 days, never inactive
        sandbox.advance_clock(80 * DAY)
        answer = refresh(sandbox, session, token)
        assert answer.status_code == 200
        token = answer.json()["refresh_token"]
    sandbox.advance_clock(46 * DAY)  # 366 days after the code was exchanged
    assert refresh(sandbox, session, token).json() == INVALID
    # Consenting again starts a new year.
    assert refresh(sandbox, session, token_for(sandbox, sites=["acme"])["refresh_token"]).status_code == 200


def test_access_tokens_live_one_hour(sandbox):
    body = token_for(sandbox, sites=["acme"])
    session = http(sandbox)
    session.headers["Authorization"] = f"Bearer {body['access_token']}"
    url = f"{sandbox.atlassian_api_url}/oauth/token/accessible-resources"
    assert body["expires_in"] == 3600 and session.get(url, timeout=10).status_code == 200
    sandbox.advance_clock(3601)
    assert session.get(url, timeout=10).status_code == 401


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


def test_racing_refreshers_all_get_tokens_and_the_token_rotates_once(sandbox):
    from concurrent.futures import ThreadPoolExecutor

    from sandbox.atlassian.models import RefreshToken

    body = token_for(sandbox, sites=["acme"])
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: refresh(sandbox, http(sandbox), body["refresh_token"]), range(8)))
    # Within the reuse interval every racer is answered; the family is one rotation further.
    assert [a.status_code for a in answers] == [200] * 8
    assert len({a.json()["refresh_token"] for a in answers}) == 8
    assert RefreshToken.objects.filter(used=True).count() == 1
