"""The user mapping page: counts and the filtered list for members; forms for admins only."""

from urllib.parse import quote, unquote_plus

from django.urls import reverse

from connections.models import ManualMapping, UserMatch
from tenants.models import AuditEvent


def url(world, name="user_mapping"):
    return reverse(f"connections:{name}", args=[world.connection.pk])


def test_members_see_counts_and_filter_the_list(matching, client):
    w = matching
    w.run()
    client.force_login(w.viewer)
    page = client.get(url(w)).content.decode()
    hidden = UserMatch.objects.filter(connection=w.connection, outcome="hidden").count()
    assert f"<dt>Hidden email</dt><dd>{hidden}</dd>" in page
    assert "Save identity mode" not in page and "Save mapping" not in page  # viewers read only
    only_hidden = client.get(url(w), {"show": "hidden"}).content.decode()
    assert "Hal Hidden" in only_hidden and "Ada Admin" not in only_hidden
    assert client.post(url(w, "user_mapping_manual"), {"account_id": "x", "microsoft_user": "y"}).status_code == 403


def test_an_admin_maps_an_account_by_upn_and_bad_input_gets_a_form_error(matching, client):
    w = matching
    w.run()
    client.force_login(w.admin)
    hal = w.account_id("hal.hidden@acme.example")
    bad = client.post(url(w, "user_mapping_manual"), {"account_id": hal, "microsoft_user": "ghost@fabrikam.com"})
    assert bad.status_code == 400 and "No Microsoft user with this id or UPN" in bad.content.decode()
    assert not ManualMapping.objects.exists()
    ok = client.post(url(w, "user_mapping_manual"), {"account_id": hal, "microsoft_user": "alice@fabrikam.com"})
    assert ok.status_code == 302
    row = UserMatch.objects.get(connection=w.connection, account_id=hal)
    assert (row.outcome, row.method, row.microsoft_user_id) == ("matched", "manual", w.ms_id("alice@fabrikam.com"))
    listed = client.get(url(w), {"show": "matched:manual"}).content.decode()
    assert "Hal Hidden" in listed and "Remove manual mapping" in listed


def test_a_catastrophic_rule_is_refused_on_the_form(matching, client):
    client.force_login(matching.admin)
    response = client.post(
        url(matching, "user_mapping_identity"),
        {"identity_mode": "non_entra", "upn_pattern": r"(\w+\s?)+@acme\.example", "upn_replacement": r"\1@x.com"},
    )
    assert response.status_code == 400 and "repeats a group" in response.content.decode()
    assert not AuditEvent.objects.filter(action="user_matching.settings_changed").exists()


def test_email_storage_is_an_audited_organization_choice(matching, client):
    w = matching
    client.force_login(w.admin)
    client.post(url(w, "user_mapping_emails"), {"store_emails": "on"})
    w.run()
    assert UserMatch.objects.filter(connection=w.connection).exclude(email="").exists()
    client.post(url(w, "user_mapping_emails"), {})
    assert not UserMatch.objects.filter(connection=w.connection).exclude(email="").exists()
    changes = AuditEvent.objects.filter(action="organization.email_storage_changed").order_by("pk")
    assert [e.details["after"] for e in changes] == [True, False]


def test_each_row_has_a_map_action_that_fills_in_the_manual_form(matching, client):
    w = matching
    w.run()
    client.force_login(w.admin)
    hal = w.account_id("hal.hidden@acme.example")
    page = client.get(url(w), {"show": "hidden"}).content.decode()
    assert f'href="?map={quote(hal, safe="/")}#manual-mapping" data-map>map…</a>' in page
    form = client.get(url(w), {"map": hal}).content.decode()
    manual = form.split('id="manual-mapping"', 1)[1]
    assert f'name="account_id" value="{hal}"' in manual


def test_the_list_exports_as_csv_with_its_filters_and_the_export_is_audited(matching, client):
    import csv
    import io

    w = matching
    w.run()
    client.force_login(w.viewer)
    page = client.get(url(w), {"show": "hidden"}).content.decode()
    assert f'href="{url(w, "user_mapping_export")}?show=hidden"' in page
    response = client.get(url(w, "user_mapping_export"), {"show": "hidden"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["atlassian_account_id", "display_name", "email", "outcome", "method", "microsoft_user_id"]
    hidden = UserMatch.objects.filter(connection=w.connection, outcome="hidden").count()
    assert len(rows) == hidden + 1 and any(r[1] == "Hal Hidden" for r in rows[1:])
    event = AuditEvent.objects.get(action="user_matching.exported")
    assert event.details["rows"] == hidden and event.actor_user == w.viewer


def test_the_microsoft_users_name_and_upn_stand_beside_the_id_read_live_and_never_stored(matching, client):
    w = matching
    account = w.add_account("alice@fabrikam.com", name="Alice in Jira")
    w.run()
    row = UserMatch.objects.get(connection=w.connection, account_id=account)
    alice = w.sandbox.user("fabrikam", "alice@fabrikam.com")
    assert row.microsoft_user_id == str(alice.pk)
    client.force_login(w.viewer)
    since = max([r.pk for r in w.sandbox.requests()] or [0])
    page = client.get(url(w), {"q": row.display_name}).content.decode()
    assert alice.display_name in page and alice.user_principal_name in page and str(alice.pk) in page
    # Read with the declared call: ids in, name and sign-in name out, 15 ids at most per request.
    calls = [r for r in w.sandbox.requests(since_id=since) if r.path.endswith("/v1.0/users")]
    assert calls and all("id in (" in unquote_plus(r.query) and "displayName" in unquote_plus(r.query) for r in calls)
    # Nothing of it is kept: no stored row holds the name.
    assert not UserMatch.objects.filter(connection=w.connection, display_name=alice.display_name).exclude(
        pk=row.pk
    ).exists()

    # Microsoft unavailable: the ids are still shown, with the reason, and the page still answers.
    w.sandbox.set_fault("error_rate", "fabrikam", share=1.0, status=503)
    degraded = client.get(url(w), {"q": row.display_name})
    assert degraded.status_code == 200 and str(alice.pk) in degraded.content.decode()
    assert "did not give the users&#x27; names just now" in degraded.content.decode()
