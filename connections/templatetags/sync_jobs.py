"""{% sync_jobs %}: the connection page's Jobs section, with its own data, so the page's view
needs no change to show it."""

from django import template

from ..sync.views import jobs_context

register = template.Library()


@register.inclusion_tag("connections/_sync_jobs.html", takes_context=True)
def sync_jobs(context, connection):
    data = jobs_context(connection)
    refused = context.get("schedule_refused")
    for schedule in data["schedules"] if refused else ():
        if schedule.kind == refused["kind"]:
            # Show what was typed, not what is stored, with the errors by their fields.
            schedule.full_every_minutes = refused["values"]["full_every_minutes"]
            schedule.incremental_every_minutes = refused["values"]["incremental_every_minutes"]
            schedule.enabled = refused["enabled"]
            schedule.refused = refused["errors"]
    return {
        **data,
        "current_membership": context.get("current_membership"),
        "csrf_token": context.get("csrf_token"),
        "request": context.get("request"),
    }


@register.filter
def run_duration(value):
    """A timedelta as "42 s", "3 min 5 s" or "2 h 4 min"."""
    seconds = int(value.total_seconds()) if value else 0
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
