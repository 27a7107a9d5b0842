from .audit import AuditAction, AuditEvent
from .directory import AtlassianSite, MicrosoftTenant
from .organizations import Invitation, Membership, Organization, Role, User

__all__ = [
    "AtlassianSite",
    "AuditAction",
    "AuditEvent",
    "Invitation",
    "Membership",
    "MicrosoftTenant",
    "Organization",
    "Role",
    "User",
]
