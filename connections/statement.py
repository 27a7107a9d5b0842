"""The data-handling statement, generated from the permission catalog, the endpoint declarations
and the settings, in the layout of Microsoft's publisher attestation ("How the app handles
data"): Graph permissions with their type, what is collected and why, what is stored and why,
and the app id; non-Microsoft services (Atlassian Cloud, with its scopes); bots; telemetry and
log retention; organizational controls; identity information.

For the whole portal (every feature) or one connection (only its features). Nothing here is
written by hand per permission: a permission the catalog adds appears, with the endpoints that
declare it, and `tests/connections/test_statement.py` fails if the two disagree.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from . import endpoints, permissions
from .atlassian import endpoints as atlassian_endpoints
from .microsoft import endpoints as graph_endpoints
from .notifications import endpoints as notification_endpoints

# The provider modules register their declarations on import.
_REGISTERED = (atlassian_endpoints, graph_endpoints, notification_endpoints)

GRAPH_PROVIDERS = (endpoints.GRAPH,)
ATLASSIAN_PROVIDERS = (endpoints.JIRA, endpoints.CONFLUENCE, endpoints.JSM, endpoints.ATLASSIAN)


def _product_endpoints(providers: tuple[str, ...]) -> list[endpoints.Endpoint]:
    return [e for e in endpoints.all_endpoints() if e.provider in providers and ".test_" not in e.key]


def _signed_in_only(endpoint: endpoints.Endpoint) -> bool:
    """/me paths act for the signed-in user: no application permission is used for them.
    Reference: https://learn.microsoft.com/graph/call-api (the /me alias needs a delegated token)"""
    return endpoint.path.split("/")[2:3] == ["me"]


def _uses(permission: str, providers: tuple[str, ...], kind: str = "") -> list[dict[str, Any]]:
    return [
        {"key": e.key, "method": e.method, "path": e.path, "reads": list(e.reads), "keeps": list(e.keeps),
         "beta": e.beta, "reference": e.reference}
        for e in _product_endpoints(providers)
        if permission in e.permissions and not (kind == permissions.APPLICATION and _signed_in_only(e))
    ]


def build(feature_keys: list[str] | None = None) -> dict[str, Any]:
    """The statement as data (the JSON form; the Markdown and the pages render this)."""
    known = permissions.FEATURES
    keys = list(known) if feature_keys is None else [k for k in feature_keys if k in known]
    features = permissions.features(keys)
    graph = [
        {
            "permission": p.name,
            "type": p.kind,
            "collected": p.reads,
            "why_collected": p.why,
            "stored": p.stores,
            "why_stored": p.why_store,
            "app_id": settings.MICROSOFT_CLIENT_ID,
            "features": [f.key for f in features if p in f.graph],
            "endpoints": _uses(p.name, GRAPH_PROVIDERS, p.kind),
            "beta": any(u["beta"] for u in _uses(p.name, GRAPH_PROVIDERS, p.kind)),
        }
        for p in permissions.graph_permissions(keys)
    ]
    scopes: dict[str, permissions.AtlassianScope] = {}
    for feature in features:
        for scope in (*feature.atlassian, *feature.atlassian_org):
            scopes.setdefault(scope.name, scope)
    atlassian = [
        {
            "scope": s.name,
            "collected": s.reads,
            "why": s.why,
            "features": [f.key for f in features if s in f.atlassian or s in f.atlassian_org],
            # An organization API key's scope (Atlassian Administration), not a site's OAuth grant.
            "organization_api_key": any(s in f.atlassian_org for f in features),
            "endpoints": _uses(s.name, ATLASSIAN_PROVIDERS),
        }
        for s in sorted(scopes.values(), key=lambda s: (s.name == "offline_access", s.name))
    ]
    return {
        "app": {"name": "Connections portal", "microsoft_app_id": settings.MICROSOFT_CLIENT_ID,
                "atlassian_client_id": settings.ATLASSIAN_CLIENT_ID, "site_url": settings.SITE_URL},
        "features": [{"key": f.key, "title": f.title, "summary": f.summary, "posts": f.posts} for f in features],
        "graph_permissions": graph,
        "uses_beta_api": any(u["beta"] for row in graph for u in row["endpoints"]),
        "non_microsoft_services": [{
            "service": "Atlassian Cloud (Jira, Confluence, Jira Service Management)",
            "transferred": "Data moves between the Atlassian site and the Microsoft 365 tenant of a connection, "
                           "for its features only.",
            "scopes": atlassian,
        }],
        "bots": "The portal reads no team or chat roster through a bot."
        + ("" if not any(f.posts for f in features) else
           " Its Teams app's bot only posts messages, into the channels and chats it was added to."),
        # Who posts what into Teams, and through which call (the bot's own token, no Graph permission).
        "posting": [
            {"feature": f.key, "posts_as": f.posts,
             "endpoints": [{"key": e.key, "method": e.method, "path": e.path, "purpose": e.purpose,
                            "reference": e.reference} for e in _product_endpoints((endpoints.BOT,))]}
            for f in features if f.posts
        ],
        "telemetry": {
            "log_retention_days": settings.LOG_RETENTION_DAYS,
            "text": f"Records that carry a tenant or site URL (health-check results, sync-run errors, application "
                    f"log files) are kept for up to {settings.LOG_RETENTION_DAYS} days, then deleted.",
        },
        "organizational_controls": [
            "Disconnect a connection: its Microsoft token is deleted at once, its consent links withdrawn, its "
            "jobs stopped; nothing is deleted in Teams or the Atlassian site.",
            "Remove a connection, site or tenant: its tokens, grant records, settings, job history and user "
            "mappings are deleted with it.",
            f"Remove the organization: everything is deleted at once except the audit trail, kept "
            f"{settings.AUDIT_RETENTION_DAYS} days after the removal and then deleted.",
            "Every change, consent and support look is in a tamper-evident audit trail that admins can export.",
            f"Support staff look inside an organization only after giving a ticket and a reason, for at most "
            f"{settings.SUPPORT_ACCESS_MINUTES} minutes; admins see who looked, when and why.",
        ],
        "identity": {
            "microsoft_identity_platform": True,
            "multi_tenant": True,
            "least_privilege": "A connection asks only for the permissions of its chosen features.",
            "admin_consent": "Granted by the tenant's admin through Microsoft's admin consent; recorded with who "
                             "granted it.",
        },
    }


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(statement: dict[str, Any]) -> str:
    app = statement["app"]
    lines = [f"# {app['name']}: how the app handles data", ""]
    lines += ["## Features covered", ""] + [f"- **{f['title']}**: {f['summary']}" for f in statement["features"]]
    lines += ["", "## Data access using Microsoft Graph", "",
              "| Permission | Type | Is data collected? | Justification for collecting it | Is data stored? "
              "| Justification for storing it | Endpoints | App ID |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in statement["graph_permissions"]:
        uses = "; ".join(f"{u['method']} {u['path']}" + (" (beta)" if u["beta"] else "") for u in row["endpoints"])
        lines.append("| " + " | ".join(_md_cell(v) for v in (
            row["permission"], row["type"], row["collected"], row["why_collected"], row["stored"],
            row["why_stored"] or "—", uses or "—", row["app_id"] or "—")) + " |")
    lines += ["", f"Preview (beta) APIs used: {'yes' if statement['uses_beta_api'] else 'no'}.", "",
              "## Non-Microsoft services used", ""]
    for service in statement["non_microsoft_services"]:
        lines += [f"**{service['service']}**: {service['transferred']}", "",
                  "| Scope | Data | Why | Endpoints |", "| --- | --- | --- | --- |"]
        for s in service["scopes"]:
            uses = "; ".join(f"{u['method']} {u['path']}" for u in s["endpoints"])
            lines.append("| " + " | ".join(_md_cell(v) for v in (s["scope"], s["collected"], s["why"], uses or "—"))
                         + " |")
    lines += ["", "## Data access via bots", "", statement["bots"], ""]
    for post in statement["posting"]:
        lines += [f"**Who posts ({post['feature']})**: {post['posts_as']}", ""]
        lines += [f"- {e['method']} {{serviceUrl}}{e['path']}: {e['purpose']}" for e in post["endpoints"]] + [""]
    lines += [
              "## Telemetry data", "", statement["telemetry"]["text"], "",
              "## Organizational controls for data stored by the portal", ""]
    lines += [f"- {c}" for c in statement["organizational_controls"]]
    identity = statement["identity"]
    lines += ["", "## Identity information", "",
              "- Integrates with the Microsoft identity platform: "
              + ("yes" if identity["microsoft_identity_platform"] else "no"),
              f"- Multi-tenant: {'yes' if identity['multi_tenant'] else 'no'}",
              f"- Least privilege: {identity['least_privilege']}",
              f"- Admin consent: {identity['admin_consent']}", ""]
    return "\n".join(lines)
