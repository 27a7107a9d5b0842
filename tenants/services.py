"""State changes of organizations, members, sites and tenants.

Each function is keyword-only, takes `acting_user`, runs in one transaction and writes
its audit event in that same transaction. Problems a person can fix are raised as
ValidationError with a sentence that says what to do; views show them next to the form.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db import connection as db
from django.utils import timezone
from django.utils.text import slugify

from portal import outbox

from .audit import audit_record
from .models import (
    AtlassianSite,
    AuditAction,
    AuditChainCheck,
    AuditChainHead,
    AuditEvent,
    Invitation,
    Membership,
    MicrosoftTenant,
    Organization,
    Role,
    SupportAccess,
)
from .signals import site_products_changed


def require_admin(organization: Organization, user) -> None:
    """Raise PermissionDenied unless `user` is an admin of `organization` (every service that
    changes an organization's things calls this first, in any app)."""
    if not Membership.objects.filter(organization=organization, user=user, role=Role.ADMIN).exists():
        raise PermissionDenied("Only an admin of this organization can do this.")


# --- organizations and members ------------------------------------------------------------


def _refuse_duplicate_name(name, *, exclude=None):
    others = Organization.objects.filter(name__iexact=name.strip(), removed_at__isnull=True)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        raise ValidationError({"name": f"An organization named {name.strip()} already exists. Choose another name "
                                       "(for example with your department or city), or ask its admin to invite you."})


@transaction.atomic
def organization_create(*, name, acting_user):
    _refuse_duplicate_name(name)
    base = slugify(name)[:120] or "organization"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    organization = Organization.objects.create(name=name, slug=slug)
    Membership.objects.create(organization=organization, user=acting_user, role=Role.ADMIN)
    audit_record(
        organization=organization,
        action=AuditAction.ORGANIZATION_CREATED,
        actor=acting_user,
        target=organization,
    )
    return organization


@transaction.atomic
def organization_rename(*, organization, name, acting_user):
    require_admin(organization, acting_user)
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    name = name.strip()
    _refuse_duplicate_name(name, exclude=organization)
    old = organization.name
    if old == name:
        return organization
    organization.name = name
    organization.save(update_fields=["name"])
    audit_record(
        organization=organization, action=AuditAction.ORGANIZATION_RENAMED, actor=acting_user, target=organization,
        details={"name": {"from": old, "to": name}},
    )
    return organization


@transaction.atomic
def organization_leave(*, organization, acting_user):
    """The member leaves; the last admin cannot (make someone else admin, or delete it)."""
    membership = Membership.objects.select_for_update().filter(organization=organization, user=acting_user).first()
    if membership is None:
        raise ValidationError(f"You are not a member of {organization}.")
    if membership.role == Role.ADMIN and not _other_admins(membership).exists():
        raise ValidationError(f"You are the last admin of {organization}: make another member admin first, or "
                              "delete the organization.")
    audit_record(
        organization=organization, action=AuditAction.MEMBER_LEFT, actor=acting_user, target=membership.user,
        details={"role": membership.role},
    )
    membership.delete()


@transaction.atomic
def invitation_create(*, organization, email, role, acting_user):
    require_admin(organization, acting_user)
    email = email.strip()
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already a member of {organization}."})
    # A new invitation replaces a pending one, so only the latest link works.
    now = timezone.now()
    Invitation.objects.filter(
        organization=organization,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=now,
    ).update(revoked_at=now)
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        invited_by=acting_user,
        expires_at=now + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    audit_record(
        organization=organization,
        action=AuditAction.MEMBER_INVITED,
        actor=acting_user,
        target=invitation,
        target_label=email,
        details={"role": role},
    )
    # Committed with the invitation: a broker outage delays the email, it does not lose it.
    outbox.enqueue("tenants.send_invitation_email", invitation_id=invitation.pk)
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation, acting_user):
    require_admin(invitation.organization, acting_user)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != Invitation.Status.PENDING:
        raise ValidationError(f"This invitation is already {invitation.status.label.lower()}.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        organization=invitation.organization,
        action=AuditAction.INVITATION_REVOKED,
        actor=acting_user,
        target=invitation,
        target_label=invitation.email,
    )
    return invitation


@transaction.atomic
def invitation_accept(*, invitation_id, acting_user):
    """Join the organization; the signed-in account's email must be the invited one."""
    invitation = Invitation.objects.select_for_update().select_related("organization").filter(
        pk=invitation_id
    ).first()
    if invitation is None:
        raise ValidationError("This invitation does not exist. Ask an admin of the organization for a new one.")
    status = invitation.status
    if status != Invitation.Status.PENDING:
        raise ValidationError(
            f"This invitation is {status.label.lower()}. "
            f"Ask an admin of {invitation.organization} for a new one."
        )
    if (acting_user.email or "").lower() != invitation.email.lower():
        raise ValidationError(
            f"This invitation was sent to {invitation.email}, but you are signed in as "
            f"{acting_user.email}. Sign in with the invited address, or ask for an invitation to yours."
        )
    membership, created = Membership.objects.get_or_create(
        organization=invitation.organization, user=acting_user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = acting_user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        organization=invitation.organization,
        action=AuditAction.INVITATION_ACCEPTED,
        actor=acting_user,
        target=membership,
        target_label=acting_user.email,
        details={"role": membership.role, "already_member": not created},
    )
    return membership


def _other_admins(membership):
    return Membership.objects.filter(organization=membership.organization, role=Role.ADMIN).exclude(
        pk=membership.pk
    )


@transaction.atomic
def membership_set_role(*, membership, role, acting_user):
    require_admin(membership.organization, acting_user)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == role:
        return membership
    if membership.role == Role.ADMIN and not _other_admins(membership).exists():
        raise ValidationError("An organization needs at least one admin: make someone else admin first.")
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        organization=membership.organization,
        action=AuditAction.MEMBER_ROLE_CHANGED,
        actor=acting_user,
        target=membership,
        target_label=membership.user.email,
        details={"from": old, "to": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership, acting_user):
    require_admin(membership.organization, acting_user)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.ADMIN and not _other_admins(membership).exists():
        raise ValidationError("An organization needs at least one admin: make someone else admin first.")
    audit_record(
        organization=membership.organization,
        action=AuditAction.MEMBER_REMOVED,
        actor=acting_user,
        target=membership,
        target_label=membership.user.email,
        details={"role": membership.role},
    )
    membership.delete()


# --- Atlassian sites and Microsoft tenants ----------------------------------------------


@transaction.atomic
def site_register(*, organization, url, name, products, acting_user, cloud_id=""):
    require_admin(organization, acting_user)
    if AtlassianSite.objects.filter(organization=organization, url=url).exists():
        raise ValidationError({"url": f"{url} is already registered in {organization}."})
    try:
        with transaction.atomic():
            site = AtlassianSite.objects.create(
                organization=organization,
                url=url,
                name=name,
                products=list(products),
                cloud_id=cloud_id,
                created_by=acting_user,
            )
    except IntegrityError as exc:  # a concurrent registration of the same URL
        raise ValidationError({"url": f"{url} is already registered in {organization}."}) from exc
    audit_record(
        organization=organization,
        action=AuditAction.SITE_REGISTERED,
        actor=acting_user,
        target=site,
        details={"url": url, "products": list(products)},
    )
    return site


def _changes(**pairs):
    """{field: {"from": old, "to": new}} for the fields that changed (the audit row says what changed)."""
    return {name: {"from": old, "to": new} for name, (old, new) in pairs.items() if old != new}


@transaction.atomic
def site_update(*, site, name, products, acting_user):
    require_admin(site.organization, acting_user)
    site = AtlassianSite.objects.select_for_update().get(pk=site.pk)
    changes = _changes(name=(site.name, name), products=(list(site.products or []), list(products)))
    if not changes:
        return site
    site.name, site.products = name, list(products)
    site.save(update_fields=["name", "products"])
    audit_record(organization=site.organization, action=AuditAction.SITE_UPDATED, actor=acting_user, target=site,
                 details=changes)
    if "products" in changes:
        site_products_changed.send(sender=AtlassianSite, site=site)
    return site


@transaction.atomic
def tenant_update(*, tenant, display_name, domains, acting_user):
    """Name and domains; a domain kept keeps what Microsoft said of it (verified or not)."""
    require_admin(tenant.organization, acting_user)
    tenant = MicrosoftTenant.objects.select_for_update().get(pk=tenant.pk)
    known = {d["name"]: d for d in tenant.domains or []}
    new_domains = [known.get(d, {"name": d, "verified": False}) for d in domains]
    changes = _changes(display_name=(tenant.display_name, display_name),
                       domains=([d["name"] for d in tenant.domains or []], list(domains)))
    if not changes:
        return tenant
    tenant.display_name, tenant.domains = display_name, new_domains
    tenant.save(update_fields=["display_name", "domains"])
    audit_record(organization=tenant.organization, action=AuditAction.TENANT_UPDATED, actor=acting_user,
                 target=tenant, details=changes)
    return tenant


@transaction.atomic
def tenant_record_domains(*, tenant, verified, actor):
    """The tenant's verified domains as Microsoft listed them (read with a signed-in admin's
    token): those become verified, the others typed in stay, not verified."""
    tenant = MicrosoftTenant.objects.select_for_update().get(pk=tenant.pk)
    verified = [d.lower() for d in verified]
    before = [(d["name"], bool(d.get("verified"))) for d in tenant.domains or []]
    others = [{"name": name, "verified": False} for name, _ in before if name not in verified]
    tenant.domains = [{"name": d, "verified": True} for d in verified] + others
    after = [(d["name"], d["verified"]) for d in tenant.domains]
    if after == before:
        return tenant
    tenant.save(update_fields=["domains"])
    audit_record(organization=tenant.organization, action=AuditAction.TENANT_DOMAINS_READ, actor=actor,
                 target=tenant, details={"verified": {"from": [n for n, v in before if v], "to": verified}})
    return tenant


@transaction.atomic
def site_remove(*, site, acting_user):
    require_admin(site.organization, acting_user)
    _remove_connections(site.connections.all(), acting_user)
    audit_record(
        organization=site.organization,
        action=AuditAction.SITE_REMOVED,
        actor=acting_user,
        target=site,
        details={"url": site.url},
    )
    site.delete()


@transaction.atomic
def tenant_register(*, organization, tenant_id, display_name, domains, acting_user, cloud="public", verified=()):
    """`verified`: domain names Microsoft itself listed as the tenant's verified domains."""
    require_admin(organization, acting_user)
    if MicrosoftTenant.objects.filter(organization=organization, tenant_id=tenant_id).exists():
        raise ValidationError({"tenant_id": f"Tenant {tenant_id} is already registered in {organization}."})
    try:
        with transaction.atomic():
            tenant = MicrosoftTenant.objects.create(
                organization=organization,
                tenant_id=tenant_id,
                display_name=display_name,
                cloud=cloud,
                domains=[{"name": d, "verified": d in set(verified)} for d in domains],
                created_by=acting_user,
            )
    except IntegrityError as exc:
        raise ValidationError(
            {"tenant_id": f"Tenant {tenant_id} is already registered in {organization}."}
        ) from exc
    audit_record(
        organization=organization,
        action=AuditAction.TENANT_REGISTERED,
        actor=acting_user,
        target=tenant,
        details={"tenant_id": str(tenant_id), "domains": list(domains), "cloud": cloud},
    )
    return tenant


@transaction.atomic
def tenant_remove(*, tenant, acting_user):
    require_admin(tenant.organization, acting_user)
    _remove_connections(tenant.connections.all(), acting_user)
    audit_record(
        organization=tenant.organization,
        action=AuditAction.TENANT_REMOVED,
        actor=acting_user,
        target=tenant,
        details={"tenant_id": str(tenant.tenant_id)},
    )
    tenant.delete()


def _remove_connections(connections, acting_user):
    for connection in connections.select_related("site", "tenant"):
        audit_record(
            organization=connection.organization,
            action=AuditAction.CONNECTION_REMOVED,
            actor=acting_user,
            target=connection,
            details={"site": connection.site.url, "tenant_id": str(connection.tenant.tenant_id)},
        )
        connection.delete()


# --- support staff ---------------------------------------------------------------------------


@transaction.atomic
def support_access_open(*, organization, ticket, reason, acting_user):
    """Open support's access to one organization for SUPPORT_ACCESS_MINUTES, with its reason."""
    if not acting_user.is_staff:
        raise PermissionDenied("Only support staff open a support access.")
    now = timezone.now()
    access = SupportAccess.objects.create(
        staff=acting_user, organization=organization, ticket=ticket, reason=reason, opened_at=now,
        expires_at=now + timedelta(minutes=settings.SUPPORT_ACCESS_MINUTES),
    )
    audit_record(
        organization=organization,
        action=AuditAction.SUPPORT_ACCESS_OPENED,
        actor=acting_user,
        target=organization,
        details={"access": access.pk, "ticket": ticket, "reason": reason,
                 "expires_at": access.expires_at.isoformat()},
    )
    return access


# Rows that outlive an organization's removal: its audit trail (with support's accesses, which
# its looks name, and the chain's bookkeeping), kept AUDIT_RETENTION_DAYS.
_KEPT_AFTER_REMOVAL = {AuditEvent, AuditChainHead, AuditChainCheck, SupportAccess}


@transaction.atomic
def organization_remove(*, organization, acting_user):
    """Delete everything of the organization except its audit trail, and mark it removed.

    Every row that points at the organization goes (sites, tenants, connections with their
    credentials, grants, user matches and mappings, jobs, consent links, members, invitations),
    found through the model graph so that what later features store goes too.
    """
    require_admin(organization, acting_user)
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    deleted = {}
    for relation in Organization._meta.related_objects:
        model = relation.related_model
        if model in _KEPT_AFTER_REMOVAL or relation.many_to_many:
            continue
        count, _ = model._base_manager.filter(**{relation.field.name: organization}).delete()
        if count:
            deleted[model._meta.label_lower] = count
    organization.removed_at = timezone.now()
    organization.save(update_fields=["removed_at"])
    audit_record(
        organization=organization,
        action=AuditAction.ORGANIZATION_REMOVED,
        actor=acting_user,
        target=organization,
        details={"name": organization.name, "audit_kept_days": settings.AUDIT_RETENTION_DAYS},
    )
    return deleted


def audit_retention_purge(*, now=None):
    """Delete the audit trail of every organization removed more than AUDIT_RETENTION_DAYS ago,
    then the organization itself; each purge is recorded in the trail of no organization.
    Run as the tables' owner (`manage.py audit purge`): the app role may not delete audit rows."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    purged = []
    for org in Organization.objects.filter(removed_at__lt=cutoff).order_by("pk"):
        with transaction.atomic():
            if db.vendor == "postgresql":
                with db.cursor() as cursor:
                    cursor.execute("SET LOCAL portal.audit_retention_purge = 'on'")
            count, _ = AuditEvent.objects.filter(organization=org).delete()
            AuditChainHead.objects.filter(organization=org).delete()
            SupportAccess.objects.filter(organization=org).delete()
            audit_record(
                organization=None,
                action=AuditAction.AUDIT_RETENTION_PURGED,
                target=org,
                details={"organization": org.pk, "name": org.name, "events": count,
                         "removed_at": org.removed_at.isoformat()},
            )
            org.delete()
        purged.append((org.name, count))
    return purged
