"""The interface between the Confluence reader and the Graph side of the search connector.

The reader turns Confluence pages and blog posts into SourceItems whose `acl` is already the
effective read permission (space permission intersected with the restrictions of the page and of
every ancestor), expressed in Confluence principals. The Graph side maps those principals to Entra
ids and external groups; it never widens an ACL: a principal it cannot map is dropped and counted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Literal, Protocol

ItemKind = Literal["page", "blogpost"]
PrincipalKind = Literal["user", "group", "everyone"]
Access = Literal["grant", "deny"]


@dataclasses.dataclass(frozen=True)
class Principal:
    """One Confluence principal in an ACL.

    kind "user": `id` is the Atlassian account id. kind "group": `id` is the Confluence group id
    (UUID) and `name` its name. kind "everyone": the space is open to anonymous users (`id` is "").
    """

    kind: PrincipalKind
    id: str = ""
    name: str = ""
    access: Access = "grant"


EVERYONE = Principal(kind="everyone")


@dataclasses.dataclass(frozen=True)
class Person:
    """A Confluence user as the content names it (author, last editor)."""

    account_id: str
    display_name: str = ""


@dataclasses.dataclass(frozen=True)
class SourceItem:
    """One Confluence page or blog post, ready to be indexed.

    `id` is Confluence's content id ("123"); the Graph item id is derived from kind + id.
    `version` is Confluence's version number: the crawl skips an unchanged (id, version).
    `body_text` is plain text (storage markup removed); the Graph side caps it at the item size limit.
    `acl` is the effective read permission; an empty list means nobody may read it (fail closed).
    """

    id: str
    kind: ItemKind
    version: int
    space_key: str
    space_name: str
    title: str
    url: str
    body_text: str
    authors: tuple[Person, ...]
    created_by: Person | None
    created: dt.datetime | None
    last_modified_by: Person | None
    last_modified: dt.datetime | None
    acl: tuple[Principal, ...]
    icon_url: str = ""
    space_id: str = ""


@dataclasses.dataclass(frozen=True)
class SourceGroup:
    """A Confluence group with its members' account ids (all pages of members already read)."""

    id: str
    name: str
    member_account_ids: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class SourceUser:
    """A Confluence user for identity mapping; `email` is "" when the profile hides it."""

    account_id: str
    display_name: str
    email: str = ""


@dataclasses.dataclass(frozen=True)
class Scope:
    """What the admin chose to index: space keys (empty = every space) and an extra CQL clause."""

    space_keys: tuple[str, ...] = ()
    cql: str = ""


@dataclasses.dataclass(frozen=True)
class Preview:
    """The filter step's preview: the total in scope and a few sample items (or Confluence's error)."""

    total: int
    samples: tuple[SourceItem, ...]
    error: str = ""


@dataclasses.dataclass(frozen=True)
class Page:
    """One page of a resumable listing: items plus the opaque cursor to continue from ("" = done)."""

    items: tuple[SourceItem, ...]
    cursor: str = ""


class ConfluenceSource(Protocol):
    """What the crawl needs from the Confluence side. Cursors are opaque strings the crawl stores in
    its checkpoint so that a killed worker resumes where it stopped."""

    def connect(self) -> None:
        """Make the client ready (it may read a credential from the database). The crawl calls it
        in the run's own thread; the reads that follow may run in helper threads."""
        ...

    def items(self, scope: Scope, cursor: str = "", *, with_acl: bool = True) -> Page:
        """Every current page and blog post in scope, one page of results at a time."""
        ...

    def changed_since(self, scope: Scope, since: dt.datetime, cursor: str = "", *, with_acl: bool = True) -> Page:
        """Items modified at or after `since` (the reader applies its own time-zone overlap).
        `with_acl=False`: their ACLs are left out (empty) until `with_acl` is asked for them."""
        ...

    def with_acl(self, items: list[SourceItem]) -> list[SourceItem]:
        """Items of the last changed_since(with_acl=False) page, their ACLs read."""
        ...

    def trashed_ids(self, scope: Scope) -> Iterator[tuple[ItemKind, str]]:
        """(kind, id) of trashed pages and blog posts in scope, to remove from the index."""
        ...

    def groups(self) -> Iterator[SourceGroup]:
        """Every Confluence group with all its members."""
        ...

    def users(self) -> Iterator[SourceUser]:
        """Every Confluence user (emails may be hidden)."""
        ...

    def preview(self, scope: Scope, limit: int = 5) -> Preview:
        """Total and sample items for the filter step; invalid CQL → Preview.error, not an exception."""
        ...


# The reader module `connections.search.confluence` provides the factory the crawl calls:
#
#     def source_for(connection: Connection) -> ConfluenceSource
#
# built on the connection's Confluence credential (OAuth or API token), honouring Atlassian 429s.
