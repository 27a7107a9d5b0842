"""Directory roles of simulated users, and who may grant what.

Role template ids are Microsoft's own (the same in every tenant).
Reference: https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference

Who can grant tenant-wide consent:
- application permissions (app roles) of Microsoft Graph: Global Administrator or Privileged Role
  Administrator only;
- delegated permissions for all users: those two, Cloud Application Administrator and
  Application Administrator.
Reference: https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent#prerequisites
"""

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
PRIVILEGED_ROLE_ADMINISTRATOR = "e8611ab8-c189-46e8-94e1-60213ab1f814"
CLOUD_APPLICATION_ADMINISTRATOR = "158c047a-c907-4556-b7ef-446551a6b5f7"
APPLICATION_ADMINISTRATOR = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
# Every member holds the implicit "User" role; Microsoft lists it in `wids` too.
DEFAULT_USER = "b79fbf4d-3ef9-4689-8143-76b194e85509"

GRANTS_APPLICATION = frozenset({GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR})
GRANTS_DELEGATED = GRANTS_APPLICATION | {CLOUD_APPLICATION_ADMINISTRATOR, APPLICATION_ADMINISTRATOR}

# The app manifest's groupMembershipClaims values that put directory roles (`wids`) into the
# app's tokens. Reference:
# https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference#payload-claims (wids)
WIDS_CLAIM_SETTINGS = frozenset({"DirectoryRole", "All"})


def roles_of(user):
    """The role template ids `user` holds. `is_admin` is the seeds' shorthand for Global Administrator."""
    held = set(user.directory_roles or [])
    if user.is_admin:
        held.add(GLOBAL_ADMINISTRATOR)
    return held


def can_grant_application(user):
    return bool(roles_of(user) & GRANTS_APPLICATION)


def can_grant_delegated(user):
    return bool(roles_of(user) & GRANTS_DELEGATED)


def wids(user):
    """The `wids` claim: the user's role template ids, the default user role for members."""
    held = roles_of(user)
    if user.user_type == "Member":
        held.add(DEFAULT_USER)
    return sorted(held)
