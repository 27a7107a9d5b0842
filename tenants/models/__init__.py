from .audit import AuditAction, AuditChainCheck, AuditChainHead, AuditEvent
from .directory import AtlassianSite, MicrosoftTenant
from .organizations import Invitation, Membership, Organization, Role, User

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
    "User",
]
