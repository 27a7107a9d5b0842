"""A connection's row in a list (its link, its status, its date), cheap enough for a page of 50
rows and the dashboard's 10 x 10 matrix: `{% url %}`, an include and the `date` filter per row
cost several times the rest of the row together.

- `{% id_url "connections:connection_detail" connection.id %}`: `{% url %}` for a page named by
  one integer id (portal.reversing reverses it once, then fills in each row's id).
- `{{ connection|status_badge }}`: `<span class="status status-…">label</span>`, made once per status.
- `{{ value|day }}`: a date and time as YYYY-MM-DD in the current time zone, as `date:"Y-m-d"`.
"""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from portal import reversing

from ..models import Connection

register = template.Library()


def _badge(value: str, label: str) -> SafeString:
    return format_html('<span class="status status-{}">{}</span>', value, label)


# The labels are fixed text: each status's badge is made once.
_BADGES = {status.value: _badge(status.value, status.label) for status in Connection.Status}


@register.simple_tag
def id_url(name: str, pk: int) -> str:
    return reversing.id_url(name, pk)


@register.filter(is_safe=True)
def status_badge(connection: Connection) -> SafeString:
    badge = _BADGES.get(connection.status)
    # A status that is no longer a choice is shown as it is stored.
    return badge if badge is not None else _badge(connection.status, connection.status)


@register.filter
def day(value: datetime | None) -> str:
    if not value:
        return ""
    return (timezone.localtime(value) if timezone.is_aware(value) else value).date().isoformat()
