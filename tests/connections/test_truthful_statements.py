"""What the pages say is true: consent advice only when something is missing, Microsoft's
consent screen announced for what it is, and a Jira Service Management feature refused (or the
connection degraded, with the reason) on a site that does not run it."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connections import services
from connections.health.checks import SERVICE_PROJECTS
from connections.microsoft import consent
from connections.models import Connection, PermissionGrant, Provider
from connections.services import grants_request
from connections.status import connection_status_evaluate, connection_status_refresh
from tenants.models import Role
from tenants.models.directory import SiteAuthMode, SiteAuthStatus
from tests.factories import ConnectionFactory, MembershipFactory, SiteFactory, TenantFactory


@pytest.fixture
def admin(db):
    return MembershipFactory(role=Role.ADMIN, organization__name="Acme")


def _connection(admin, *, features, products=("jira",), name="acme-jira"):
    org = admin.organization
    site = SiteFactory(organization=org, name=name, url=f"https://{name}.atlassian.net", products=list(products),
                       authorized=True)
    site.auth_mode, site.auth_status = SiteAuthMode.API_TOKEN, SiteAuthStatus.AUTHORIZED
    site.save()
    connection = ConnectionFactory(organization=org, site=site, features=features,
                                   tenant=TenantFactory(organization=org, display_name="Contoso"))
    grants_request(connection=connection, acting_user=admin.user)
    return connection


def _grant_everything(connection):
    now = timezone.now()
    PermissionGrant.objects.filter(connection=connection, provider=Provider.MICROSOFT).update(
        granted_at=now, observed=True, observed_at=now
    )
    connection_status_refresh(connection=connection)


def _page(admin, connection):
    client = Client()
    client.force_login(admin.user)
    return client.get(reverse("connections:connection_detail", args=[connection.pk])).content.decode()


def test_grant_it_yourself_is_said_only_while_something_is_missing(admin):
    connection = _connection(admin, features=["user_mapping"])
    assert "grant the permissions yourself" in _page(admin, connection)
    _grant_everything(connection)
    page = _page(admin, connection)
    assert "grant the permissions yourself" not in page
    assert "Contoso has granted every permission the features need" in page


def test_where_the_admin_decides_it_says_the_consent_screen_lists_every_application_permission(admin):
    connection = _connection(admin, features=["user_mapping"])
    _, token = consent.consent_request_create(connection=connection, acting_user=admin.user)
    page = Client().get(reverse("connections:microsoft:consent_link", args=[token])).content.decode()
    note = page.split("data-consent-screen-note", 1)[1].split("</div>", 1)[0]
    assert "Microsoft's consent screen lists more than this connection uses" in note
    assert "accepting there grants all of them" in note
    # The application permissions the portal's other features use are named.
    assert "ChannelMessage.Read.All" in note and "User.Read.All" not in note
    assert "data-consent-screen-note" in _page(admin, connection)  # and where the site admin decides
    form = Client()
    form.force_login(admin.user)
    assert "exactly the permissions" not in form.get(reverse("connections:connection_new")).content.decode()


def test_a_jsm_feature_is_refused_on_a_site_without_jsm(admin):
    org = admin.organization
    site = SiteFactory(organization=org, name="acme-jira", products=["jira"])
    tenant = TenantFactory(organization=org)
    client = Client()
    client.force_login(admin.user)
    response = client.post(reverse("connections:connection_new"),
                           {"site": site.pk, "tenant": tenant.pk, "features": ["jsm_chatops"]})
    assert response.status_code == 200
    assert ("Incident chats and meetings (Jira Service Management) needs Jira Service Management, "
            "and the site runs Jira") in response.content.decode()
    assert not Connection.objects.exists()
    with pytest.raises(Exception, match="needs Jira Service Management"):
        services.connection_create(site=site, tenant=tenant, features=["jsm_chatops"], acting_user=admin.user)

    connection = _connection(admin, features=["user_mapping"], name="acme-other")
    response = client.post(reverse("connections:connection_features", args=[connection.pk]),
                           {"features": ["user_mapping", "jsm_chatops"]}, follow=True)
    assert "needs Jira Service Management" in response.content.decode()
    connection.refresh_from_db()
    assert connection.features == ["user_mapping"]


def test_a_jsm_connection_on_a_site_that_runs_no_jsm_is_degraded_and_its_check_fails(admin):
    connection = _connection(admin, features=["jsm_chatops"], products=["jsm"])
    _grant_everything(connection)
    # The site's products are corrected afterwards: it runs Jira only.
    connection.site.products = ["jira"]
    connection.site.save()
    evaluated = connection_status_evaluate(connection)
    assert evaluated.status == Connection.Status.DEGRADED
    assert any("needs Jira Service Management, and the site runs Jira: it cannot work here" in r
               for r in evaluated.reasons)

    class Probe:
        site = connection.site

    result = SERVICE_PROJECTS.run(Probe())
    assert result.outcome == "failed" and "runs no Jira Service Management" in result.message
    assert "0 service project" not in result.message
