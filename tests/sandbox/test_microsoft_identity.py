"""The unmodified msal against the sandbox's identity platform, over HTTPS."""

import base64
import datetime
import hashlib
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import msal
import pytest
from cryptography import x509
from django.conf import settings

from sandbox.microsoft.models import AuthorizationCode
from sandbox.testing import SignInError

CALLBACK = "/connect/microsoft/callback"
ADMIN_CALLBACK = "/connect/microsoft/adminconsent/callback"
GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]


def _query(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _auth_code(sandbox, tenant, username, password, scopes, *, app=None, consent="accept", **kwargs):
    app = app or sandbox.msal_app(tenant)
    flow = app.initiate_auth_code_flow(scopes, redirect_uri=settings.SITE_URL + CALLBACK, **kwargs)
    location = sandbox.sign_in(flow["auth_uri"], username, password, consent=consent)
    assert location.startswith(settings.SITE_URL + CALLBACK)
    return app, flow, _query(location)


def _verify_id_token(sandbox, tenant_segment, id_token):
    http = sandbox.http()
    config = http.get(f"{sandbox.origin}/{tenant_segment}/v2.0/.well-known/openid-configuration", timeout=10).json()
    keys = jwt.PyJWKSet.from_dict(http.get(config["jwks_uri"], timeout=10).json())
    kid = jwt.get_unverified_header(id_token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    claims = jwt.decode(id_token, key.key, algorithms=["RS256"], audience=sandbox.client_id)
    return config, claims


def test_client_credentials_carry_granted_roles_and_revoke_changes_next_token(sandbox):
    result = sandbox.msal_app("fabrikam").acquire_token_for_client(GRAPH_DEFAULT)
    assert result["token_type"] == "Bearer" and result["expires_in"] > 300
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert "User.Read.All" in claims["roles"] and claims["tid"] == sandbox.tenants["fabrikam"].id
    assert claims["aud"] == "https://graph.microsoft.com" and "scp" not in claims

    sandbox.revoke("fabrikam", "User.Read.All")
    again = sandbox.msal_app("fabrikam").acquire_token_for_client(GRAPH_DEFAULT)
    roles = jwt.decode(again["access_token"], options={"verify_signature": False})["roles"]
    assert "User.Read.All" not in roles and "Team.ReadBasic.All" in roles


def test_client_credentials_by_domain_authority(sandbox):
    result = sandbox.msal_app("fabrikam.de").acquire_token_for_client(GRAPH_DEFAULT)
    assert "access_token" in result


def test_client_credentials_without_consent_and_with_bad_secret(sandbox):
    result = sandbox.msal_app("contoso").acquire_token_for_client(GRAPH_DEFAULT)
    # No consent in the tenant: the app has no service principal there.
    assert result["error"] == "invalid_client" and "AADSTS7000229" in result["error_description"]
    assert result["error_codes"] == [7000229]

    app = msal.ConfidentialClientApplication(
        sandbox.client_id,
        client_credential="not-the-secret",
        authority=sandbox.authority("fabrikam"),
        instance_discovery=False,
        verify=sandbox.ca_bundle,
    )
    result = app.acquire_token_for_client(GRAPH_DEFAULT)
    assert result["error"] == "invalid_client" and "AADSTS7000215" in result["error_description"]
    assert result["error_codes"] == [7000215]


def test_unknown_client(sandbox):
    app = msal.ConfidentialClientApplication(
        "00000000-0000-0000-0000-000000000001",
        client_credential="x",
        authority=sandbox.authority("fabrikam"),
        instance_discovery=False,
        verify=sandbox.ca_bundle,
    )
    result = app.acquire_token_for_client(GRAPH_DEFAULT)
    assert "AADSTS700016" in result["error_description"]


def test_unknown_tenant_fails_discovery(sandbox):
    with pytest.raises(ValueError):
        sandbox.msal_app("no-such-tenant.example")


def test_auth_code_with_pkce_and_nonce(sandbox):
    username, password = sandbox.tenants["contoso"].user
    app, flow, response = _auth_code(sandbox, "organizations", username, password, ["User.Read"])
    assert "code" in response and response["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == username
    access = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert access["scp"] == "User.Read" and access["tid"] == sandbox.tenants["contoso"].id

    config, claims = _verify_id_token(sandbox, "organizations", result["id_token"])
    assert config["issuer"] == f"{sandbox.origin}/{{tenantid}}/v2.0"
    assert config["authorization_endpoint"].startswith(sandbox.browser_origin)
    assert config["token_endpoint"].startswith("https://")
    assert claims["iss"] == f"{sandbox.origin}/{sandbox.tenants['contoso'].id}/v2.0"
    assert claims["nonce"] == hashlib.sha256(flow["nonce"].encode()).hexdigest()  # what msal sends
    assert claims["tid"] == sandbox.tenants["contoso"].id and claims["oid"] == access["oid"]
    # The code was sent with a PKCE challenge: redeeming it again fails as used.
    again = app.acquire_token_by_auth_code_flow(flow, response)
    assert "AADSTS54005" in again.get("error_description", ""), again


def test_second_sign_in_skips_consent_and_refresh_tokens_stay_valid(sandbox):
    username, password = sandbox.tenants["contoso"].user
    app, flow, response = _auth_code(sandbox, "contoso", username, password, ["User.Read", "Team.ReadBasic.All"])
    first = app.acquire_token_by_auth_code_flow(flow, response)
    refreshed = app.acquire_token_by_refresh_token(first["refresh_token"], ["User.Read"])
    assert "access_token" in refreshed and refreshed["refresh_token"] != first["refresh_token"]
    old_again = app.acquire_token_by_refresh_token(first["refresh_token"], ["User.Read"])
    assert "access_token" in old_again  # Microsoft does not rotate away the old one

    sandbox.revoke("contoso", "Team.ReadBasic.All")
    denied = app.acquire_token_by_refresh_token(first["refresh_token"], ["Team.ReadBasic.All"])
    assert denied["error"] == "invalid_grant" and "AADSTS65001" in denied["error_description"]


def test_declined_consent(sandbox):
    username, password = sandbox.tenants["contoso"].user
    app, flow, response = _auth_code(sandbox, "contoso", username, password, ["User.Read"], consent="cancel")
    assert response["error"] == "access_denied" and response["error_description"].startswith("AADSTS65004")
    assert response["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert result["error"] == "access_denied"


def test_consent_declined_fault(sandbox):
    sandbox.set_fault("consent_declined", "contoso")
    username, password = sandbox.tenants["contoso"].user
    _, _, response = _auth_code(sandbox, "contoso", username, password, ["User.Read"])
    assert response["error"] == "access_denied"


def test_non_admin_cannot_consent_to_admin_scopes(sandbox):
    username, password = sandbox.tenants["contoso"].user
    _, _, response = _auth_code(sandbox, "contoso", username, password, ["User.Read.All"], consent="back")
    assert response["error"] == "access_denied" and "AADSTS90094" in response["error_description"]


def test_wrong_password_stays_on_sign_in_page(sandbox):
    app = sandbox.msal_app("contoso")
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=settings.SITE_URL + CALLBACK)
    with pytest.raises(SignInError, match="Too many pages|incorrect"):
        sandbox.sign_in(flow["auth_uri"], sandbox.tenants["contoso"].user[0], "wrong")


def test_redirect_uri_must_match_exactly(sandbox):
    app = sandbox.msal_app("contoso")
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=settings.SITE_URL + CALLBACK + "/")
    with pytest.raises(SignInError, match="AADSTS50011"):
        sandbox.sign_in(flow["auth_uri"], *sandbox.tenants["contoso"].user)
    sandbox.register_redirect_uri(settings.SITE_URL + CALLBACK + "/")
    assert "code=" in sandbox.sign_in(flow["auth_uri"], *sandbox.tenants["contoso"].user)


def test_expired_code(sandbox):
    username, password = sandbox.tenants["contoso"].user
    app, flow, response = _auth_code(sandbox, "contoso", username, password, ["User.Read"])
    AuthorizationCode.objects.update(expires_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1))
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert result["error"] == "invalid_grant" and "AADSTS70008" in result["error_description"]


def test_form_post_response_mode(sandbox):
    username, password = sandbox.tenants["contoso"].user
    app = sandbox.msal_app("contoso")
    flow = app.initiate_auth_code_flow(
        ["User.Read"], redirect_uri=settings.SITE_URL + CALLBACK, response_mode="form_post"
    )
    target = sandbox.sign_in(flow["auth_uri"], username, password)
    assert target == settings.SITE_URL + CALLBACK


def _admin_consent_url(sandbox, tenant, version="v2", scope="https://graph.microsoft.com/.default"):
    params = {"client_id": sandbox.client_id, "redirect_uri": settings.SITE_URL + ADMIN_CALLBACK, "state": "s1"}
    if version == "v2":
        params["scope"] = scope
        return f"{sandbox.browser_origin}/{tenant}/v2.0/adminconsent?{urlencode(params)}"
    return f"{sandbox.browser_origin}/{tenant}/adminconsent?{urlencode(params)}"


def test_admin_consent_grants_roles(sandbox):
    contoso = sandbox.tenants["contoso"]
    location = sandbox.sign_in(_admin_consent_url(sandbox, "organizations"), *contoso.admin)
    response = _query(location)
    assert response == {
        "admin_consent": "True",
        "tenant": contoso.id,
        "scope": "https://graph.microsoft.com/.default",
        "state": "s1",
    }
    result = sandbox.msal_app("contoso").acquire_token_for_client(GRAPH_DEFAULT)
    assert "Chat.Create" in jwt.decode(result["access_token"], options={"verify_signature": False})["roles"]


def test_admin_consent_v1(sandbox):
    contoso = sandbox.tenants["contoso"]
    response = _query(sandbox.sign_in(_admin_consent_url(sandbox, contoso.domain, "v1"), *contoso.admin))
    assert response == {"admin_consent": "True", "tenant": contoso.id, "state": "s1"}


def test_admin_consent_declined_and_non_admin(sandbox):
    contoso = sandbox.tenants["contoso"]
    declined = _query(sandbox.sign_in(_admin_consent_url(sandbox, contoso.id), *contoso.admin, consent="cancel"))
    assert declined["error"] == "access_denied" and declined["error_description"].startswith("AADSTS65004")
    assert declined["state"] == "s1"
    not_admin = _query(sandbox.sign_in(_admin_consent_url(sandbox, contoso.id), *contoso.user))
    assert not_admin["error"] == "access_denied" and "AADSTS90094" in not_admin["error_description"]
    assert "error" in sandbox.msal_app("contoso").acquire_token_for_client(GRAPH_DEFAULT)  # nothing granted


def test_admin_consent_refuses_common(sandbox):
    with pytest.raises(SignInError, match="AADSTS90130"):
        sandbox.sign_in(_admin_consent_url(sandbox, "common"), *sandbox.tenants["contoso"].admin)


def test_short_token_lifetime_fault(sandbox):
    sandbox.set_fault("token_lifetime", "fabrikam", seconds=120)
    result = sandbox.msal_app("fabrikam").acquire_token_for_client(GRAPH_DEFAULT)
    assert result["expires_in"] == 120


def test_any_permission_microsoft_publishes_is_known_with_its_published_id():
    """A feature can be built against any real Graph permission: the sandbox asks for consent to
    it instead of answering invalid_scope, and Graph's service principal carries Microsoft's ids."""
    from sandbox.microsoft import permissions
    from sandbox.microsoft.graph.tenant_views import role_id

    # Well-known ids from Microsoft's permissions reference.
    assert role_id("User.Read.All") == "df021288-bdef-4463-88db-98f22de89214"
    assert role_id("scp:User.Read") == "e1fe6dd8-ba31-4d61-89e7-88639da4683d"
    # Permissions outside what the portal uses today are known, with their consent rules.
    assert permissions.DELEGATED["Sites.Read.All"] is False
    assert permissions.DELEGATED["DeviceManagementApps.ReadWrite.All"] is True
    assert "DeviceManagementApps.ReadWrite.All" in permissions.APPLICATION
    graph, _, _ = permissions.split_scopes("https://graph.microsoft.com/Sites.Read.All openid", app=None)
    assert graph == ["Sites.Read.All"]
    with pytest.raises(permissions.ScopeError):
        permissions.split_scopes("Made.Up.Permission", app=None)


def test_graph_tokens_are_v1_tokens_with_the_sts_issuer_and_x5t(sandbox):
    # Graph takes v1.0 access tokens: issuer sts.windows.net/{tid}/, and the legacy x5t header
    # equal to kid, found with its certificate in the JWKS as a validating client expects.
    tenant = sandbox.tenants["northwind"]
    token = sandbox.msal_app("northwind").acquire_token_for_client(GRAPH_DEFAULT)["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["x5t"] == header["kid"]
    config = sandbox.http().get(f"{sandbox.origin}/{tenant.id}/v2.0/.well-known/openid-configuration", timeout=10)
    keys = sandbox.http().get(config.json()["jwks_uri"], timeout=10).json()["keys"]
    key = next(k for k in keys if k["x5t"] == header["x5t"])
    certificate = x509.load_der_x509_certificate(base64.b64decode(key["x5c"][0]))
    claims = jwt.decode(
        token,
        certificate.public_key(),
        algorithms=["RS256"],
        audience="https://graph.microsoft.com",
        issuer=f"https://sts.windows.net/{tenant.id}/",
    )
    assert claims["ver"] == "1.0" and claims["tid"] == tenant.id and claims["idtyp"] == "app"
