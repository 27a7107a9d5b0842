"""Health checks against the sandbox: they pass on a working connection, fail on a revoked
grant with a remedy naming it, recover after consent is given again, and are skipped (with
the reason) when the Atlassian site is not authorized."""

from django.db import transaction
from django.urls import reverse

from connections.atlassian.services import site_mark_needs_reauth
from connections.health.services import health_checks_run
from connections.models import Connection, HealthCheckResult
from connections.services import connection_create
from tenants.models import AtlassianSite, AuditEvent
from tests.factories import SiteFactory


def _by_check(results):
    return {f"{r.feature}/{r.check_name}": r for r in results}


def _status(connection):
    connection.refresh_from_db()
    return connection.status


def test_every_check_passes_on_a_working_connection(connected):
    results = _by_check(health_checks_run(connection=connected.notifications))

    assert set(results) == {
        "credentials/microsoft_app_token", "credentials/microsoft_delegated", "credentials/atlassian_site",
        "teams_notifications/joined_teams", "teams_notifications/jira_projects",
        "user_mapping/read_one_user", "user_mapping/jira_users",
        "channel_knowledge/channel_messages", "channel_knowledge/jira_projects",
    }
    assert {k: r.outcome for k, r in results.items() if r.outcome != "passed"} == {}
    assert "admin@contoso.com" in results["teams_notifications/joined_teams"].message
    assert _status(connected.notifications) == Connection.Status.ACTIVE
    # The delegated token was really renewed, and the page shows when.
    page = connected_page(connected, connected.notifications)
    assert "Renewed the delegated sign-in of admin@contoso.com" in page
    assert 'data-outcome="failed"' not in page


def connected_page(connected, connection):
    from django.test import Client

    client = Client()
    client.force_login(connected.admin)
    return client.get(reverse("connections:connection_detail", args=[connection.pk])).content.decode()


def test_a_revoked_grant_fails_its_check_with_a_remedy_and_recovers_after_consent(connected):
    connected.sandbox.revoke("contoso", "ChannelMessage.Read.All")

    results = _by_check(health_checks_run(connection=connected.notifications))

    failed = results["channel_knowledge/channel_messages"]
    assert failed.outcome == "failed" and failed.cause == "permission"
    assert failed.message == "Application permission ChannelMessage.Read.All is not granted in tenant Contoso."
    assert failed.remedy.startswith("Ask a Global Administrator of Contoso to open a consent link")
    # Features that do not need it keep working.
    assert results["user_mapping/read_one_user"].outcome == "passed"
    assert _status(connected.notifications) == Connection.Status.DEGRADED
    page = connected_page(connected, connected.notifications)
    assert "ChannelMessage.Read.All is not granted in tenant Contoso" in page
    assert "Create a consent link" in page
    # The other connection of the tenant does not use it: still active after its own run.
    health_checks_run(connection=connected.chatops)
    assert _status(connected.chatops) == Connection.Status.ACTIVE

    connected.consent_again(connected.notifications)  # "Give permission" again, through the flow
    results = _by_check(health_checks_run(connection=connected.notifications))

    assert results["channel_knowledge/channel_messages"].outcome == "passed"
    assert _status(connected.notifications) == Connection.Status.ACTIVE
    history = HealthCheckResult.objects.filter(connection=connected.notifications, check_name="channel_messages")
    assert [r.outcome for r in history.order_by("checked_at")] == ["failed", "passed"]
    assert history.filter(is_latest=True).count() == 1
    assert "Earlier runs:" in connected_page(connected, connected.notifications)


def test_checks_are_skipped_with_the_reason_when_the_site_is_not_authorized(connected):
    site = SiteFactory(organization=connected.organization, name="acme-wiki")  # registered, not authorized
    connection = connection_create(site=site, tenant=connected.notifications.tenant, features=["user_mapping"],
                                   acting_user=connected.admin)
    connected.consent_again(connection)  # each connection rests on its own consent

    results = _by_check(health_checks_run(connection=connection))

    assert results["credentials/atlassian_site"].outcome == "skipped"
    assert results["user_mapping/jira_users"].outcome == "skipped"
    assert results["user_mapping/jira_users"].message == (
        f"The Atlassian site {site.name} is not authorized yet: authorize it first."
    )
    assert results["user_mapping/read_one_user"].outcome == "passed"  # the Microsoft side still checked
    # Skipped Atlassian checks are no pass: the connection is not active, and the page says what to do.
    assert _status(connection) == Connection.Status.PENDING_CONSENT
    assert f"Authorize {site.name} from its page." in connected_page(connected, connection)


def test_a_dead_site_grant_marks_its_connections_and_authorizing_again_brings_them_back(connected):
    site = connected.notifications.site
    with transaction.atomic():
        site_mark_needs_reauth(site=site, error="Atlassian no longer accepts the portal's authorization.")
    assert _status(connected.notifications) == Connection.Status.NEEDS_REAUTH
    assert _status(connected.chatops) == Connection.Status.ACTIVE  # another site

    results = _by_check(health_checks_run(connection=connected.notifications))
    failed = results["teams_notifications/jira_projects"]
    assert (failed.outcome, failed.cause) == ("failed", "needs_reauth")
    assert failed.message == "The Atlassian site acme needs re-authorization."
    assert failed.remedy == "Authorize it again from the site's page."
    assert "The Atlassian site acme needs re-authorization: authorize it again." in connected_page(
        connected, connected.notifications
    )

    # Authorizing with too few scopes shows as a failing check naming the scope...
    connected.reauthorize_site(site, features=["teams_notifications"])
    # The new grant supersedes old results, and the status already knows the scope is missing.
    assert _status(connected.notifications) == Connection.Status.DEGRADED
    assert "Not granted on the Atlassian site acme: read:jira-user." in connected_page(
        connected, connected.notifications
    )
    results = _by_check(health_checks_run(connection=connected.notifications))
    failed = results["user_mapping/jira_users"]
    assert (failed.outcome, failed.cause) == ("failed", "permission")
    assert failed.remedy == "Authorize acme again and grant read:jira-user."
    assert _status(connected.notifications) == Connection.Status.DEGRADED

    # ...and authorizing for every feature of the connection brings it back.
    connected.reauthorize_site(site, features=connected.notifications.features)

    health_checks_run(connection=connected.notifications)
    assert _status(connected.notifications) == Connection.Status.ACTIVE


def test_run_health_checks_from_the_page_is_admin_only_and_audited(connected, client):
    from tenants.models import Membership, Role
    from tests.factories import UserFactory

    viewer = UserFactory()
    Membership.objects.create(organization=connected.organization, user=viewer, role=Role.VIEWER)
    url = reverse("connections:connection_health_run", args=[connected.chatops.pk])
    client.force_login(viewer)
    assert client.post(url).status_code == 403
    assert not HealthCheckResult.objects.filter(connection=connected.chatops).exists()

    client.force_login(connected.admin)
    response = client.post(url)  # the task runs after commit (eagerly in tests)

    assert response.status_code == 302
    results = HealthCheckResult.objects.filter(connection=connected.chatops, is_latest=True)
    assert {r.feature for r in results} == {"credentials", "jsm_chatops", "user_mapping"}
    assert results.filter(outcome="failed").count() == 0
    actions = list(AuditEvent.objects.filter(organization=connected.organization, target_id=str(connected.chatops.pk))
                   .values_list("action", "actor_user"))
    assert ("health.checks_requested", connected.admin.pk) in actions
    assert ("health.checks_ran", connected.admin.pk) in actions


def test_consent_withdrawn_in_the_tenant_needs_reauthorization_until_given_again(connected):
    connected.sandbox.revoke("contoso")  # every application and delegated grant of the portal's app

    results = _by_check(health_checks_run(connection=connected.chatops))

    delegated = results["credentials/microsoft_delegated"]
    assert (delegated.outcome, delegated.cause) == ("failed", "needs_reauth")
    assert delegated.remedy == "Give permission again as an administrator of Contoso."
    assert results["jsm_chatops/joined_teams"].outcome == "skipped"
    app_token = results["credentials/microsoft_app_token"]
    assert (app_token.outcome, app_token.cause) == ("failed", "permission")
    assert "carries none of the 4 application permission(s)" in app_token.message
    assert results["jsm_chatops/read_one_user"].message == (
        "Application permission User.Read.All is not granted in tenant Contoso."
    )
    assert _status(connected.chatops) == Connection.Status.NEEDS_REAUTH
    page = connected_page(connected, connected.chatops)
    assert "Microsoft refused to renew the delegated sign-in of admin@contoso.com" in page
    assert 'data-app-token="' in page

    connected.consent_again(connected.chatops)
    results = _by_check(health_checks_run(connection=connected.chatops))

    assert {k: r.outcome for k, r in results.items() if r.outcome != "passed"} == {}
    assert _status(connected.chatops) == Connection.Status.ACTIVE


def test_an_unavailable_service_fails_with_try_later_and_the_next_good_run_restores_active(connected, settings):
    settings.SYNC_HTTP_MAX_ATTEMPTS = 1  # no retries: the check reports what it met
    connected.sandbox.set_fault("error_rate", "contoso", share=1, status=503)

    results = _by_check(health_checks_run(connection=connected.chatops))

    unavailable = [r for r in results.values() if r.outcome == "failed"]
    assert unavailable and all(r.cause == "unavailable" for r in unavailable)
    assert all("later" in r.remedy for r in unavailable)
    assert _status(connected.chatops) == Connection.Status.DEGRADED
    assert results["jsm_chatops/jira_users"].outcome == "passed"  # Atlassian is fine

    connected.sandbox.clear_faults()
    health_checks_run(connection=connected.chatops)
    assert _status(connected.chatops) == Connection.Status.ACTIVE


def test_two_runs_at_once_leave_one_latest_result_per_check(connected):
    import threading

    from django.db import connection as db

    barrier, errors = threading.Barrier(2), []

    def run():
        try:
            barrier.wait(timeout=30)
            health_checks_run(connection=Connection.objects.get(pk=connected.chatops.pk))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    rows = HealthCheckResult.objects.filter(connection=connected.chatops)
    latest = rows.filter(is_latest=True)
    assert latest.count() == rows.count() // 2 == 10  # incident chats also look for the Teams app in the catalog
    assert len({(r.feature, r.check_name) for r in latest}) == 10
    assert _status(connected.chatops) == Connection.Status.ACTIVE


def test_a_disconnected_connection_is_not_checked(connected, client):
    from connections.lifecycle import connection_disconnect

    connection_disconnect(connection=connected.chatops, acting_user=connected.admin)

    assert health_checks_run(connection=connected.chatops) == []
    client.force_login(connected.admin)
    response = client.post(reverse("connections:connection_health_run", args=[connected.chatops.pk]), follow=True)
    assert response.status_code == 200
    assert "This connection is disconnected: reconnect it before checking it." in response.content.decode()
    assert not HealthCheckResult.objects.filter(connection=connected.chatops).exists()
    assert _status(connected.chatops) == Connection.Status.DISCONNECTED


def test_a_site_on_an_api_token_is_checked_with_it(connected, settings):
    from connections.atlassian.services import api_token_connect

    site = connected.notifications.site
    # The demo seed registers sites at the demo's port; basic auth goes to the site itself.
    AtlassianSite.objects.filter(pk=site.pk).update(url=settings.ATLASSIAN_EXTRA_SITE_PREFIXES[0] + site.name)
    site.refresh_from_db()
    user = next(u for u in connected.sandbox.atlassian.get("users", [])
                if u.get("api_token") and site.name in u.get("sites", [site.name]))
    api_token_connect(organization=connected.organization, url=site.url, email=user["email"],
                      api_token=user["api_token"], acting_user=connected.admin, site=site)

    results = _by_check(health_checks_run(connection=connected.notifications))

    assert results["credentials/atlassian_site"].message == f"{site.name} uses an API token of {user['email']}."
    assert results["teams_notifications/jira_projects"].outcome == "passed"
    assert results["user_mapping/jira_users"].outcome == "passed"
    assert _status(connected.notifications) == Connection.Status.ACTIVE


def test_the_microsoft_search_check_lists_the_apps_search_connections(connected):
    from connections.services import connection_set_features

    connection = connected.notifications
    connection_set_features(connection=connection, features=[*connection.features, "confluence_search"],
                            acting_user=connected.admin)
    connected.consent_again(connection)
    # The site granted read:space:confluence with Teams notifications (their Confluence spaces); the
    # search feature's other scopes are what the site must grant again.
    assert "read:page:confluence" not in connection.site.granted_scopes
    spaces = _by_check(health_checks_run(connection=connection))["confluence_search/confluence_spaces"]
    assert spaces.outcome == "passed"
    connected.reauthorize_site(connection.site, features=connection.features)

    results = _by_check(health_checks_run(connection=connection))

    check = results["confluence_search/search_connection"]
    assert check.outcome == "passed", check.message
    assert check.message == "Listed the portal's Microsoft Search connections in Contoso: 0."
    spaces = results["confluence_search/confluence_spaces"]
    assert spaces.outcome == "passed", spaces.message
    assert connected.sandbox.requests(path_contains="/v1.0/external/connections")

    connected.sandbox.revoke("contoso", "ExternalConnection.ReadWrite.OwnedBy", delegated=False)
    failed = _by_check(health_checks_run(connection=connection))["confluence_search/search_connection"]
    assert failed.outcome == "failed" and "ExternalConnection.ReadWrite.OwnedBy is not granted" in failed.message
