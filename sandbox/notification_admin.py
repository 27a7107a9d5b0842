"""The sandbox's Teams notifications page (/_sandbox/teams/): the messages bots posted into each
channel, the Jira webhooks apps registered, and "trigger an issue update" to send a Jira event
through them (what a person editing an issue in Jira would cause)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from .admin_views import _demo_admin_required
from .atlassian import webhook_views
from .atlassian.models import DynamicWebhook, Project
from .microsoft.bot_models import BotActivity, TeamAppInstallation

EVENTS = (("jira:issue_updated", "Issue updated"), ("jira:issue_created", "Issue created"))


@_demo_admin_required
@require_http_methods(["GET", "POST"])
def teams(request):
    if request.method == "POST":
        project = get_object_or_404(Project.objects.select_related("site"), pk=request.POST.get("project"))
        event = request.POST.get("event") if request.POST.get("event") in dict(EVENTS) else "jira:issue_updated"
        number = request.POST.get("number", "1").strip() or "1"
        summary = request.POST.get("summary", "").strip()[:200] or "Something changed"
        body = webhook_views.issue_event(
            project.site, event=event, project=project, key=f"{project.key}-{number[:8]}", summary=summary,
            status="In Progress", changes=[{"field": "status", "fromString": "To Do", "toString": "In Progress"}]
            if event == "jira:issue_updated" else None,
        )
        sent = webhook_views.deliver(project.site, body)
        if sent:
            messages.success(request, "Sent to " + ", ".join(f"webhook {w} (HTTP {s or 'no answer'})" for w, s in sent))
        else:
            messages.warning(request, f"No live webhook of {project.site.name} matches {project.key}: nothing sent.")
        return redirect("sandbox:teams")
    return render(request, "sandbox/teams.html", {
        "activities": BotActivity.objects.select_related("channel__team").order_by("-created")[:100],
        "installations": TeamAppInstallation.objects.select_related("team").order_by("team__display_name"),
        "webhooks": DynamicWebhook.objects.select_related("site", "app").order_by("webhook_id"),
        "projects": Project.objects.select_related("site").order_by("site__name", "key"),
        "events": EVENTS,
    })
