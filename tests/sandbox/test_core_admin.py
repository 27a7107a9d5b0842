"""The sandbox's admin page, `manage.py sandbox` subcommands and faults."""

import json
from io import StringIO

import jwt
import pytest
from django.core.management import call_command

from sandbox import faults
from sandbox.models import Fault

GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]


def _roles(sandbox, tenant):
    token = sandbox.msal_app(tenant).acquire_token_for_client(GRAPH_DEFAULT)["access_token"]
    return jwt.decode(token, options={"verify_signature": False}).get("roles", [])


@pytest.mark.parametrize("who", ["anonymous", "viewer", "admin", "staff"])
def test_admin_page_is_for_the_demos_admins_only(sandbox, client, acme, staff_user, who):
    """It shows every sandbox tenant admin's password: an admin of a (demo) organization
    or staff sees it; a viewer is refused; anyone not signed in is sent to sign in."""
    user = {"anonymous": None, "viewer": acme.viewer, "admin": acme.admin, "staff": staff_user}[who]
    if user is not None:
        client.force_login(user)
    password = sandbox.tenants["contoso"].admin[1]
    page = client.get("/_sandbox/")
    posted = client.post("/_sandbox/", {"action": "log_clear"})
    if who == "anonymous":
        assert page.status_code == posted.status_code == 302
        assert page.url.startswith("/accounts/login/")
    elif who == "viewer":
        assert page.status_code == posted.status_code == 403
    else:
        assert page.status_code == 200 and password in page.content.decode()
        return
    assert password not in page.content.decode()


def test_admin_page_lists_tenants_and_revokes(sandbox, admin_client):
    client = admin_client
    page = client.get("/_sandbox/")
    assert page.status_code == 200
    assert sandbox.tenants["contoso"].admin[0] in page.content.decode()
    # The Atlassian side too: the account that authorizes sites, with its password and API token.
    body = page.content.decode()
    assert "ada.admin@acme.example" in body and "atlassian-admin-Pw1" in body and "data-atlassian-account" in body
    fabrikam = sandbox.tenants["fabrikam"]
    response = client.post(
        "/_sandbox/", {"action": "revoke", "tenant": fabrikam.id, "app": sandbox.client_id, "permission": "Chat.Create"}
    )
    assert response.status_code == 302
    assert "Chat.Create" not in _roles(sandbox, "fabrikam")


def test_admin_page_sets_and_clears_faults(sandbox, admin_client):
    client = admin_client
    target = faults.tenant_target(sandbox.tenants["fabrikam"].id)
    client.post(
        "/_sandbox/", {"action": "fault_set", "kind": "token_lifetime", "target": target, "params": "seconds=400"}
    )
    assert sandbox.msal_app("fabrikam").acquire_token_for_client(GRAPH_DEFAULT)["expires_in"] == 400
    client.post("/_sandbox/", {"action": "fault_clear", "fault": Fault.objects.get().pk})
    assert not Fault.objects.exists()


def test_info_json(sandbox):
    out = StringIO()
    call_command("sandbox", "info", "--json", stdout=out)
    info = json.loads(out.getvalue())
    assert info["microsoft"]["apps"][0]["client_id"] == sandbox.client_id
    assert {"contoso.com"} <= {d["name"] for t in info["microsoft"]["tenants"] for d in t["domains"]}
    tenant = next(t for t in info["microsoft"]["tenants"] if t["display_name"] == "Contoso")
    assert tenant["admin"]["password"] and tenant["user"]["username"]
    assert any(not d["verified"] for d in tenant["domains"])
    assert info["ca_bundle"].endswith("ca.pem")
    assert {"authority_host", "graph"} <= set(info["microsoft"]) and {"auth", "api"} <= set(info["atlassian"])


def test_cli_fault_and_revoke(sandbox):
    call_command(
        "sandbox",
        "fault",
        "set",
        "rate_limit",
        "fabrikam.com",
        "--param",
        "limit=1",
        "--param",
        "window=60",
        stdout=StringIO(),
    )
    fault = Fault.objects.get()
    assert fault.target == faults.tenant_target(sandbox.tenants["fabrikam"].id)
    assert fault.params == {"limit": 1, "window": 60}
    call_command("sandbox", "fault", "clear", stdout=StringIO())
    call_command("sandbox", "revoke", "fabrikam.com", "--only", "application", stdout=StringIO())
    assert _roles(sandbox, "fabrikam") == []


def test_seed_is_deterministic(sandbox):
    from sandbox.seeding import seed
    from sandbox.testing import tenant_infos

    seed(seed=1, users=5, atlassian_size=5)
    assert tenant_infos() == sandbox.tenants


def test_seed_keep_existing_keeps_grants(sandbox):
    sandbox.grant_admin_consent("contoso")
    call_command("sandbox", "seed", "--keep-existing", stdout=StringIO())
    assert "Chat.Create" in _roles(sandbox, "contoso")
