"""The Microsoft Search section: each step saved and shown, field errors instead of 500s, preview
with Confluence's own CQL message, another organization's ids 404, viewers see but cannot change."""

import pytest
from django.urls import reverse

from connections.models import SearchConnection
from tenants.models import AuditEvent, Role
from tests.factories import MembershipFactory

from .memory_source import page


@pytest.fixture
def admin(client, search_world):
    client.force_login(search_world.admin)
    return client


def _url(world, name, *args):
    return reverse(f"connections:{name}", args=[world.connection.pk, *args])


def test_each_step_is_saved_audited_and_changeable(admin, search_world):
    world = search_world
    response = admin.post(_url(world, "search_step", "connection"), {
        "connection-name": "Team wiki", "connection-graph_connection_id": "teamwiki", "connection-description": ""})
    assert response.status_code == 302
    admin.post(_url(world, "search_step", "properties"), {"properties-properties": ["authors"]})
    search = SearchConnection.objects.get(connection=world.connection)
    assert (search.name, search.graph_connection_id) == ("Team wiki", "teamwiki")
    assert search.properties == ["authors", "title", "url"]  # title and url always on
    admin.post(_url(world, "search_step", "properties"), {"properties-properties": ["spaceKey"]})
    search.refresh_from_db()
    assert search.properties == ["spaceKey", "title", "url"]
    page_ = admin.get(_url(world, "search")).content.decode()
    assert "Saved: Title, URL, Space key." in page_
    assert AuditEvent.objects.filter(action="search.settings_saved").count() == 3


@pytest.mark.parametrize(("step", "data", "field"), [
    ("connection", {"connection-name": "W", "connection-graph_connection_id": "has-dash"}, "graph_connection_id"),
    ("connection", {"connection-name": "W", "connection-graph_connection_id": "MicrosoftWiki"}, "graph_connection_id"),
    ("connection", {"connection-name": "", "connection-graph_connection_id": "wiki1"}, "name"),
    ("filter", {"filter-space_keys": "ENG, bad key!", "filter-cql": ""}, "space_keys"),
    ("permissions", {"permissions-permission_mode": "access", "permissions-identity_type": "non_entra",
                     "permissions-upn_pattern": "(", "permissions-upn_formula": "x"}, "upn_pattern"),
    ("refresh", {"refresh-full_every_minutes": "0", "refresh-incremental_every_minutes": "15",
                 "refresh-permissions_every_minutes": "60"}, "full_every_minutes"),
    ("refresh", {"refresh-full_every_minutes": "abc", "refresh-incremental_every_minutes": "-1",
                 "refresh-permissions_every_minutes": "60"}, "incremental_every_minutes"),
])
def test_bad_input_gets_a_field_error_and_saves_nothing(admin, search_world, step, data, field):
    response = admin.post(_url(search_world, "search_step", step), data)
    assert response.status_code == 400
    assert f'id="id_{step}-{field}_error"' in response.content.decode()
    assert not SearchConnection.objects.exists()


def test_preview_shows_the_total_samples_as_sent_and_confluences_cql_error(admin, search_world):
    world = search_world
    world.confluence(items=[page(1, acl=[("user", "acc-ann")]), page(2, acl=[("user", "acc-nomatch")]),
                            page(3, space="OPS", acl=[("everyone", "")])])
    response = admin.post(_url(world, "search_preview"), {"filter-space_keys": "ENG", "filter-cql": ""})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-preview-total>2<' in body
    assert "1 mapped user(s)" in body and "Nobody: 1 reader(s) without a Microsoft match" in body
    bad = admin.post(_url(world, "search_preview"), {"filter-space_keys": "", "filter-cql": 'space in (ENG'})
    assert "Confluence says: Could not parse cql" in bad.content.decode()


def test_publish_needs_every_step(admin, search_world):
    response = admin.post(_url(search_world, "search_publish"))
    assert response.status_code == 400
    assert "Save every step before publishing" in response.content.decode()


def test_another_organizations_ids_are_not_found(client, search_world, globex):
    client.force_login(globex.admin)
    world = search_world
    assert client.get(_url(world, "search")).status_code == 404
    assert client.post(_url(world, "search_step", "connection"), {
        "connection-name": "x", "connection-graph_connection_id": "stolen1"}).status_code == 404
    assert client.post(_url(world, "search_publish")).status_code == 404
    assert client.post(_url(world, "search_disconnect")).status_code == 404
    assert not SearchConnection.objects.exists()


def test_a_connection_without_the_feature_has_no_search_section(admin, search_world):
    world = search_world
    world.connection.features = ["user_mapping"]
    world.connection.save()
    assert admin.get(_url(world, "search")).status_code == 404


def test_the_non_entra_rule_is_previewed_on_confluence_users(admin, search_world):
    world = search_world
    world.confluence(users=[{"account_id": "acc-ann", "name": "Ann", "email": "ann@acme.example"},
                            {"account_id": "acc-hid", "name": "Hidden Hal", "email": ""}])
    response = admin.post(_url(world, "search_identity_preview"), {
        "permissions-permission_mode": "access", "permissions-identity_type": "non_entra",
        "permissions-upn_pattern": r"(?P<name>[^@]+)@acme\.example",
        "permissions-upn_formula": r"\g<name>@contoso.com"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "ann@contoso.com" in body and "Success" in body
    assert "(hidden)" in body and "Failed" in body


def test_the_status_translates_skips_into_microsofts_codes_and_disconnect_removes_the_index(admin, search_world):
    world = search_world
    world.confluence(items=[page(1, acl=[("user", "acc-ann")]), page(2, acl=[("user", "acc-nomatch")])])
    world.setup()
    world.publish()
    body = admin.get(_url(world, "search")).content.decode()
    assert 'data-items-indexed>1<' in body
    assert 'data-remedy="2006"' in body and 'data-remedy="2007"' in body and 'data-remedy="2004"' not in body
    assert "Nomatch Person" in body  # listed among the people without a Microsoft match
    response = admin.post(_url(world, "search_disconnect"), {"disconnect-remove_index": "on"})
    assert response.status_code == 302
    assert world.indexed() == {}
    assert "Disconnected" in admin.get(_url(world, "search")).content.decode()
    assert AuditEvent.objects.filter(action="search.disconnected", details__index_removed=True).exists()


def test_a_viewer_sees_the_status_but_cannot_change_a_step(client, search_world):
    world = search_world
    viewer = MembershipFactory(role=Role.VIEWER, organization=world.organization).user
    client.force_login(viewer)
    body = client.get(_url(world, "search")).content.decode()
    assert "Items indexed" in body and "Save connection settings" not in body
    response = client.post(_url(world, "search_step", "connection"), {
        "connection-name": "x", "connection-graph_connection_id": "viewer1"})
    assert response.status_code in (403, 404)
    assert not SearchConnection.objects.exists()
