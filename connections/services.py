"""State changes of connections (site <-> tenant). Same rules as tenants/services.py."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tenants.audit import audit_record
from tenants.models import AuditAction
from tenants.services import _require_admin

from .models import Connection


@transaction.atomic
def connection_create(*, site, tenant, acting_user):
    """Link a site and a tenant of the same organization; it starts pending consent."""
    if site.organization_id != tenant.organization_id:
        raise ValidationError("A site and a tenant can only be connected within one organization.")
    _require_admin(site.organization, acting_user)
    if Connection.objects.filter(site=site, tenant=tenant).exists():
        raise ValidationError(f"{site} is already connected to {tenant}.")
    try:
        with transaction.atomic():
            connection = Connection.objects.create(
                organization=site.organization, site=site, tenant=tenant, created_by=acting_user
            )
    except IntegrityError as exc:  # the same pair connected concurrently
        raise ValidationError(f"{site} is already connected to {tenant}.") from exc
    audit_record(
        organization=site.organization,
        action=AuditAction.CONNECTION_CREATED,
        actor=acting_user,
        target=connection,
        details={"site": site.url, "tenant_id": str(tenant.tenant_id)},
    )
    return connection
