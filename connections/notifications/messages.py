"""A Jira event as the Teams message the portal's app posts: an Adaptive Card with the issue's
key and summary, what happened, and a link to the issue.
Reference: https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-reference#adaptive-card
"""

from dataclasses import dataclass
from typing import Any

CARD = "application/vnd.microsoft.card.adaptive"

WHAT = {"jira:issue_created": "created", "jira:issue_updated": "updated"}


@dataclass(frozen=True)
class IssueEvent:
    event: str
    key: str
    summary: str
    project_id: str
    project_key: str
    status: str
    actor: str
    changes: tuple[str, ...]
    link: str
    event_key: str  # one event: Atlassian may deliver it twice


def issue_event(body: Any, site_url: str) -> IssueEvent | None:
    """The event, or None when the body is not an issue event the portal posts."""
    if not isinstance(body, dict) or body.get("webhookEvent") not in WHAT:
        return None
    issue: dict = body["issue"] if isinstance(body.get("issue"), dict) else {}
    fields: dict = issue["fields"] if isinstance(issue.get("fields"), dict) else {}
    project: dict = fields["project"] if isinstance(fields.get("project"), dict) else {}
    key = str(issue.get("key", ""))[:50]
    if not key or not project.get("id"):
        return None
    changes = []
    for item in ((body.get("changelog") or {}).get("items") or [])[:5]:
        if isinstance(item, dict) and item.get("field"):
            before, after = item.get("fromString") or "—", item.get("toString") or "—"
            before, after = item.get("fromString") or "—", item.get("toString") or "—"
            changes.append(f"{item.get('field')}: {before} → {after}"[:200])
    user: dict = body["user"] if isinstance(body.get("user"), dict) else {}
    return IssueEvent(
        event=body["webhookEvent"], key=key, summary=str(fields.get("summary", ""))[:300],
        project_id=str(project.get("id")), project_key=str(project.get("key", ""))[:50],
        status=str((fields.get("status") or {}).get("name", ""))[:100], actor=str(user.get("displayName", ""))[:200],
        changes=tuple(changes), link=f"{site_url.rstrip('/')}/browse/{key}",
        event_key=f"{body['webhookEvent']}:{issue.get('id', key)}:{body.get('timestamp', '')}"[:200],
    )


def activity(event: IssueEvent) -> dict[str, Any]:
    """The Bot Framework activity: a message with one Adaptive Card."""
    facts = [{"title": "Status", "value": event.status or "—"}]
    if event.actor:
        facts.append({"title": "By", "value": event.actor})
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True,
         "text": f"{event.key} {WHAT[event.event]}: {event.summary}"},
        {"type": "FactSet", "facts": facts},
    ]
    body += [{"type": "TextBlock", "wrap": True, "isSubtle": True, "text": change} for change in event.changes]
    return {
        "type": "message",
        "summary": f"{event.key} {WHAT[event.event]}",
        "attachments": [{
            "contentType": CARD,
            "content": {"type": "AdaptiveCard", "version": "1.4", "body": body,
                        "actions": [{"type": "Action.OpenUrl", "title": "Open in Jira", "url": event.link}]},
        }],
    }


def page_activity(*, space_key: str, title: str, link: str) -> dict[str, Any]:
    """A changed Confluence page as the Bot Framework activity."""
    return {
        "type": "message",
        "summary": f"{title} updated",
        "attachments": [{
            "contentType": CARD,
            "content": {"type": "AdaptiveCard", "version": "1.4",
                        "body": [{"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True,
                                  "text": f"Confluence page updated in {space_key}: {title}"}],
                        "actions": [{"type": "Action.OpenUrl", "title": "Open in Confluence", "url": link}]},
        }],
    }
