"""Formatting for the Jobs section. Its data comes from the page's view
(`connections.selectors.jobs_context`); nothing here loads any."""

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def run_duration(value: timedelta | None) -> str:
    """A timedelta as "42 s", "3 min 5 s" or "2 h 4 min"."""
    seconds = int(value.total_seconds()) if value else 0
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
