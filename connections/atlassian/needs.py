"""What a site's authorization must cover, and what is missing (scope drift).

A site needs the Atlassian scopes of the features chosen when it was authorized plus
those of every connection it is part of. The catalog can grow (as Atlassian's move to
the granular Confluence v2 scopes did): then the scopes granted earlier no longer cover
what the features need, and the site must be authorized again. This is computed when
read, never stored, so it can never be stale.
"""

from dataclasses import dataclass

from tenants.models.directory import SiteAuthMode

from .. import permissions
from ..models import Credential

# The portal's own need, whatever the features: who authorized (GET /me) needs read:me.
READ_ME = permissions.AtlassianScope(
    "read:me",
    reads="The authorizing person's account id, name and email address.",
    why="To record who authorized the portal on this site.",
)


def site_feature_keys(site):
    keys = list(site.features or [])
    for features in site.connections.values_list("features", flat=True):
        keys.extend(features or [])
    return [k for k in dict.fromkeys(keys) if k in permissions.FEATURES]


def scopes_for(feature_keys):
    """The scopes to ask for: the features' scopes, read:me, and always offline_access."""
    names = set(permissions.atlassian_scopes(feature_keys)) | {READ_ME.name, permissions.OFFLINE_ACCESS.name}
    return sorted(names, key=lambda n: (n == "offline_access", n))


def required_scopes(site):
    return scopes_for(site_feature_keys(site))


@dataclass(frozen=True)
class MissingScope:
    name: str
    reads: str
    why: str
    features: tuple[str, ...]  # titles of the features that need it


def _scope_facts():
    facts = {READ_ME.name: (READ_ME, [])}
    for feature in permissions.FEATURES.values():
        for scope in feature.atlassian:
            facts.setdefault(scope.name, (scope, []))[1].append(feature)
    return facts


def missing_scopes(site):
    """Scopes the site's needs require that its grant does not hold (OAuth only)."""
    if site.auth_mode != SiteAuthMode.OAUTH:
        return []
    granted = set(site.granted_scopes or [])
    keys = set(site_feature_keys(site))
    facts = _scope_facts()
    missing = []
    for name in required_scopes(site):
        if name in granted:
            continue
        scope, features = facts.get(name, (permissions.AtlassianScope(name, reads="", why=""), []))
        missing.append(
            MissingScope(
                name=name,
                reads=scope.reads,
                why=scope.why,
                features=tuple(f.title for f in features if f.key in keys),
            )
        )
    return missing


def scope_table(site):
    """(name, required?, granted?) for every scope either side names, required first."""
    required = required_scopes(site)
    granted = set(site.granted_scopes or [])
    rows = [(name, True, name in granted) for name in required]
    rows += [(name, False, True) for name in sorted(granted - set(required))]
    return rows


def site_authorization(site):
    """What the site page shows about how the portal reaches the site (never a secret)."""
    credential = Credential.objects.filter(site=site).order_by("pk").first()
    return {
        "scope_rows": scope_table(site) if site.auth_mode == "oauth" else [],
        "missing_scopes": missing_scopes(site),
        "credential": credential,
        "required_features": [permissions.FEATURES[k] for k in site_feature_keys(site)],
    }
