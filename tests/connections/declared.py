"""Holding the sandbox's request log to the endpoint declarations (connections/endpoints.py).

Each request the sandbox served is turned back into the path a declaration names: Graph's
`/v1.0/...`; Atlassian's gateway (`/ex/jira/{cloud_id}/...`), a site's own paths
(`https://{name}.atlassian.net/...`) and the auth and API hosts' paths."""

import re
from urllib.parse import parse_qs

from connections import endpoints
from sandbox import defaults
from sandbox.requestlog import entries

ATLASSIAN_PROVIDERS = (endpoints.JIRA, endpoints.CONFLUENCE, endpoints.JSM, endpoints.ATLASSIAN)

_GATEWAY = re.compile(r"^/ex/(jira|confluence)/[^/]+(?=/)")
_SITE = re.compile(r"^/[^/]+(?=/)")

# Query parameters through which an Atlassian API selects the fields it returns.
# Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/#expansion
ATLASSIAN_FIELD_SELECTORS = ("fields", "expand")

# Atlassian's sign-in and consent pages: the admin's browser is on them once the portal has sent
# it to /authorize (the sandbox serves them on the auth host, Atlassian on id.atlassian.com). The
# portal itself never requests them.
BROWSER_PAGES = {"/authorize", "/signin", "/choose-sites", "/consent"}


def graph_calls(since_id=0):
    for row in entries(path_startswith=defaults.GRAPH_PATH + "/", since_id=since_id):
        yield row.method, row.path[len(defaults.GRAPH_PATH):], parse_qs(row.query)


def atlassian_calls(since_id=0):
    """(method, declared-style path, query) of every request served as Atlassian Cloud."""
    for prefix in (defaults.ATLASSIAN_AUTH_PATH, defaults.ATLASSIAN_API_PATH, defaults.ATLASSIAN_SITES_PATH):
        for row in entries(path_startswith=prefix + "/", since_id=since_id):
            path = row.path[len(prefix):]
            if prefix == defaults.ATLASSIAN_AUTH_PATH and path in BROWSER_PAGES:
                continue
            if prefix == defaults.ATLASSIAN_API_PATH:
                path = _GATEWAY.sub("", path)
            elif prefix == defaults.ATLASSIAN_SITES_PATH:
                path = _SITE.sub("", path)
            yield row.method, path, parse_qs(row.query)


def find_atlassian(method, path):
    for provider in ATLASSIAN_PROVIDERS:
        endpoint = endpoints.find(provider, method, path)
        if endpoint is not None:
            return endpoint
    return None


def _asked(values):
    return {f.strip() for value in values for f in value.split(",") if f.strip()}


def undeclared_graph(calls):
    undeclared, extra = [], []
    for method, path, query in calls:
        asked = _asked(query.get("$select", []))
        endpoint = endpoints.find(endpoints.GRAPH, method, path, asked)
        if endpoint is None:
            undeclared.append(f"{method} {path}")
            continue
        if not asked <= set(endpoint.reads):
            extra.append(f"{method} {path}: {sorted(asked - set(endpoint.reads))}")
    return sorted(set(undeclared)), sorted(set(extra))


def undeclared_atlassian(calls):
    undeclared, extra = [], []
    for method, path, query in calls:
        endpoint = find_atlassian(method, path)
        if endpoint is None:
            undeclared.append(f"{method} {path}")
            continue
        asked = _asked(v for name in ATLASSIAN_FIELD_SELECTORS for v in query.get(name, []))
        if not asked <= set(endpoint.reads):
            extra.append(f"{method} {path}: {sorted(asked - set(endpoint.reads))}")
    return sorted(set(undeclared)), sorted(set(extra))
