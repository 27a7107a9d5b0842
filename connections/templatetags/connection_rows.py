"""`{{ connection|status_badge }}`: a connection's status as a badge, made once per status.

An include per row (what the badge was) costs more than the rest of a connection's row in a list
of 50 or the dashboard's 10 x 10 matrix; the labels are fixed text."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..models import Connection

register = template.Library()


def _badge(value: str, label: str) -> SafeString:
    return format_html('<span class="status status-{}">{}</span>', value, label)


_BADGES = {status.value: _badge(status.value, status.label) for status in Connection.Status}


@register.filter(is_safe=True)
def status_badge(connection: Connection) -> SafeString:
    badge = _BADGES.get(connection.status)
    # A status that is no longer a choice is shown as it is stored.
    return badge if badge is not None else _badge(connection.status, connection.status)
