"""Graph: apps installed in a team (GET/POST /teams/{id}/installedApps).

Reference: https://learn.microsoft.com/graph/api/team-post-installedapps
Reference: https://learn.microsoft.com/graph/api/team-list-installedapps

- The body binds the app by its catalog id (`teamsApp@odata.bind` ending in
  `/appCatalogs/teamsApps/{id}`): the catalog id, not the manifest's id.
- The "Self" permissions (TeamsAppInstallation.ReadWriteSelfForTeam, delegated;
  ….ReadWriteSelfForTeam.All, application) let an app install only itself, and cannot install an
  app that needs resource-specific consent.
- A delegated caller acts in the teams they belong to.
- Adding the app answers 200 with no body; the app's bot then joins the team's roster.
- Adding an app the team already has is refused with 409 Conflict [U: observed, not documented].
"""

import json
import re

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ..bot_models import TeamAppInstallation
from ..models import TeamsApp
from .common import TEAMS, context_url, error, graph_endpoint, ok
from .teams import _team_for

SELF = ("TeamsAppInstallation.ReadWriteSelfForTeam",)
SELF_APP = ("TeamsAppInstallation.ReadWriteSelfForTeam.All",)
ANY = ("TeamsAppInstallation.ReadWriteForTeam", "TeamsAppInstallation.ReadWriteAndConsentSelfForTeam",
       "Group.ReadWrite.All", "Directory.ReadWrite.All")
ANY_APP = ("TeamsAppInstallation.ReadWriteForTeam.All", "TeamsAppInstallation.ReadWriteAndConsentForTeam.All",
           "Group.ReadWrite.All", "Directory.ReadWrite.All")
READ = ("TeamsAppInstallation.ReadSelfForTeam", "TeamsAppInstallation.ReadForTeam", *SELF, *ANY)
READ_APP = ("TeamsAppInstallation.ReadSelfForTeam.All", "TeamsAppInstallation.ReadForTeam.All", *SELF_APP, *ANY_APP)

_BIND = re.compile(r"/appCatalogs/teamsApps/([^/?']+)$")


def _catalog_app(tenant, catalog_id):
    return TeamsApp.objects.filter(tenant=tenant, pk=catalog_id).first() if _is_uuid(catalog_id) else None


def _is_uuid(value):
    return bool(re.fullmatch(r"[0-9a-fA-F-]{36}", value))


def _installation_json(row):
    return {
        "id": str(row.id),
        "teamsApp": {"id": row.teams_app_id, "externalId": row.external_id or None, "displayName": row.display_name,
                     "distributionMethod": "organization"},
    }


def _post(request, caller, version, team):
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return error(400, "BadRequest", "Invalid request body.", request=request)
    match = _BIND.search(str(body.get("teamsApp@odata.bind", ""))) if isinstance(body, dict) else None
    if match is None:
        return error(400, "BadRequest", "teamsApp@odata.bind must name an app of the catalog.", request=request)
    app = _catalog_app(caller.tenant, match.group(1))
    if app is None:
        # A manifest id (externalId) used as the catalog id lands here too.
        return error(404, "NotFound", "The teamsApp was not found in the tenant's app catalog.", request=request)
    held = caller.permissions
    self_only = not (held & set(ANY_APP if caller.is_app else ANY))
    if self_only and app.azure_app_id != caller.app_id:
        return error(403, "Forbidden", "The 'Self' permissions install only the calling app itself.", request=request)
    if self_only and app.needs_rsc:
        return error(403, "Forbidden", "The app needs resource-specific consent: the 'Self' permissions cannot "
                     "install it.", request=request)
    if TeamAppInstallation.objects.filter(team=team, teams_app_id=str(app.pk)).exists():
        return error(409, "Conflict", "The app is already installed in this team.", request=request)
    TeamAppInstallation.objects.create(
        team=team, teams_app_id=str(app.pk), external_id=app.external_id, display_name=app.display_name,
        bot_app_id=app.azure_app_id, installed_by=str(caller.user.pk) if caller.user else caller.app_id,
    )
    return HttpResponse(status=200)


@csrf_exempt
@graph_endpoint(application=(*READ_APP,), delegated=(*READ,), workload=TEAMS)
def installed_apps(request, caller, version, team_id):
    team = _team_for(caller, team_id)
    if team is None:
        return error(404, "NotFound", "Team not found or the caller has no access.", request=request)
    if request.method == "POST":
        allowed = set(SELF_APP + ANY_APP if caller.is_app else SELF + ANY)
        if not allowed & caller.permissions:
            return error(403, "Forbidden", f"Missing permissions on the request. API requires one of "
                         f"'{', '.join(sorted(allowed))}'.", request=request)
        return _post(request, caller, version, team)
    if request.method != "GET":
        return error(405, "MethodNotAllowed", "Method not allowed.", request=request)
    rows = TeamAppInstallation.objects.filter(team=team).order_by("created")
    return ok({"@odata.context": context_url(request, version, f"teams('{team_id}')/installedApps"),
               "value": [_installation_json(r) for r in rows]})
