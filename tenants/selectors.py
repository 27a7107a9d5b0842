"""Reads for the organization's and support's pages (writes live in services.py)."""

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from .audit_chain import scope_of
from .models import AuditAction, AuditChainCheck, AuditEvent, Organization, SupportAccess, User


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
