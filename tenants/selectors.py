"""Reads for the organization's and support's pages (writes live in services.py): sites, tenants,
the audit trail and its pages, support's accesses."""

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.utils import timezone

from .audit_chain import scope_of
from .models import (
    AtlassianSite,
    AuditAction,
    AuditChainCheck,
    AuditEvent,
    MicrosoftTenant,
    Organization,
    SupportAccess,
    User,
)


def active_support_access(*, staff: User, organization: Organization) -> SupportAccess | None:
    """The staff member's access to the organization that has not expired yet, if any."""
    return (
        SupportAccess.objects.filter(staff=staff, organization=organization, expires_at__gt=timezone.now())
        .order_by("-expires_at")
        .first()
    )


def last_support_access(*, staff: User, organization: Organization) -> SupportAccess | None:
    return SupportAccess.objects.filter(staff=staff, organization=organization).order_by("-expires_at").first()


def organizations_with_support_access(*, staff: User) -> QuerySet[Organization]:
    return Organization.objects.filter(
        support_accesses__staff=staff, support_accesses__expires_at__gt=timezone.now()
    ).distinct()


@dataclass(frozen=True)
class SupportVisit:
    access: SupportAccess
    looks: list[AuditEvent]


def support_visits(*, organization: Organization, limit: int = 50) -> list[SupportVisit]:
    """Support's accesses to the organization, newest first, each with the looks made under it."""
    accesses = list(
        SupportAccess.objects.filter(organization=organization).select_related("staff").order_by("-opened_at")[:limit]
    )
    looks: dict[int, list[AuditEvent]] = {a.pk: [] for a in accesses}
    events = AuditEvent.objects.filter(
        organization=organization, action=AuditAction.SUPPORT_VIEWED, details__access__in=list(looks)
    ).order_by("created_at", "id")
    for event in events:
        looks.setdefault(event.details.get("access"), []).append(event)
    return [SupportVisit(a, looks.get(a.pk, [])) for a in accesses]


def chain_check(organization: Organization | None) -> AuditChainCheck | None:
    """The latest verification of the organization's chain ("chain verified up to ...")."""
    return AuditChainCheck.objects.filter(scope=scope_of(organization.pk if organization else None)).first()


AUDIT_PAGE_SIZE = 50


def site_search(organization: Organization, *, query: str = "") -> QuerySet[AtlassianSite]:
    """The organization's sites whose name or address contains `query`, by name."""
    sites = organization.sites.all()
    if query:
        sites = sites.filter(Q(name__icontains=query) | Q(url__icontains=query))
    return sites


def tenant_search(organization: Organization, *, query: str = "") -> QuerySet[MicrosoftTenant]:
    """The organization's tenants whose name, tenant id or a domain contains `query`, by name."""
    tenants = organization.tenants.all()
    if query:
        tenants = tenants.filter(
            Q(display_name__icontains=query) | Q(tenant_id__icontains=query) | Q(domains__icontains=query)
        )
    return tenants


@dataclass
class AuditPage:
    """One page of the audit trail, newest first, found from a neighbouring event (keyset
    paging): as fast deep in a million events as on the first page, and no COUNT(*)."""

    object_list: list[AuditEvent] = field(default_factory=list)
    newer: int | None = None  # the first event shown: the page before ends just above it
    older: int | None = None  # the last event shown: the page after starts just below it
    is_newest: bool = True

    @property
    def has_other_pages(self) -> bool:
        return self.newer is not None or self.older is not None


def _cursor(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None


def audit_page(events: QuerySet[AuditEvent], *, after: str | None = None, before: str | None = None,
               size: int = AUDIT_PAGE_SIZE) -> AuditPage:
    """The `size` events of `events` (newest first) just older than event `after`, or just newer
    than event `before`; the newest ones when neither is given or the event is not in `events`.
    A cursor that is not a number is the first page, never an error."""
    older_than, newer_than = _cursor(after), _cursor(before)
    anchor_id = older_than or newer_than
    anchor = events.filter(pk=anchor_id).values("created_at", "pk").first() if anchor_id else None
    if anchor is None:
        rows = list(events.order_by("-created_at", "-pk")[: size + 1])
        return AuditPage(rows[:size], older=rows[size - 1].pk if len(rows) > size else None)
    at, pk = anchor["created_at"], anchor["pk"]
    if older_than:
        # created_at <= at bounds the index range; the OR only settles ties at `at`.
        rows = list(
            events.filter(created_at__lte=at)
            .filter(Q(created_at__lt=at) | Q(pk__lt=pk))
            .order_by("-created_at", "-pk")[: size + 1]
        )
        shown = rows[:size]
        return AuditPage(shown, newer=shown[0].pk if shown else None,
                         older=shown[-1].pk if len(rows) > size else None, is_newest=False)
    rows = list(
        events.filter(created_at__gte=at)
        .filter(Q(created_at__gt=at) | Q(pk__gt=pk))
        .order_by("created_at", "pk")[: size + 1]
    )
    shown = list(reversed(rows[:size]))
    if len(rows) <= size:
        # Reached the newest events: show a full first page rather than a short one.
        return audit_page(events, size=size)
    return AuditPage(shown, newer=shown[0].pk, older=shown[-1].pk if shown else None, is_newest=False)
