"""The incident pages of a service project and the organization's API keys. Thin: the reads
are in selectors.py, the writes in services.py and apikeys.py."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tenants.access import admin_required, member_required, scoped

from ..models import Connection, ConnectionProject, IncidentChat, IncidentMeeting, OrganizationApiKey
from . import apikeys, selectors, services
from .forms import ApiKeyForm, CreateAnywayForm, NoteForm


def _project(request, connection_id, project_id):
    connection = scoped(request, Connection, pk=connection_id)
    project = get_object_or_404(ConnectionProject, pk=project_id, connection=connection)
    return connection, project


def _unmapped_message(request, connection, outcome):
    if outcome.unmapped:
        names = "; ".join(f"{p.name or p.account_id} ({p.reason})" for p in outcome.unmapped)
        messages.warning(request, f"Not added, no Microsoft user: {names}. Map them in the user mapping.")


@member_required
def incidents(request, connection_id, project_id):
    connection, project = _project(request, connection_id, project_id)
    context = {"connection": connection, "project": project, "page": None, "refused": "", "error": ""}
    try:
        selectors.refuse_unless_usable(connection, project)
        page = selectors.open_incidents(connection, project, page_token=request.GET.get("page") or None)
        context["page"] = page
        context["rows"] = [(i, page.chats.get(i.id), page.meetings.get(i.id)) for i in page.incidents]
    except selectors.JiraUnavailable as exc:
        context["error"] = str(exc)
    except selectors.Refused as exc:
        context["refused"] = str(exc)
    return render(request, "connections/chatops/incidents.html", context)


@member_required
def incident(request, connection_id, project_id, issue_key):
    connection, project = _project(request, connection_id, project_id)
    context = {"connection": connection, "project": project, "refused": "", "error": "", "incident": None,
               "responders": [], "note_form": NoteForm(), "anyway_form": CreateAnywayForm()}
    try:
        selectors.refuse_unless_usable(connection, project)
        found = selectors.incident(connection, project, issue_key)
        context["incident"] = found
        context["responders"] = [
            (r, selectors.mapping_url(connection, r.account_id)) for r in selectors.responders(connection, found)
        ]
        context["chat"] = IncidentChat.objects.filter(connection=connection, issue_id=found.id).first()
        context["meeting"] = IncidentMeeting.objects.filter(connection=connection, issue_id=found.id).first()
    except selectors.JiraUnavailable as exc:
        context["error"] = str(exc)
    except selectors.Refused as exc:
        context["refused"] = str(exc)
    return render(request, "connections/chatops/incident.html", context,
                  status=404 if context["error"] and "no incident" in context["error"] else 200)


def _back(connection, project, issue_key):
    return redirect("connections:chatops_incident", connection_id=connection.pk, project_id=project.pk,
                    issue_key=issue_key)


@admin_required
@require_POST
def chat_create(request, connection_id, project_id, issue_key):
    connection, project = _project(request, connection_id, project_id)
    anyway = CreateAnywayForm(request.POST) if "confirm" in request.POST else None
    try:
        outcome = services.chat_create(connection=connection, project=project, issue_key=issue_key,
                                       acting_user=request.user, confirm_unknown=bool(anyway and anyway.is_valid()))
    except selectors.Refused as exc:
        messages.error(request, str(exc))
    else:
        (messages.success if outcome.created else messages.info)(request, outcome.message)
        if outcome.chat.app_error:
            messages.warning(request, f"The portal's Teams app is not in the chat: {outcome.chat.app_error}")
        _unmapped_message(request, connection, outcome)
    return _back(connection, project, issue_key)


@admin_required
@require_POST
def chat_members_sync(request, connection_id, project_id, issue_key):
    connection, project = _project(request, connection_id, project_id)
    chat = get_object_or_404(IncidentChat, connection=connection, project=project, issue_key=issue_key.upper())
    try:
        outcome = services.members_sync(connection=connection, chat=chat, acting_user=request.user)
    except selectors.Refused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, outcome.message)
        _unmapped_message(request, connection, outcome)
    return _back(connection, project, issue_key)


@admin_required
@require_POST
def meeting_start(request, connection_id, project_id, issue_key):
    connection, project = _project(request, connection_id, project_id)
    try:
        outcome = services.meeting_start(connection=connection, project=project, issue_key=issue_key,
                                         acting_user=request.user)
    except selectors.Refused as exc:
        messages.error(request, str(exc))
    else:
        (messages.success if outcome.created else messages.info)(request, outcome.message)
    return _back(connection, project, issue_key)


@admin_required
@require_POST
def note_add(request, connection_id, project_id, issue_key):
    connection, project = _project(request, connection_id, project_id)
    form = NoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return _back(connection, project, issue_key)
    try:
        services.note_add(connection=connection, project=project, issue_key=issue_key,
                          text=form.cleaned_data["text"], author=form.cleaned_data["author"],
                          acting_user=request.user)
    except selectors.Refused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"The message was added to {issue_key.upper()} as an internal note.")
    return _back(connection, project, issue_key)


@admin_required
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            new_key = apikeys.api_key_create(organization=request.organization, name=form.cleaned_data["name"],
                                             acting_user=request.user)
        except ValidationError as exc:
            form.add_error("name", exc)
        else:
            form = ApiKeyForm()
    keys = OrganizationApiKey.objects.filter(organization=request.organization).select_related("created_by")
    status = 400 if request.method == "POST" and new_key is None else 200
    # The new key's secret is in this response only; the page is not cached.
    response = render(request, "connections/chatops/api_keys.html",
                      {"form": form, "keys": keys, "new_key": new_key}, status=status)
    response["Cache-Control"] = "no-store"
    return response


@admin_required
@require_POST
def api_key_revoke(request, key_id):
    key = scoped(request, OrganizationApiKey, pk=key_id)
    apikeys.api_key_revoke(key=key, acting_user=request.user)
    messages.success(request, f"{key} is revoked: calls with it are refused from now on.")
    return redirect("connections:api_keys")
