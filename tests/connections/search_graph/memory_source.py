"""A Confluence source the crawl can read in a test (and in a real worker process): the items,
groups and trashed ids a test writes to the JSON file named by SEARCH_MEMORY_FILE, served in
pages of PAGE_SIZE with opaque cursors, as the real reader serves Confluence's."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from connections.search.types import (
    Page,
    Person,
    Preview,
    Principal,
    Scope,
    SourceGroup,
    SourceItem,
    SourceUser,
)

PAGE_SIZE = 2


def write(path: Path, *, items=(), groups=(), trashed=(), users=()) -> None:
    path.write_text(json.dumps({"items": list(items), "groups": list(groups), "trashed": list(trashed),
                                "users": list(users)}))


def page(content_id, *, title=None, version=1, space="ENG", acl=(), body="Some text", kind="page",
         modified="2026-11-01T10:00:00+00:00"):
    """One item as the JSON file keeps it; acl: ("user", account id) / ("group", id) / ("everyone", "")
    / ("deny", account id)."""
    return {"id": str(content_id), "kind": kind, "title": title or f"Page {content_id}", "version": version,
            "space": space, "acl": [list(a) for a in acl], "body": body, "modified": modified}


class MemorySource:
    def __init__(self, path: Path):
        self.data = json.loads(path.read_text())

    def _item(self, raw) -> SourceItem:
        acl = []
        for kind, value in raw["acl"]:
            if kind == "deny":
                acl.append(Principal("user", value, access="deny"))
            else:
                acl.append(Principal(kind, value))
        modified = dt.datetime.fromisoformat(raw["modified"])
        author = Person("acc-author", "Åsa Author")
        return SourceItem(
            id=raw["id"], kind=raw["kind"], version=raw["version"], space_key=raw["space"],
            space_name=f"{raw['space']} space", title=raw["title"],
            url=f"https://example.atlassian.net/wiki/spaces/{raw['space']}/pages/{raw['id']}",
            body_text=raw["body"], authors=(author,), created_by=author, created=modified,
            last_modified_by=author, last_modified=modified, acl=tuple(acl),
        )

    def _in_scope(self, scope: Scope):
        return [r for r in self.data["items"] if not scope.space_keys or r["space"] in scope.space_keys]

    def _page(self, rows, cursor) -> Page:
        start = int(cursor or 0)
        chunk = rows[start:start + PAGE_SIZE]
        following = start + PAGE_SIZE
        return Page(items=tuple(self._item(r) for r in chunk), cursor=str(following) if following < len(rows) else "")

    def connect(self):
        pass

    def items(self, scope, cursor="", *, with_acl=True):
        return self._page(self._in_scope(scope), cursor)

    def with_acl(self, items):
        return list(items)

    def changed_since(self, scope, since, cursor="", *, with_acl=True):
        rows = [r for r in self._in_scope(scope) if dt.datetime.fromisoformat(r["modified"]) >= since]
        return self._page(rows, cursor)

    def trashed_ids(self, scope):
        return iter([(kind, cid) for kind, cid in self.data["trashed"]])

    def groups(self):
        return iter([SourceGroup(g["id"], g["name"], tuple(g["members"])) for g in self.data["groups"]])

    def users(self):
        return iter([SourceUser(u["account_id"], u["name"], u.get("email", "")) for u in self.data["users"]])

    def preview(self, scope, limit=5):
        if "(" in scope.cql and ")" not in scope.cql:
            return Preview(0, (), error="Could not parse cql : " + scope.cql)
        rows = self._in_scope(scope)
        return Preview(len(rows), tuple(self._item(r) for r in rows[:limit]))


def source_for(connection):
    return MemorySource(Path(os.environ["SEARCH_MEMORY_FILE"]))
