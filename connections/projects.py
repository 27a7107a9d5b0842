"""The service projects of a connection's Jira Service Management site, each with Teams on
or off (seed 004)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenants.audit import audit_record
from tenants.models import AuditAction
from tenants.models.directory import SiteAuthStatus
from tenants.services import require_admin

from .atlassian import client as atlassian
from .atlassian import endpoints as atlassian_endpoints
from .atlassian import refresh
from .models import Connection, ConnectionProject

PAGE_SIZE = 50


def fetch_service_projects(site):
    """All service projects of the site from Jira, paged. Raises ValidationError with a
    message for the page when the site cannot be read."""
    try:
        jira = refresh.jira_for(site)
        projects, start = [], 0
        while True:
            page = atlassian_endpoints.jira_project_search(
                jira, type_key="service_desk", start_at=start, max_results=PAGE_SIZE
            )
            values = page.get("values", [])
            projects += [{"id": str(p["id"]), "key": p["key"], "name": p["name"]} for p in values]
            start += len(values)
            if page.get("isLast", True) or not values:
                return projects
    except (refresh.NeedsReauthorization, refresh.NotAuthorized) as exc:
        raise ValidationError(f"{exc} Authorize the site again from its page, then refresh the projects.") from exc
    except (atlassian.AtlassianError, OSError) as exc:
        raise ValidationError(
            f"Jira did not list the service projects of {site} ({exc}). Nothing was changed; try again shortly."
        ) from exc
    except Exception as exc:  # noqa: BLE001 - atlassian-python-api raises HTTPError subclasses of its own
        raise ValidationError(
            f"Jira did not list the service projects of {site} ({type(exc).__name__}). Nothing was changed; "
            "try again shortly."
        ) from exc


def projects_refresh(*, connection, acting_user=None):
    """Upsert the site's service projects on the connection; projects no longer listed are
    marked gone (their switch kept). Idempotent."""
    fetched = fetch_service_projects(connection.site)  # outside the transaction: a network call
    now = timezone.now()
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection.pk)
        existing = {p.project_id: p for p in connection.projects.all()}
        added, back = [], []
        for project in fetched:
            row = existing.pop(project["id"], None)
            if row is None:
                row = ConnectionProject(connection=connection, project_id=project["id"])
                added.append(project["key"])
            elif row.gone_at:
                back.append(project["key"])
            row.key, row.name, row.seen_at, row.gone_at = project["key"], project["name"], now, None
            row.save()
        gone = [row for row in existing.values() if row.gone_at is None]
        ConnectionProject.objects.filter(pk__in=[r.pk for r in gone]).update(gone_at=now)
        if added or back or gone or acting_user is not None:
            audit_record(
                organization=connection.organization, action=AuditAction.PROJECTS_REFRESHED, actor=acting_user,
                target=connection,
                details={"added": added, "back": back, "gone": [r.key for r in gone], "count": len(fetched)},
            )
    return connection.projects.all()


def reads_service_projects(connection):
    """Whether the connection has service projects to list: a Jira Service Management site
    the portal may read, on a connection that is not disconnected."""
    return (
        "jsm" in (connection.site.products or [])
        and connection.site.auth_status == SiteAuthStatus.AUTHORIZED
        and connection.status != Connection.Status.DISCONNECTED
    )



@transaction.atomic
def project_set_teams(*, project, enabled, acting_user):
    require_admin(project.connection.organization, acting_user)
    project = ConnectionProject.objects.select_for_update().select_related("connection").get(pk=project.pk)
    if project.gone_at:
        raise ValidationError(f"{project.key} is no longer in Jira; its switch cannot change.")
    if project.connection.status == Connection.Status.DISCONNECTED:
        raise ValidationError("This connection is disconnected; reconnect it to change its projects.")
    if project.teams_enabled == enabled:
        return project
    project.teams_enabled, project.updated_at, project.updated_by = enabled, timezone.now(), acting_user
    project.save(update_fields=["teams_enabled", "updated_at", "updated_by"])
    audit_record(
        organization=project.connection.organization, action=AuditAction.PROJECT_TEAMS_SWITCHED, actor=acting_user,
        target=project.connection, details={"project": project.key, "teams": "on" if enabled else "off"},
    )
    return project
