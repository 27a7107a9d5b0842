from .audit import AuditAction, AuditChainCheck, AuditChainHead, AuditEvent
from .directory import AtlassianSite, MicrosoftTenant
from .organizations import Invitation, Membership, Organization, Role, User
from .support import SupportAccess

__all__ = [
    "AtlassianSite",
    "AuditAction",
    "AuditChainCheck",
    "AuditChainHead",
    "AuditEvent",
    "Invitation",
    "Membership",
    "MicrosoftTenant",
    "Organization",
    "Role",
    "SupportAccess",
    "User",
]
