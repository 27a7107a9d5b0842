"""The data-handling statement agrees with the catalog and the endpoint declarations, and a
tenant admin can read it before granting."""

import json
from io import StringIO

from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from connections import endpoints, permissions, statement


def _catalog_graph():
    return {(p.kind, p.name): p for f in permissions.FEATURES.values() for p in f.graph}


def _catalog_scopes():
    return {s.name: s for f in permissions.FEATURES.values() for s in (*f.atlassian, *f.atlassian_org)}


def test_the_statement_and_the_catalog_agree(settings):
    data = statement.build()
    rows = {(r["type"], r["permission"]): r for r in data["graph_permissions"]}
    assert set(rows) == set(_catalog_graph())
    for key, permission in _catalog_graph().items():
        row = rows[key]
        assert (row["collected"], row["why_collected"], row["stored"], row["why_stored"]) == (
            permission.reads, permission.why_collect, permission.stores, permission.why_store)
        assert permission.why_collect and permission.why_store, permission.name
        assert row["beta"] == any(u["beta"] for u in row["endpoints"])
        assert row["app_id"] == settings.MICROSOFT_CLIENT_ID
        declared = {e.key for e in statement._product_endpoints(statement.GRAPH_PROVIDERS)
                    if permission.name in e.permissions}
        assert {u["key"] for u in row["endpoints"]} <= declared
    scopes = {s["scope"]: s for s in data["non_microsoft_services"][0]["scopes"]}
    assert set(scopes) == set(_catalog_scopes())
    for name, scope in _catalog_scopes().items():
        assert (scopes[name]["collected"], scopes[name]["why"]) == (scope.reads, scope.why)
    # Every declared endpoint appears under each catalog permission it declares.
    listed = {u["key"] for r in data["graph_permissions"] for u in r["endpoints"]}
    assert listed == {e.key for e in statement._product_endpoints(statement.GRAPH_PROVIDERS)
                      if set(e.permissions) & {n for _, n in _catalog_graph()}}
    markdown = statement.markdown(data)
    assert "Justification for storing it" in markdown
    assert all(p.why_store in markdown for p in _catalog_graph().values())
    assert data["uses_beta_api"] == any(e.beta for e in endpoints.all_endpoints() if e.key in listed)


def test_the_statement_prints_the_configured_retention(settings):
    settings.LOG_RETENTION_DAYS = 3
    assert "up to 3 days" in statement.markdown(statement.build())


def test_a_connections_statement_lists_only_its_features():
    data = statement.build(["user_mapping"])
    assert {f["key"] for f in data["features"]} == {"user_mapping"}
    assert {r["permission"] for r in data["graph_permissions"]} == {
        p.name for p in permissions.FEATURES["user_mapping"].graph}


def test_the_command_prints_markdown_and_json():
    out = StringIO()
    call_command("data_statement", "--format", "json", stdout=out)
    assert json.loads(out.getvalue()) == json.loads(json.dumps(statement.build()))
    out = StringIO()
    call_command("data_statement", stdout=out)
    assert "## Data access using Microsoft Graph" in out.getvalue() and "| User.Read | delegated |" in out.getvalue()


def test_members_and_the_public_read_the_statement(viewer_client, acme):
    page = viewer_client.get(reverse("connections:data_statement")).content.decode()
    assert "How the portal handles data" in page and "ChannelMessage.Read.All" in page
    own = viewer_client.get(reverse("connections:data_statement"), {"connection": acme.connection.pk})
    assert own.status_code == 200 and own.context["connection"] == acme.connection
    public = Client().get(reverse("connections:data_statement_public"))
    assert public.status_code == 200 and "User.Read" in public.content.decode()


def test_the_public_statement_narrows_to_the_features_named():
    page = Client().get(reverse("connections:data_statement_public"), {"features": "teams_notifications"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Team.ReadBasic.All" in text and "ChannelMessage.Read.All" not in text
    nonsense = Client().get(reverse("connections:data_statement_public"), {"features": "nope,<script>"})
    assert nonsense.status_code == 200 and nonsense.context["statement"]["features"] == []
