"""The sandbox's sign-in pages: single sign-on cookie, prompt, hints, and its own cookies only."""

from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from django.conf import settings

CALLBACK = settings.SITE_URL + "/connect/microsoft/callback"


def _query(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_second_authorize_uses_the_sign_in_cookie_unless_prompt_login(sandbox):
    contoso = sandbox.tenants["contoso"]
    app = sandbox.msal_app("contoso")
    session = requests.Session()
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=CALLBACK)
    sandbox.sign_in(flow["auth_uri"], *contoso.user, session=session)
    assert set(session.cookies.keys()) == {"sbx_ms"}  # never the portal's sessionid or csrftoken

    silent = app.initiate_auth_code_flow(["User.Read"], redirect_uri=CALLBACK, prompt="none")
    response = session.get(silent["auth_uri"], allow_redirects=False, timeout=10)
    assert response.status_code == 302 and "code=" in response.headers["Location"]

    again = app.initiate_auth_code_flow(["User.Read"], redirect_uri=CALLBACK, prompt="login")
    page = session.get(again["auth_uri"], timeout=10)
    assert 'name="password"' in page.text


def test_prompt_none_without_sign_in(sandbox):
    flow = sandbox.msal_app("contoso").initiate_auth_code_flow(["User.Read"], redirect_uri=CALLBACK, prompt="none")
    response = requests.get(flow["auth_uri"], allow_redirects=False, timeout=10)
    assert _query(response.headers["Location"])["error"] == "login_required"


def test_login_hint_prefills_and_client_info_comes_back(sandbox):
    contoso = sandbox.tenants["contoso"]
    app = sandbox.msal_app("organizations")
    flow = app.initiate_auth_code_flow(
        ["User.Read"], redirect_uri=CALLBACK, login_hint=contoso.user[0], domain_hint=contoso.domain
    )
    page = requests.get(flow["auth_uri"], timeout=10)
    assert f'value="{contoso.user[0]}"' in page.text
    result = app.acquire_token_by_auth_code_flow(flow, _query(sandbox.sign_in(flow["auth_uri"], *contoso.user)))
    account = app.get_accounts()[0]
    assert account["home_account_id"] == f"{result['id_token_claims']['oid']}.{contoso.id}"
    silent = app.acquire_token_silent(["User.Read"], account=account, force_refresh=True)
    assert jwt.decode(silent["access_token"], options={"verify_signature": False})["scp"] == "User.Read"


def test_admin_may_consent_for_the_organization(sandbox):
    contoso = sandbox.tenants["contoso"]
    app = sandbox.msal_app("contoso")
    flow = app.initiate_auth_code_flow(["Channel.ReadBasic.All"], redirect_uri=CALLBACK)
    sandbox.sign_in(flow["auth_uri"], *contoso.admin, for_organization=True)
    # A member now gets a code without any consent page.
    member_flow = app.initiate_auth_code_flow(["Channel.ReadBasic.All"], redirect_uri=CALLBACK)
    first = requests.Session()
    page = first.get(member_flow["auth_uri"], timeout=10)
    assert 'name="password"' in page.text
    location = sandbox.sign_in(member_flow["auth_uri"], *contoso.user, consent="cancel")
    assert "code=" in location  # "cancel" never used: no consent page was shown


def test_disabled_and_deleted_users_cannot_sign_in(sandbox):
    from sandbox.testing import SignInError

    domain = sandbox.tenants["contoso"].domain
    flow = sandbox.msal_app("contoso").initiate_auth_code_flow(["User.Read"], redirect_uri=CALLBACK)
    for username in (f"frank.disabled@{domain}", f"grace.deleted@{domain}"):
        try:
            sandbox.sign_in(flow["auth_uri"], username, "Sandbox-Pass-1")
        except SignInError:
            pass
        else:
            raise AssertionError(f"{username} signed in")


def test_latency_fault(sandbox):
    import time

    sandbox.set_fault("latency", "fabrikam", ms=300)
    started = time.monotonic()
    sandbox.msal_app("fabrikam").acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert time.monotonic() - started >= 0.3
