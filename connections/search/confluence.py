"""The Confluence side of the search connector: a connection's site read as SourceItems.

What it guarantees (connections.search.types has the contract):

- Scope is the chosen spaces (or every space) intersected with the admin's CQL filter.
- Each item's `acl` is Confluence's own rule, computed fail closed: the space's read permission
  intersected with the view restrictions of the page AND of every ancestor (Confluence hides a
  restricted page's whole subtree; Microsoft's connector ignores parents and leaks it). With no
  restriction anywhere the ACL names the space's groups and users; with restrictions the groups
  are expanded and only the users in every level remain. An anonymous space is EVERYONE. A
  permission row the reader cannot interpret (a role) grants nothing.
- Incremental reads use CQL on `lastmodified`, whose date literals Confluence reads in the
  calling user's time zone, so the window starts SEARCH_CQL_OVERLAP_HOURS earlier than asked
  and hits are deduplicated by (id, version).
- Every request goes through connections.throttle: Atlassian's 429 with Retry-After waits
  exactly that long (a Retry-After beyond SYNC_RETRY_AFTER_MAX gives the run back instead of
  hanging it), a 429 without one backs off with full jitter.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from django.conf import settings

from ..atlassian import client as atlassian_client
from ..atlassian import endpoints as ep
from ..atlassian import refresh
from ..sync import prefetch
from ..sync.errors import JobError
from ..throttle import Throttle, Throttled
from .text import plain_text
from .types import (
    EVERYONE,
    ItemKind,
    Page,
    Person,
    Preview,
    Principal,
    Scope,
    SourceGroup,
    SourceItem,
    SourceUser,
)

# Seconds a client (and its token) is used before connect() builds it again; below the token
# refresh margin (connections.atlassian.refresh.MARGIN_SECONDS), so a token is never sent stale.
CLIENT_MAX_AGE = 240

LIST_LIMIT = 250  # v2 lists serve at most 250 a page
SEARCH_LIMIT = 100  # CQL search pages
V1_LIMIT = 200  # v1 groups, members and users: at most 200 a page
BULK_USERS = 250


class ConfluenceUnavailable(JobError):
    """Confluence could not be read. `transient`: busy or unreachable (the runner retries the run
    from its checkpoint), else refused (a person must act). A JobError, so a crawl fails with it."""

    def __init__(self, message: str, *, transient: bool = False, status: int = 0) -> None:
        remedy = (
            "Confluence was busy or could not be reached: the run is retried from its checkpoint."
            if transient
            else "Check the site's authorization on its page (Re-authorize with Atlassian if asked) and that "
            "the authorizing account can read the spaces chosen for the index."
        )
        super().__init__(message, remedy, transient=transient)
        self.status = status


class InvalidCQL(JobError):
    """Confluence refused the CQL; the message is Confluence's own."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "Correct the CQL filter in the Filter step (its preview shows Confluence's message).")


@dataclass
class Stats:
    """What the reader did, for the run's figures and the benchmark."""

    requests: int = 0
    truncated: int = 0
    duplicates: int = 0
    unreadable_levels: int = 0  # ancestors whose restrictions could not be read (403/404): skipped


def _encode(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def _decode(cursor: str) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def next_cursor(body: Mapping[str, Any]) -> str | None:
    """Confluence's cursor from a `_links.next` URL, whole and untouched (it is opaque)."""
    link = (body.get("_links") or {}).get("next")
    if not link:
        return None
    values = parse_qs(urlsplit(link).query).get("cursor")
    return values[0] if values else None


def _when(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def scope_cql(scope: Scope, *extra: str) -> str:
    """The CQL of a scope: pages and blog posts, in the chosen spaces, matching the admin's filter."""
    parts = ["type in (page, blogpost)"]
    if scope.space_keys:
        parts.append(f"space in ({', '.join(_quote(k) for k in scope.space_keys)})")
    if scope.cql.strip():
        parts.append(f"({scope.cql.strip()})")
    parts.extend(extra)
    return " AND ".join(parts)


@dataclass
class _SpaceAccess:
    """Who may read a space: users and groups with read/space, and whether anonymous users may."""

    users: frozenset[str] = frozenset()
    groups: dict[str, str] = field(default_factory=dict)  # id -> name
    anonymous: bool = False


@dataclass(frozen=True)
class _Level:
    """One page's read restriction (a level that applies to the page and everything below it)."""

    users: frozenset[str]
    groups: dict[str, str]  # id -> name


class ConfluenceReader:
    """ConfluenceSource over one site's Confluence, with the site's own credential."""

    def __init__(self, site: Any, *, confluence: Any = None, throttle: Throttle | None = None) -> None:
        self.site = site
        self._confluence = confluence
        self._own_client = confluence is None  # one handed in (tests) is kept as it is
        self._built_at = time.monotonic()
        self.throttle = throttle or Throttle()
        self.key = f"atlassian:{site.cloud_id or site.url}"
        self.stats = Stats()
        self._lock = threading.Lock()
        self._spaces: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        self._access: dict[str, _SpaceAccess] = {}
        self._levels: dict[str, _Level | None] = {}
        self._parents: dict[str, list[str]] = {}  # page id -> ancestor ids, highest first
        self._members: dict[str, frozenset[str]] = {}
        self._names: dict[str, str] = {}
        self._in_filter: dict[str, frozenset[str]] = {}
        self._seen_versions: dict[str, int] = {}
        self._without_acl: dict[tuple[str, str], tuple[Mapping[str, Any], Mapping[str, str]]] = {}

    # ------------------------------------------------------------------ transport

    def connect(self) -> None:
        """Build the client now (its credential is read from the database): the crawl calls this
        in the run's own thread before handing a read to a helper thread. A client older than
        CLIENT_MAX_AGE is built again, which refreshes an OAuth token before it goes stale: an
        access token lasts an hour, and a large site's crawl takes longer (a request already
        in flight keeps the client it started with)."""
        stale = time.monotonic() - self._built_at > CLIENT_MAX_AGE
        if self._confluence is not None and self._own_client and stale:
            self._confluence = None
        assert self.confluence is not None

    @property
    def confluence(self) -> Any:
        if self._confluence is None:
            try:
                confluence = refresh.confluence_for(self.site)
            except refresh.NotAuthorized as exc:
                raise ConfluenceUnavailable(str(exc)) from None
            # atlassian-python-api would sleep a 429's whole Retry-After itself, uncapped (an
            # hour if Atlassian says so) before the throttle sees it: the throttle decides.
            confluence.retry_with_header = False
            self._confluence, self._built_at = confluence, time.monotonic()
        return self._confluence

    def _send(self, call: Callable[..., requests.Response], what: str, **kwargs: Any) -> requests.Response:
        """One request of an endpoint function (connections.atlassian.endpoints) through the throttle."""
        confluence = self.confluence
        with self._lock:
            self.stats.requests += 1
        try:
            return self.throttle.send(self.key, lambda: call(confluence, **kwargs))
        except Throttled as exc:
            raise ConfluenceUnavailable(f"{what}: Confluence asked the portal to wait ({exc}).",
                                        transient=True) from None
        except requests.RequestException as exc:
            raise ConfluenceUnavailable(f"{what}: Confluence could not be reached ({type(exc).__name__}).",
                                        transient=True) from None
        except atlassian_client.AtlassianError as exc:
            raise ConfluenceUnavailable(f"{what}: {exc}", transient=isinstance(exc, atlassian_client.Unavailable),
                                        status=exc.status) from None

    def _json(self, call: Callable[..., requests.Response], what: str, *, missing_ok: bool = False,
              **kwargs: Any) -> Any:
        response = self._send(call, what, **kwargs)
        status = response.status_code
        if missing_ok and status in (403, 404):
            return None
        if status >= 400:
            busy = status == 429 or status >= 500
            raise ConfluenceUnavailable(f"{what}: Confluence answered HTTP {status}.", transient=busy, status=status)
        try:
            return response.json()
        except ValueError:
            raise ConfluenceUnavailable(f"{what}: Confluence's answer was not JSON.", transient=True) from None

    # ------------------------------------------------------------------ spaces and access

    def spaces(self, scope: Scope) -> list[dict[str, Any]]:
        keys = tuple(scope.space_keys)
        if keys not in self._spaces:
            found, cursor = [], None
            while True:
                body = self._json(ep.confluence_spaces_page, "Listing the spaces", keys=keys, cursor=cursor)
                found += [{"id": str(s["id"]), "key": s.get("key", ""), "name": s.get("name", "")}
                          for s in body.get("results") or ()]
                cursor = next_cursor(body)
                if not cursor or not body.get("results"):
                    break
            self._spaces[keys] = sorted(found, key=lambda s: int(s["id"]) if s["id"].isdigit() else 0)
        return self._spaces[keys]

    def space_access(self, space: Mapping[str, str]) -> _SpaceAccess:
        if space["id"] in self._access:
            return self._access[space["id"]]
        users: set[str] = set()
        group_ids: set[str] = set()
        cursor = None
        while True:
            body = self._json(
                ep.confluence_space_permissions, f"Reading the permissions of space {space['key']}",
                space_id=space["id"], cursor=cursor,
            )
            for row in body.get("results") or ():
                operation = row.get("operation") or {}
                if operation.get("key") != "read" or operation.get("targetType") != "space":
                    continue
                principal = row.get("principal") or {}
                if principal.get("type") == "user" and principal.get("id"):
                    users.add(principal["id"])
                elif principal.get("type") == "group" and principal.get("id"):
                    group_ids.add(principal["id"])
                # "role" rows (and anything else) grant nothing here: fail closed.
            cursor = next_cursor(body)
            if not cursor or not body.get("results"):
                break
        v1 = self._json(ep.confluence_space_v1_permissions, f"Reading the anonymous access of space {space['key']}",
                        space_key=space["key"])
        anonymous = False
        names: dict[str, str] = {}
        for perm in (v1 or {}).get("permissions") or ():
            operation = perm.get("operation") or {}
            if operation.get("operation") != "read" or operation.get("targetType") != "space":
                continue
            subjects = perm.get("subjects") or {}
            for group in (subjects.get("group") or {}).get("results") or ():
                if group.get("id"):
                    names[group["id"]] = group.get("name", "")
            # Anonymous read: the read/space permission granted to anonymous users, naming nobody.
            if perm.get("anonymousAccess") is True and not subjects:
                anonymous = True
        access = _SpaceAccess(frozenset(users), {g: names.get(g, "") for g in sorted(group_ids)}, anonymous)
        self._access[space["id"]] = access
        return access

    # ------------------------------------------------------------------ restrictions and ancestors

    def level(self, content_id: str, *, missing_ok: bool = False) -> _Level | None:
        """The content's own read restriction, or None when it has none."""
        if content_id in self._levels:
            return self._levels[content_id]
        body = self._json(ep.confluence_read_restrictions, f"Reading the view restrictions of content {content_id}",
                          missing_ok=missing_ok, content_id=content_id)
        if body is None:
            # An ancestor we may not read (a draft, 403/404): Confluence gives nothing to apply.
            with self._lock:
                self.stats.unreadable_levels += 1
            self._levels[content_id] = None
            return None
        restrictions = body.get("restrictions") or {}
        users = frozenset(u["accountId"] for u in (restrictions.get("user") or {}).get("results") or ()
                          if u.get("accountId"))
        groups = {g.get("id") or g.get("name", ""): g.get("name", "")
                  for g in (restrictions.get("group") or {}).get("results") or () if g.get("id") or g.get("name")}
        level = _Level(users, groups) if users or groups else None
        self._levels[content_id] = level
        return level

    def ancestors(self, page_id: str, parent_id: str | None) -> list[str]:
        """The page's ancestors, highest first: from what the listing already showed, else asked."""
        if page_id in self._parents:
            return self._parents[page_id]
        if not parent_id:
            chain: list[str] = []
        elif parent_id in self._parents:
            chain = [*self._parents[parent_id], parent_id]
        else:
            body = self._json(ep.confluence_page_ancestors, f"Reading the ancestors of page {page_id}", page_id=page_id)
            # Highest first; 250 levels is deeper than any real tree, so one call is enough.
            chain = [str(a["id"]) for a in (body or {}).get("results") or () if a.get("id")]
        self._parents[page_id] = chain
        return chain

    def members(self, group_id: str) -> frozenset[str]:
        """Every member's account id, paging past the 200-a-page cap."""
        if group_id not in self._members:
            found: list[str] = []
            start = 0
            while True:
                body = self._json(
                    ep.confluence_group_members, "Reading a group's members", group_id=group_id, start=start,
                    limit=V1_LIMIT,
                )
                rows = body.get("results") or ()
                found += [u["accountId"] for u in rows if u.get("accountId")]
                # Advance by the rows received: a server may serve fewer than asked.
                start += len(rows)
                if not rows or not (body.get("_links") or {}).get("next"):
                    break
            self._members[group_id] = frozenset(found)
        return self._members[group_id]

    def _expand(self, users: frozenset[str], groups: Mapping[str, str]) -> set[str]:
        everyone = set(users)
        for group_id in groups:
            everyone |= self.members(group_id)
        return everyone

    def acl(self, space: Mapping[str, str], content_id: str, ancestors: list[str]) -> tuple[Principal, ...]:
        """The effective read permission (see the module's doc)."""
        access = self.space_access(space)
        levels = [lvl for lvl in (self.level(a, missing_ok=True) for a in ancestors) if lvl is not None]
        own = self.level(content_id)
        if own is not None:
            levels.append(own)
        if not levels:
            if access.anonymous:
                return (EVERYONE,)
            return (
                *(Principal(kind="group", id=g, name=n) for g, n in access.groups.items()),
                *(Principal(kind="user", id=u) for u in sorted(access.users)),
            )
        allowed = None if access.anonymous else self._expand(access.users, access.groups)
        for lvl in levels:
            members = self._expand(lvl.users, lvl.groups)
            allowed = members if allowed is None else allowed & members
        return tuple(Principal(kind="user", id=u) for u in sorted(allowed or ()))

    # ------------------------------------------------------------------ people

    def names(self, account_ids: set[str]) -> dict[str, str]:
        wanted = sorted(a for a in account_ids if a and a not in self._names)
        for offset in range(0, len(wanted), BULK_USERS):
            chunk = wanted[offset: offset + BULK_USERS]
            body = self._json(ep.confluence_users_bulk, "Looking up the names of authors", account_ids=chunk)
            for user in body.get("results") or ():
                self._names[user.get("accountId", "")] = user.get("displayName") or user.get("publicName") or ""
            for account_id in chunk:
                self._names.setdefault(account_id, "")
        return {a: self._names.get(a, "") for a in account_ids}

    def _person(self, account_id: str | None) -> Person | None:
        return Person(account_id, self._names.get(account_id, "")) if account_id else None

    # ------------------------------------------------------------------ items

    def _item(self, row: Mapping[str, Any], kind: ItemKind, space: Mapping[str, str], base: str,
              with_acl: bool) -> SourceItem:
        content_id = str(row["id"])
        version = row.get("version") or {}
        body = ((row.get("body") or {}).get("storage") or {}).get("value", "")
        text, truncated = plain_text(body)
        self.stats.truncated += truncated
        chain = self.ancestors(content_id, row.get("parentId")) if kind == "page" and with_acl else []
        author, editor = row.get("authorId"), version.get("authorId")
        webui = (row.get("_links") or {}).get("webui", "")
        icon = "blog_post" if kind == "blogpost" else "page"
        return SourceItem(
            id=content_id,
            kind=kind,
            version=int(version.get("number") or 1),
            space_key=space["key"],
            space_name=space["name"],
            space_id=space["id"],
            title=row.get("title", ""),
            url=f"{base}{webui}" if webui else "",
            body_text=text,
            authors=tuple(p for p in dict.fromkeys((self._person(author), self._person(editor))) if p),
            created_by=self._person(author),
            created=_when(row.get("createdAt")),
            last_modified_by=self._person(editor),
            last_modified=_when(version.get("createdAt")),
            acl=self.acl(space, content_id, chain) if with_acl else (),
            icon_url=f"{base}/images/icons/contenttypes/{icon}_16.svg",
        )

    def _concurrently(self, requests: Sequence[Callable[[], Any]]) -> list[Any]:
        """Independent reads, SEARCH_CONFLUENCE_CONCURRENCY at a time, each through the throttle
        (connections.sync.prefetch.gather: the run's throttle settings go with them)."""
        self.connect()  # the client is built once, before the threads share it
        return prefetch.gather(requests, max(1, int(settings.SEARCH_CONFLUENCE_CONCURRENCY)))

    def _prefetch_levels(self, ids: list[str], *, missing_ok: bool = False) -> None:
        """Each item's own view restriction, read a few at a time (one request per item is the cost
        Confluence sets: no listing carries restrictions)."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self._levels]
        if len(wanted) > 1:
            self._concurrently([partial(self.level, i, missing_ok=missing_ok) for i in wanted])

    def _prefetch_chains(self, rows: list[Mapping[str, Any]]) -> None:
        """The ancestors of the pages whose parent neither an earlier listing nor this one showed,
        read a few at a time, then the view restrictions of those ancestors."""
        listed = {str(r["id"]) for r in rows}
        unknown = [r for r in rows if r.get("parentId") and str(r["id"]) not in self._parents
                   and str(r["parentId"]) not in self._parents and str(r["parentId"]) not in listed]
        if len(unknown) > 1:
            self._concurrently([partial(self.ancestors, str(r["id"]), str(r["parentId"])) for r in unknown])
        self._prefetch_levels([a for r in unknown for a in self._parents.get(str(r["id"]), ())], missing_ok=True)

    def _items(self, rows: list[Mapping[str, Any]], kind: ItemKind, space: Mapping[str, str], base: str,
               with_acl: bool) -> list[SourceItem]:
        # Parents first, so each page's chain is known from the listing without asking.
        for row in rows:
            if kind == "page" and row.get("parentId") is None:
                self._parents.setdefault(str(row["id"]), [])
        if with_acl:
            self.space_access(space)
            if kind == "page":
                self._prefetch_chains(rows)
            self._prefetch_levels([str(r["id"]) for r in rows])
        self.names({r.get("authorId") or "" for r in rows} | {(r.get("version") or {}).get("authorId") or ""
                                                               for r in rows})
        return [self._item(r, kind, space, base, with_acl) for r in rows]

    def _filter_ids(self, scope: Scope) -> frozenset[str] | None:
        """The ids the admin's CQL keeps (None: no CQL filter)."""
        if not scope.cql.strip():
            return None
        cql = scope_cql(scope)
        if cql not in self._in_filter:
            ids: set[str] = set()
            for hit in self._search(cql):
                ids.add(str((hit.get("content") or {}).get("id", "")))
            self._in_filter[cql] = frozenset(ids)
        return self._in_filter[cql]

    def items(self, scope: Scope, cursor: str = "", *, with_acl: bool = True) -> Page:
        """One listing page's items; listings with nothing to index (a space without blog posts, a
        page the CQL filter empties) are read through to the next one, so the page returned has
        items unless the scope is done (the crawl reads a page ahead: an empty one would waste
        the overlap)."""
        while True:
            page = self._listing_page(scope, cursor, with_acl=with_acl)
            if page.items or not page.cursor:
                return page
            cursor = page.cursor

    def _listing_page(self, scope: Scope, cursor: str, *, with_acl: bool) -> Page:
        state = _decode(cursor)
        spaces = self.spaces(scope)
        index, kind, inner = int(state.get("s", 0)), state.get("k", "page"), state.get("c")
        if index >= len(spaces):
            return Page(items=(), cursor="")
        space = spaces[index]
        if not inner and kind == "page":
            # A new space: its page tree and restrictions do not cross into the next one.
            self._parents.clear()
            self._levels.clear()
        lister = ep.confluence_space_pages if kind == "page" else ep.confluence_space_blogposts
        body = self._json(lister, f"Listing the {kind}s of space {space['key']}", space_id=space["id"], cursor=inner,
                          limit=LIST_LIMIT)
        rows = list(body.get("results") or ())
        keep = self._filter_ids(scope)
        if keep is not None:
            rows = [r for r in rows if str(r.get("id")) in keep]
        base = (body.get("_links") or {}).get("base", "")
        items = self._items(rows, "page" if kind == "page" else "blogpost", space, base, with_acl)
        more = next_cursor(body) if body.get("results") else None  # a next link with no results: stop
        if more:
            nxt = {"s": index, "k": kind, "c": more}
        elif kind == "page":
            nxt = {"s": index, "k": "blogpost", "c": None}
        else:
            nxt = {"s": index + 1, "k": "page", "c": None}
        done = nxt["s"] >= len(spaces)
        return Page(items=tuple(items), cursor="" if done else _encode(nxt))

    # ------------------------------------------------------------------ search

    def _search_page(self, cql: str, cursor: str | None, limit: int = SEARCH_LIMIT) -> dict[str, Any]:
        response = self._send(ep.confluence_cql_search, "Searching Confluence", cql=cql, cursor=cursor, limit=limit)
        if response.status_code == 400:
            try:
                message = response.json().get("message", "")
            except ValueError:
                message = ""
            raise InvalidCQL(message or "Confluence could not parse the CQL.")
        if response.status_code >= 400:
            status = response.status_code
            raise ConfluenceUnavailable(f"Searching Confluence: Confluence answered HTTP {status}.",
                                        transient=status == 429 or status >= 500, status=status)
        body: dict[str, Any] = response.json()
        return body

    def _search(self, cql: str) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            body = self._search_page(cql, cursor)
            yield from body.get("results") or ()
            cursor = next_cursor(body)
            if not cursor or not body.get("results"):
                return

    def _fetch(self, kind: str, content_id: str, space_by_key: Mapping[str, Mapping[str, str]],
               with_acl: bool = True) -> SourceItem | None:
        getter = ep.confluence_page if kind == "page" else ep.confluence_blogpost
        row = self._json(getter, f"Reading {kind} {content_id}", missing_ok=True,
                         **{("page_id" if kind == "page" else "blogpost_id"): content_id})
        if row is None or row.get("status") not in (None, "current", "archived"):
            return None
        space = next((s for s in space_by_key.values() if s["id"] == str(row.get("spaceId"))), None)
        if space is None:
            return None
        base = self._base()
        item_kind: ItemKind = "page" if kind == "page" else "blogpost"
        return self._items([row], item_kind, space, base, with_acl)[0]

    def _base(self) -> str:
        url = str(getattr(self.confluence, "url", "")).rstrip("/")
        # The gateway serves the API; people open the site's own address.
        site_url = (self.site.url or "").rstrip("/")
        return f"{site_url}/wiki" if site_url else url

    def changed_since(self, scope: Scope, since: dt.datetime, cursor: str = "", *, with_acl: bool = True,
                      indexed_versions: Mapping[str, int] | None = None) -> Page:
        """Items modified at or after `since` minus the overlap; each (id, version) once."""
        overlap = dt.timedelta(hours=float(getattr(settings, "SEARCH_CQL_OVERLAP_HOURS", 24)))
        start = (since.astimezone(dt.UTC) - overlap).strftime("%Y/%m/%d %H:%M")
        cql = scope_cql(scope, f'lastmodified >= "{start}"') + " ORDER BY lastmodified"
        body = self._search_page(cql, cursor or None)
        space_by_key = {s["key"]: s for s in self.spaces(scope)}
        wanted: list[tuple[str, str]] = []
        for hit in body.get("results") or ():
            content = hit.get("content") or {}
            content_id, kind = str(content.get("id", "")), content.get("type", "")
            version = int((content.get("version") or {}).get("number") or 0)
            if kind not in ("page", "blogpost") or not content_id:
                continue
            known = self._seen_versions.get(content_id)
            if indexed_versions is not None and indexed_versions.get(content_id) == version:
                known = version
            if known is not None and version and known >= version:
                self.stats.duplicates += 1  # seen in the overlap already: same id, same version
                continue
            wanted.append((kind, content_id))
        items = [i for i in self._fetch_many(wanted, space_by_key, with_acl=with_acl) if i is not None]
        for item in items:
            self._seen_versions[item.id] = item.version
        more = next_cursor(body) if body.get("results") else None
        return Page(items=tuple(items), cursor=more or "")

    def _fetch_many(self, wanted: list[tuple[str, str]], space_by_key: Mapping[str, Mapping[str, str]], *,
                    with_acl: bool = True) -> list[SourceItem | None]:
        """_fetch for several items: their reads a few at a time, the items in the order asked."""
        def read(kind: str, content_id: str) -> Any:
            getter = ep.confluence_page if kind == "page" else ep.confluence_blogpost
            return self._json(getter, f"Reading {kind} {content_id}", missing_ok=True,
                              **{("page_id" if kind == "page" else "blogpost_id"): content_id})

        rows = self._concurrently([partial(read, kind, cid) for kind, cid in wanted]) if wanted else []
        found: dict[tuple[str, str], SourceItem] = {}
        groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        spaces: dict[str, Mapping[str, str]] = {}
        for (kind, _cid), row in zip(wanted, rows, strict=True):
            if row is None or row.get("status") not in (None, "current", "archived"):
                continue
            space = next((s for s in space_by_key.values() if s["id"] == str(row.get("spaceId"))), None)
            if space is None:
                continue
            spaces[space["id"]] = space
            groups.setdefault((kind, space["id"]), []).append(row)
        # What the items need, read for all of them at once rather than space by space.
        if with_acl:
            self._concurrently([partial(self.space_access, space) for space in spaces.values()])
            self._prefetch_chains([r for (kind, _s), group in groups.items() if kind == "page" for r in group])
            self._prefetch_levels([str(r["id"]) for group in groups.values() for r in group])
        else:
            # Kept until with_acl asks (the crawl asks only for items it has not indexed yet).
            self._without_acl = {(kind, str(r["id"])): (r, spaces[space_id])
                                 for (kind, space_id), group in groups.items() for r in group}
        self.names({a for group in groups.values() for r in group
                    for a in (r.get("authorId") or "", (r.get("version") or {}).get("authorId") or "")})
        base = self._base() if groups else ""
        for (kind, space_id), group in groups.items():
            item_kind: ItemKind = "page" if kind == "page" else "blogpost"
            for item in self._items(group, item_kind, spaces[space_id], base, with_acl):
                found[(kind, item.id)] = item
        return [found.get(key) for key in wanted]

    def with_acl(self, items: list[SourceItem]) -> list[SourceItem]:
        """The items of the last changed_since(with_acl=False) page, with their ACLs read (their
        spaces' access, ancestors and restrictions, a few at a time)."""
        kept, self._without_acl = self._without_acl, {}
        rows = [(item.kind, *kept[(item.kind, item.id)]) for item in items if (item.kind, item.id) in kept]
        spaces = {space["id"]: space for _kind, _row, space in rows}
        self._concurrently([partial(self.space_access, space) for space in spaces.values()])
        self._prefetch_chains([row for kind, row, _space in rows if kind == "page"])
        self._prefetch_levels([str(row["id"]) for _kind, row, _space in rows])
        filled = {}
        for kind, row, space in rows:
            chain = self.ancestors(str(row["id"]), row.get("parentId")) if kind == "page" else []
            filled[(kind, str(row["id"]))] = self.acl(space, str(row["id"]), chain)
        return [dataclasses.replace(item, acl=filled.get((item.kind, item.id), item.acl)) for item in items]

    def trashed_ids(self, scope: Scope) -> Iterator[tuple[ItemKind, str]]:
        """Each space's trashed pages and blog posts, the spaces listed a few at a time."""
        def trashed(space: Mapping[str, str], kind: ItemKind, lister: Callable[..., requests.Response]
                    ) -> list[tuple[ItemKind, str]]:
            found: list[tuple[ItemKind, str]] = []
            cursor = None
            while True:
                body = self._json(
                    lister, f"Listing the trashed {kind}s of space {space['key']}",
                    space_id=space["id"], cursor=cursor, status="trashed",
                )
                found += [(kind, str(row["id"])) for row in body.get("results") or ()]
                cursor = next_cursor(body)
                if not cursor or not body.get("results"):
                    return found

        listers: tuple[tuple[ItemKind, Callable[..., requests.Response]], ...] = (
            ("page", ep.confluence_space_pages), ("blogpost", ep.confluence_space_blogposts))
        listings = [partial(trashed, space, kind, lister) for space in self.spaces(scope) for kind, lister in listers]
        for found in self._concurrently(listings):
            yield from found

    # ------------------------------------------------------------------ groups and users

    def groups(self) -> Iterator[SourceGroup]:
        start = 0
        while True:
            body = self._json(ep.confluence_groups, "Listing the groups", start=start, limit=V1_LIMIT)
            rows = body.get("results") or ()
            for group in rows:
                if group.get("id"):
                    yield SourceGroup(id=group["id"], name=group.get("name", ""),
                                      member_account_ids=tuple(sorted(self.members(group["id"]))))
            start += len(rows)
            if not rows or not (body.get("_links") or {}).get("next"):
                return

    def users(self) -> Iterator[SourceUser]:
        start = 0
        while True:
            body = self._json(ep.confluence_search_user, "Listing the users", start=start, limit=V1_LIMIT)
            rows = body.get("results") or ()
            for row in rows:
                user = row.get("user") or {}
                if user.get("accountId"):
                    yield SourceUser(account_id=user["accountId"], display_name=user.get("displayName", ""),
                                     email=user.get("email") or "")
            start += len(rows)
            if not rows or not (body.get("_links") or {}).get("next"):
                return

    # ------------------------------------------------------------------ preview

    def preview(self, scope: Scope, limit: int = 5) -> Preview:
        try:
            body = self._search_page(scope_cql(scope), None, limit=limit)
        except InvalidCQL as exc:
            return Preview(total=0, samples=(), error=str(exc))
        space_by_key = {s["key"]: s for s in self.spaces(Scope(space_keys=scope.space_keys))}
        samples = []
        for hit in (body.get("results") or ())[:limit]:
            content = hit.get("content") or {}
            item = self._fetch(content.get("type", ""), str(content.get("id", "")), space_by_key)
            if item is not None:
                samples.append(item)
        return Preview(total=int(body.get("totalSize") or body.get("size") or 0), samples=tuple(samples))


def source_for(connection: Any) -> ConfluenceReader:
    """The reader for a connection's Confluence site, on the site's own credential."""
    return ConfluenceReader(connection.site)
