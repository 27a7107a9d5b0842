"""{% sync_jobs %}: the connection page's Jobs section, with its own data, so the page's view
needs no change to show it."""

from django import template

register = template.Library()


@register.inclusion_tag("connections/_sync_jobs.html", takes_context=True)
def sync_jobs(context, connection):
    from ..sync.views import jobs_context

    return {
        **jobs_context(connection),
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
