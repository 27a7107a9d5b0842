"""Teams on or off per service project of a Jira Service Management site (seed 004)."""

from django.db import transaction
from django.urls import reverse

from connections.models import ConnectionProject
from tenants.models import AuditEvent


def _refresh(client, connection):
    return client.post(reverse("connections:projects_refresh", args=[connection.pk]), follow=True)


def test_service_projects_come_from_jira_and_each_has_a_teams_switch(acme_live, client):
    jsm = acme_live.jsm
    client.force_login(acme_live.admin)
    # Read by a worker when the connection was made: listed without anyone asking.
    page = client.get(reverse("connections:connection_detail", args=[jsm.pk])).content.decode()
    assert "Service projects" in page and 'data-project="IT"' in page
    # Once connected, the tenant serves every service project; the page says what "on" means.
    assert list(jsm.projects.values_list("key", "teams_enabled")) == [("FAC", True), ("HRSD", True), ("IT", True)]
    assert "Teams on means incident responders in that project can create Microsoft Teams chats" in page
    assert "switch it off for a project that should not use" in page

    response = _refresh(client, jsm)

    assert "3 service projects read from Jira" in response.content.decode()
    assert jsm.projects.count() == 3
    it = jsm.projects.get(key="IT")
    response = client.post(reverse("connections:project_teams", args=[it.pk]), {"teams": "off"}, follow=True)
    assert "Teams is off for IT" in response.content.decode()
    it.refresh_from_db()
    assert not it.teams_enabled and it.updated_by == acme_live.admin
    event = AuditEvent.objects.get(action="connection.project_teams_switched")
    assert event.details == {"project": "IT", "teams": "off"} and event.actor_user == acme_live.admin
    # A choice made is kept when the list is read again.
    _refresh(client, jsm)
    it.refresh_from_db()
    assert not it.teams_enabled

    client.post(reverse("connections:project_teams", args=[it.pk]), {"teams": "on"})
    it.refresh_from_db()
    assert it.teams_enabled
    assert AuditEvent.objects.filter(action="connection.project_teams_switched").count() == 2


def test_a_project_gone_from_jira_is_marked_not_forgotten(acme_live, client):
    from sandbox.atlassian.models import Project

    jsm = acme_live.jsm
    client.force_login(acme_live.admin)
    _refresh(client, jsm)
    fac = jsm.projects.get(key="FAC")
    client.post(reverse("connections:project_teams", args=[fac.pk]), {"teams": "off"})
    Project.objects.filter(key="FAC").delete()

    page = _refresh(client, jsm).content.decode()

    fac.refresh_from_db()
    assert fac.gone_at and not fac.teams_enabled, "the row and its switch stay, marked gone"
    assert "no longer in Jira" in page
    refreshed = AuditEvent.objects.filter(action="connection.projects_refreshed").order_by("pk")
    assert refreshed.last().details["gone"] == ["FAC"]
    # Refreshing again changes nothing and duplicates nothing.
    _refresh(client, jsm)
    assert jsm.projects.count() == 3


def test_viewers_see_the_switches_but_cannot_change_them(acme_live, client):
    jsm = acme_live.jsm
    client.force_login(acme_live.admin)
    _refresh(client, jsm)
    it = jsm.projects.get(key="IT")
    client.force_login(acme_live.viewer)
    page = client.get(reverse("connections:connection_detail", args=[jsm.pk])).content.decode()
    assert "IT Support" in page and "Refresh from Jira" not in page
    assert client.post(reverse("connections:project_teams", args=[it.pk]), {"teams": "off"}).status_code == 403
    it.refresh_from_db()
    assert it.teams_enabled


def test_a_site_that_needs_reauthorization_gets_a_clear_message_and_loses_nothing(acme_live, client):
    from connections.atlassian.services import site_mark_needs_reauth

    jsm = acme_live.jsm
    client.force_login(acme_live.admin)
    _refresh(client, jsm)
    with transaction.atomic():
        site_mark_needs_reauth(site=jsm.site, error="The refresh token was refused.")

    page = _refresh(client, jsm).content.decode()

    assert "Authorize the site again" in page
    assert ConnectionProject.objects.filter(connection=jsm, gone_at__isnull=True).count() == 3


def test_the_periodic_kickoff_keeps_the_project_list_current(acme_live):
    from connections.tasks import health_checks_kickoff
    from sandbox.atlassian.models import Project

    jsm = acme_live.jsm
    template = Project.objects.get(key="IT")
    Project.objects.create(site=template.site, project_id=10999, key="ONB", name="Onboarding",
                           project_type_key="service_desk")
    Project.objects.filter(key="FAC").delete()

    health_checks_kickoff()  # the beat's task; each refresh runs eagerly here, on a worker in production

    listed = {p.key: p.gone_at is None for p in jsm.projects.all()}
    assert listed == {"FAC": False, "HRSD": True, "IT": True, "ONB": True}
    assert jsm.projects.get(key="ONB").teams_enabled, "a project new in Jira starts with Teams on"
    assert not acme_live.jira.projects.exists(), "a plain Jira site has no service projects"
