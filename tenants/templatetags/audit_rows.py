"""An audit row's link to its target and what it changed (old -> new), for _audit_table.html."""

from django import template
from django.urls import NoReverseMatch

from portal.reversing import id_url

register = template.Library()

# The page each kind of target has, for members and for support staff (read-only pages).
_MEMBER_PAGES = {
    "connection": "connections:connection_detail",
    "atlassiansite": "tenants:site_detail",
    "microsofttenant": "tenants:tenant_detail",
}
_SUPPORT_PAGES = {
    "connection": "support:connection_detail",
    "organization": "support:organization_detail",
}


@register.simple_tag(takes_context=True)
def audit_target_url(context, event) -> str:
    """Where the row's target can be seen, or "" (removed, or no page of its own)."""
    if not event.target_id or event.action.endswith((".removed", ".deleted")):
        return ""
    request = context.get("request")
    support = bool(request and request.resolver_match and request.resolver_match.namespace == "support")
    name = (_SUPPORT_PAGES if support else _MEMBER_PAGES).get(event.target_type)
    if name is None:
        return ""
    try:
        return id_url(name, event.target_id)
    except (NoReverseMatch, ValueError):
        return ""


def _words(value) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "none"
    return "none" if value in (None, "") else str(value)


@register.filter
def audit_changes(details) -> list[tuple[str, str, str]]:
    """(what, old, new) for each change the row records: {"field": {"from": …, "to": …}}, or a
    row-level {"from": …, "to": …}."""
    if not isinstance(details, dict):
        return []
    if "from" in details and "to" in details:
        return [("", _words(details["from"]), _words(details["to"]))]
    return [
        (name.replace("_", " "), _words(change["from"]), _words(change["to"]))
        for name, change in details.items()
        if isinstance(change, dict) and "from" in change and "to" in change
    ]
