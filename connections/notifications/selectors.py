"""Teams notifications: the reads (the page's rows, the delivery log)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from ..atlassian import client as atlassian_client
from ..atlassian import endpoints as atlassian_endpoints
from ..atlassian import refresh as atlassian_refresh
from ..models import Connection, NotificationDelivery, NotificationTarget, WebhookRegistration

Source = NotificationTarget.Source
LOG_SIZE = 50


def _listed(what: str, call: Any) -> list[dict[str, Any]]:
    try:
        return list(call())
    except (atlassian_refresh.NeedsReauthorization, atlassian_refresh.NotAuthorized) as exc:
        raise ValidationError(f"{exc} Authorize the site again from its page.") from exc
    except (atlassian_client.AtlassianError, OSError) as exc:
        raise ValidationError(f"The Atlassian site did not list its {what} ({exc}).") from exc
    except Exception as exc:  # noqa: BLE001 - atlassian-python-api raises HTTPError subclasses of its own
        raise ValidationError(f"The Atlassian site did not list its {what} ({type(exc).__name__}).") from exc


def _projects(site: Any) -> list[dict[str, Any]]:
    page = atlassian_endpoints.jira_project_search(atlassian_refresh.jira_for(site), max_results=50)
    return [{"source": Source.JIRA_PROJECT, "id": str(p["id"]), "key": p["key"], "name": p["name"]}
            for p in page.get("values", [])]


def _spaces(site: Any) -> list[dict[str, Any]]:
    page = atlassian_endpoints.confluence_spaces(atlassian_refresh.confluence_for(site), limit=50)
    return [{"source": Source.CONFLUENCE_SPACE, "id": str(s["id"]), "key": s["key"], "name": s["name"]}
            for s in page.get("results", [])]


def sources(connection: Connection) -> tuple[list[dict[str, Any]], list[str]]:
    """The site's Jira projects and Confluence spaces (first 50 of each), each with its target,
    and what could not be listed (one product failing leaves the other's rows)."""
    site = connection.site
    products = site.products or ["jira", "confluence"]
    targets = {(t.source, t.source_id): t for t in NotificationTarget.objects.filter(connection=connection)}
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    for product, what, call in (("jira", "Jira projects", _projects), ("confluence", "Confluence spaces", _spaces)):
        if product not in products:
            continue
        try:
            rows += _listed(what, lambda call=call: call(site))
        except ValidationError as exc:
            errors += exc.messages
    for row in rows:
        row["target"] = targets.pop((row["source"], row["id"]), None)
    # Targets whose project or space the site no longer lists stay visible (and removable).
    rows += [{"source": t.source, "id": t.source_id, "key": t.source_key, "name": t.source_name, "target": t,
              "gone": True} for t in targets.values()]
    return rows, errors


def targets(connection: Connection) -> QuerySet[NotificationTarget]:
    return NotificationTarget.objects.filter(connection=connection)


def webhook(connection: Connection) -> WebhookRegistration | None:
    return WebhookRegistration.objects.filter(connection=connection).first()


def delivery_log(connection: Connection, limit: int = LOG_SIZE) -> list[NotificationDelivery]:
    return list(NotificationDelivery.objects.filter(connection=connection).order_by("-created_at", "-pk")[:limit])
