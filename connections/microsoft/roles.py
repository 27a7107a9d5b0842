"""Which Microsoft Entra admin roles can grant what the portal asks for.

The signed-in user's roles come from the `wids` claim (role template ids) of an id_token whose
signature the portal checked; the app registration must emit it ("groupMembershipClaims":
"DirectoryRole"). Without a role that can grant what is asked, a sign-in is never recorded as
an admin's consent.

References:
- role template ids: https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference
- who can grant consent: https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent#prerequisites
  (application permissions to Microsoft Graph: Global Administrator or Privileged Role
  Administrator; Cloud Application Administrator and Application Administrator can grant
  delegated permissions, but not Graph's application permissions)
- the claim: https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference#payload-claims
"""

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
PRIVILEGED_ROLE_ADMINISTRATOR = "e8611ab8-c189-46e8-94e1-60213ab1f814"
CLOUD_APPLICATION_ADMINISTRATOR = "158c047a-c907-4556-b7ef-446551a6b5f7"
APPLICATION_ADMINISTRATOR = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"

NAMES = {
    GLOBAL_ADMINISTRATOR: "Global Administrator",
    PRIVILEGED_ROLE_ADMINISTRATOR: "Privileged Role Administrator",
    CLOUD_APPLICATION_ADMINISTRATOR: "Cloud Application Administrator",
    APPLICATION_ADMINISTRATOR: "Application Administrator",
}

# Strongest first: the role recorded is the first one held.
GRANTS_APPLICATION = (GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR)
GRANTS_DELEGATED = GRANTS_APPLICATION + (CLOUD_APPLICATION_ADMINISTRATOR, APPLICATION_ADMINISTRATOR)


def granting_role(held, *, application):
    """The template id of a role in `held` that can grant the request, or None.

    `application`: the request includes application permissions (of Microsoft Graph)."""
    held = {str(r).lower() for r in held or ()}
    for role in GRANTS_APPLICATION if application else GRANTS_DELEGATED:
        if role in held:
            return role
    return None


def role_name(role_id):
    return NAMES.get(role_id, role_id)


def needed_in_words(*, application):
    names = [NAMES[r] for r in (GRANTS_APPLICATION if application else GRANTS_DELEGATED)]
    return ", ".join(names[:-1]) + " or " + names[-1]
