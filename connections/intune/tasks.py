"""Thin Celery tasks: the beat checks every Atlassian organization again, so a tenant admin's
consent given at Microsoft (which returns them to Atlassian, not here) shows without a click."""

from celery import shared_task

from ..models import AtlassianOrganization
from . import services


@shared_task(name="connections.intune_check_kickoff", acks_late=True)
def intune_check_kickoff():
    ids = list(AtlassianOrganization.objects.values_list("pk", flat=True))
    for atl_org_id in ids:
        intune_organization_check.delay(atl_org_id=atl_org_id)
    return len(ids)


@shared_task(name="connections.intune_organization_check", acks_late=True)
def intune_organization_check(*, atl_org_id):
    atl_org = AtlassianOrganization.objects.filter(pk=atl_org_id).first()
    if atl_org is None:
        return "gone"
    services.organization_check(atl_org=atl_org)
    return "checked"
