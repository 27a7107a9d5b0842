"""Writes for Intune app protection, each with its audit event: the Atlassian organization and
its key, the checks (domains → tenants → the Atlassian apps' consent and Intune), confirmed
manual steps, consent links for the Atlassian apps, and the mobile app policies in Intune.

The organization API key and consent-link tokens never go into an audit detail, a log line or
an error message. Calls to Atlassian and Microsoft happen outside database transactions; what
they answered is written afterwards.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenants.audit import ExternalActor, audit_record
from tenants.models import AuditAction, Organization
from tenants.services import require_admin

from ..atlassian_admin import endpoints as admin_endpoints
from ..atlassian_admin.client import AdminApiError
from ..microsoft import intune_endpoints as graph_intune
from ..microsoft.consent import hash_token
from ..microsoft.graph import Graph, GraphError, NotFound
from ..models import (
    AppConsentLink,
    AtlassianApp,
    AtlassianAppConsent,
    AtlassianOrganization,
    ManualStep,
    ManualStepConfirmation,
    MobileAppPolicy,
    OrganizationDomain,
    PolicyDeployment,
    TenantState,
)
from ..params import consent_token
from . import protection, selectors

logger = logging.getLogger(__name__)

LINK_HOLDER = ExternalActor("someone with the Atlassian app consent link")


# --- the Atlassian organization -------------------------------------------------------------


def _read_domains(org_id: str, api_key: str) -> list[admin_endpoints.OrgDomain]:
    try:
        return list(admin_endpoints.domains(org_id, api_key))
    except AdminApiError as exc:
        raise ValidationError(exc.remedy) from exc


def _check_expiry(key_expires_at: datetime | None) -> None:
    if key_expires_at is None:
        raise ValidationError("Give the key's expiry date, as admin.atlassian.com showed it when the key was created.")
    if key_expires_at <= timezone.now():
        raise ValidationError("This key has already expired: create a new one in admin.atlassian.com › Settings › "
                              "API keys.")
    if key_expires_at > timezone.now() + timedelta(days=366):
        raise ValidationError("An Atlassian organization API key expires within one year: check the date.")


def organization_register(*, organization: Organization, acting_user: Any, org_id: str, name: str, api_key: str,
                          key_expires_at: datetime | None) -> AtlassianOrganization:
    """Register an Atlassian organization after Atlassian accepted the key for it."""
    require_admin(organization, acting_user)
    org_id, name = org_id.strip(), name.strip()
    _check_expiry(key_expires_at)
    assert key_expires_at is not None  # _check_expiry refuses None
    if AtlassianOrganization.objects.filter(organization=organization, org_id=org_id).exists():
        raise ValidationError("This Atlassian organization is already registered.")
    found = _read_domains(org_id, api_key.strip())
    with transaction.atomic():
        atl_org = AtlassianOrganization(organization=organization, org_id=org_id, name=name, created_by=acting_user,
                                        key_expires_at=key_expires_at, key_saved_at=timezone.now())
        atl_org.api_key = api_key.strip()
        atl_org.save()
        _store_domains(atl_org, found)
        audit_record(organization=organization, action=AuditAction.INTUNE_ORG_REGISTERED, actor=acting_user,
                     target=atl_org, details={"org_id": org_id, "key_expires_at": key_expires_at.isoformat(),
                                              "domains": len(found)})
    return atl_org


def organization_save_key(*, atl_org: AtlassianOrganization, acting_user: Any, api_key: str,
                          key_expires_at: datetime | None) -> AtlassianOrganization:
    require_admin(atl_org.organization, acting_user)
    _check_expiry(key_expires_at)
    assert key_expires_at is not None  # _check_expiry refuses None
    found = _read_domains(atl_org.org_id, api_key.strip())
    with transaction.atomic():
        atl_org = AtlassianOrganization.objects.select_for_update().get(pk=atl_org.pk)
        atl_org.api_key = api_key.strip()
        atl_org.key_expires_at, atl_org.key_saved_at = key_expires_at, timezone.now()
        atl_org.last_error, atl_org.last_error_at = "", None
        atl_org.save()
        _store_domains(atl_org, found)
        audit_record(organization=atl_org.organization, action=AuditAction.INTUNE_ORG_KEY_SAVED, actor=acting_user,
                     target=atl_org, details={"key_expires_at": key_expires_at.isoformat()})
    return atl_org


def organization_remove(*, atl_org: AtlassianOrganization, acting_user: Any) -> None:
    """Forget the organization (and its key). Policies already in Intune stay there: delete them first."""
    require_admin(atl_org.organization, acting_user)
    if atl_org.policies.exists():
        raise ValidationError("Delete its mobile app policies first: they would stay in Intune otherwise.")
    with transaction.atomic():
        audit_record(organization=atl_org.organization, action=AuditAction.INTUNE_ORG_REMOVED, actor=acting_user,
                     target=atl_org, details={"org_id": atl_org.org_id})
        atl_org.delete()


def _store_domains(atl_org: AtlassianOrganization, found: list[admin_endpoints.OrgDomain]) -> None:
    names = set()
    for domain in found:
        if not domain.name:
            continue
        names.add(domain.name)
        row, created = OrganizationDomain.objects.get_or_create(
            atlassian_organization=atl_org, name=domain.name,
            defaults={"domain_id": domain.id, "claim_type": domain.claim_type, "claim_status": domain.status})
        if not created and (row.claim_status, row.claim_type, row.domain_id) != (domain.status, domain.claim_type,
                                                                                  domain.id):
            row.claim_status, row.claim_type, row.domain_id = domain.status, domain.claim_type, domain.id
            row.save(update_fields=["claim_status", "claim_type", "domain_id"])
    atl_org.domains.exclude(name__in=names).delete()
    AtlassianOrganization.objects.filter(pk=atl_org.pk).update(domains_read_at=timezone.now())


# --- checking: domains → tenants → apps' consent, Intune -------------------------------------------


def organization_check(*, atl_org: AtlassianOrganization, acting_user: Any = None) -> AtlassianOrganization:
    """Read the domains again, find each verified domain's tenant, and in each tenant the portal
    reaches (the organization's own consent) the Atlassian apps' consent and whether Intune answers."""
    if acting_user is not None:
        require_admin(atl_org.organization, acting_user)
    errors: dict[str, str] = {}
    if atl_org.key_expired:
        errors["key"] = "The organization API key has expired: save a new one."
    else:
        try:
            found = list(admin_endpoints.domains(atl_org.org_id, atl_org.api_key))
        except AdminApiError as exc:
            errors["key"] = exc.remedy
        else:
            with transaction.atomic():
                _store_domains(atl_org, found)
    now = timezone.now()
    AtlassianOrganization.objects.filter(pk=atl_org.pk).update(
        last_error=errors.get("key", ""), last_error_at=now if errors.get("key") else None, checked_at=now)
    for domain in atl_org.domains.filter(claim_status="verified"):
        _resolve(domain)
    resolved = atl_org.domains.filter(claim_status="verified", resolution=OrganizationDomain.Resolution.TENANT)
    tenants = sorted(set(resolved.values_list("tenant_id", flat=True)))
    summary = {}
    for tenant_id in tenants:
        summary[tenant_id] = _check_tenant(atl_org, tenant_id)
    atl_org.refresh_from_db()
    audit_record(organization=atl_org.organization, action=AuditAction.INTUNE_ORG_CHECKED, actor=acting_user,
                 target=atl_org, details={"key_error": errors.get("key", ""), "tenants": summary})
    return atl_org


def _resolve(domain: OrganizationDomain) -> None:
    try:
        tenant_id = graph_intune.tenant_of_domain(domain.name)
    except graph_intune.DomainLookupFailed as exc:
        logger.warning("Could not look up the tenant of a domain: %s", exc)
        domain.resolution, domain.tenant_id = OrganizationDomain.Resolution.FAILED, ""
    else:
        domain.tenant_id = tenant_id or ""
        domain.resolution = (OrganizationDomain.Resolution.TENANT if tenant_id
                             else OrganizationDomain.Resolution.UNKNOWN)
    domain.checked_at = timezone.now()
    domain.save(update_fields=["tenant_id", "resolution", "checked_at"])


def _check_tenant(atl_org: AtlassianOrganization, tenant_id: str) -> dict[str, str]:
    access = selectors.tenant_access(atl_org.organization, tenant_id)
    state, _ = TenantState.objects.get_or_create(atlassian_organization=atl_org, tenant_id=tenant_id)
    now = timezone.now()
    if access.connection is None:
        state.intune, state.detail, state.checked_at = TenantState.Intune.NOT_CHECKED, access.reason[:500], now
        state.save()
        for app in AtlassianApp.values:
            AtlassianAppConsent.objects.update_or_create(
                atlassian_organization=atl_org, tenant_id=tenant_id, app=app,
                defaults={"state": AtlassianAppConsent.State.NOT_CHECKED, "detail": "The portal cannot read this "
                          "tenant yet (see “Each tenant connected to the portal”).", "checked_at": now})
        return {"access": "none"}
    graph = Graph(access.connection)
    result = {"access": str(access.connection.pk)}
    # Intune: a licence (it answers at all), and the permission.
    try:
        graph_intune.protections_first_page(graph, "ios")
    except GraphError as exc:
        if graph_intune.is_unlicensed(exc):
            state.intune, state.detail = TenantState.Intune.UNLICENSED, graph_intune.UNLICENSED_REMEDY
        else:
            state.intune, state.detail = TenantState.Intune.UNREADABLE, f"{exc.message[:200]} {exc.remedy}"[:500]
    else:
        state.intune, state.detail = TenantState.Intune.LICENSED, ""
    try:
        verified = graph_intune.verified_domains(graph)
    except GraphError:
        verified = set()
    state.verified_in_tenant = sorted(verified & set(atl_org.domains.values_list("name", flat=True)))
    state.checked_at = now
    state.save()
    result["intune"] = state.intune
    for app in AtlassianApp.values:
        consent_state, sp_id, scopes, detail = _app_consent(graph, protection.ENTRA_APP_IDS[AtlassianApp(app)])
        AtlassianAppConsent.objects.update_or_create(
            atlassian_organization=atl_org, tenant_id=tenant_id, app=app,
            defaults={"state": consent_state, "service_principal_id": sp_id, "scopes": scopes, "detail": detail,
                      "checked_at": now})
        result[app] = consent_state
    _check_deployments(atl_org, tenant_id, graph)
    return result


def _app_consent(graph: Graph, app_id: str) -> tuple[str, str, list[str], str]:
    """(state, service principal id, tenant-wide scopes, detail) of one Atlassian app in the tenant."""
    try:
        sp = graph_intune.service_principal_of(graph, app_id)
        if sp is None:
            return AtlassianAppConsent.State.NOT_IN_ENTRA, "", [], ""
        grants = graph_intune.permission_grants_of(graph, str(sp.get("id", "")))
    except GraphError as exc:
        return AtlassianAppConsent.State.UNREADABLE, "", [], f"{exc.message[:200]} {exc.remedy}"[:500]
    # Tenant-wide admin consent is an AllPrincipals grant; a user's own is "Principal".
    # Reference: https://learn.microsoft.com/graph/api/resources/oauth2permissiongrant
    tenant_wide = [g for g in grants if g.get("consentType") == "AllPrincipals"]
    if not tenant_wide:
        return AtlassianAppConsent.State.NO_TENANT_CONSENT, str(sp.get("id", "")), [], ""
    scopes = sorted({s for g in tenant_wide for s in str(g.get("scope", "")).split()})
    return AtlassianAppConsent.State.CONSENTED, str(sp.get("id", "")), scopes, ""


def _check_deployments(atl_org: AtlassianOrganization, tenant_id: str, graph: Graph) -> None:
    """A policy deleted in Intune by hand is no longer counted as created."""
    for deployment in PolicyDeployment.objects.filter(policy__atlassian_organization=atl_org, tenant_id=tenant_id,
                                                      state=PolicyDeployment.State.CREATED):
        try:
            graph_intune.protection_get(graph, deployment.platform, deployment.graph_id)
        except NotFound:
            deployment.state, deployment.error = PolicyDeployment.State.FAILED, "Deleted in Intune since."
            deployment.remedy = "Save the policy again to create it anew."
            deployment.save()
        except GraphError:
            continue


# --- manual steps ---------------------------------------------------------------------------------


def step_confirm(*, atl_org: AtlassianOrganization, step: str, acting_user: Any, done: bool = True) -> None:
    require_admin(atl_org.organization, acting_user)
    if step not in ManualStep.values:
        raise ValidationError("Unknown step.")
    with transaction.atomic():
        if done:
            ManualStepConfirmation.objects.update_or_create(
                atlassian_organization=atl_org, step=step,
                defaults={"confirmed_by": acting_user, "confirmed_at": timezone.now()})
        else:
            ManualStepConfirmation.objects.filter(atlassian_organization=atl_org, step=step).delete()
        audit_record(organization=atl_org.organization,
                     action=AuditAction.INTUNE_STEP_CONFIRMED if done else AuditAction.INTUNE_STEP_UNCONFIRMED,
                     actor=acting_user, target=atl_org, details={"step": step})


# --- consent links for the Atlassian apps -------------------------------------------------------


def consent_link_create(*, atl_org: AtlassianOrganization, tenant_id: str, app: str,
                        acting_user: Any) -> tuple[AppConsentLink, str]:
    """A link for the tenant's admin (single use, expiring after CONSENT_LINK_TTL_DAYS); (link, raw token)."""
    require_admin(atl_org.organization, acting_user)
    if app not in AtlassianApp.values:
        raise ValidationError("Choose Jira Cloud or Confluence Cloud.")
    if not atl_org.domains.filter(tenant_id=tenant_id, claim_status="verified").exists():
        raise ValidationError("None of the organization's verified domains belongs to this tenant.")
    raw = secrets.token_urlsafe(32)
    with transaction.atomic():
        link = AppConsentLink(organization=atl_org.organization, atlassian_organization=atl_org, tenant_id=tenant_id,
                              app=app, token_hash=hash_token(raw), created_by=acting_user,
                              expires_at=timezone.now() + timedelta(days=settings.CONSENT_LINK_TTL_DAYS))
        link.token = raw
        link.save()
        audit_record(organization=atl_org.organization, action=AuditAction.INTUNE_CONSENT_LINK_CREATED,
                     actor=acting_user, target=atl_org,
                     details={"link": link.pk, "tenant_id": tenant_id, "app": app,
                              "expires_at": link.expires_at.isoformat()})
    return link, raw


def consent_link_find(raw: str) -> AppConsentLink | None:
    """The link a token names, compared by hash only."""
    if consent_token(raw) is None:
        return None
    return (AppConsentLink.objects.select_related("atlassian_organization", "organization")
            .filter(token_hash=hash_token(raw)).first())


@transaction.atomic
def consent_link_open(*, link: AppConsentLink) -> AppConsentLink:
    link = AppConsentLink.objects.select_for_update().get(pk=link.pk)
    if link.state == AppConsentLink.State.SENT and link.is_usable:
        link.state, link.opened_at = AppConsentLink.State.OPENED, timezone.now()
        link.save(update_fields=["state", "opened_at"])
        audit_record(organization=link.organization, action=AuditAction.INTUNE_CONSENT_LINK_OPENED,
                     actor=LINK_HOLDER, target=link.atlassian_organization, details={"link": link.pk})
    return link


def consent_link_use(*, link: AppConsentLink) -> str:
    """Use the link up and return where the admin grants consent: Microsoft's tenant-wide admin
    consent URL for the Atlassian app (which returns to Atlassian's reply URL, not the portal's)."""
    try:
        url = graph_intune.atlassian_app_admin_consent_url(
            tenant_id=link.tenant_id, app_id=protection.ENTRA_APP_IDS[AtlassianApp(link.app)])
    except graph_intune.DomainLookupFailed as exc:
        raise ValidationError("Microsoft's sign-in service did not answer: try the link again in a minute.") from exc
    with transaction.atomic():
        link = AppConsentLink.objects.select_for_update().get(pk=link.pk)
        if not link.is_usable:
            raise ValidationError(f"This consent link is {link.link_state}.")
        link.state, link.used_at = AppConsentLink.State.USED, timezone.now()
        link.save(update_fields=["state", "used_at"])
        audit_record(organization=link.organization, action=AuditAction.INTUNE_CONSENT_LINK_USED, actor=LINK_HOLDER,
                     target=link.atlassian_organization, details={"link": link.pk, "app": link.app})
    return url


@transaction.atomic
def consent_link_revoke(*, link: AppConsentLink, acting_user: Any) -> AppConsentLink:
    require_admin(link.organization, acting_user)
    link = AppConsentLink.objects.select_for_update().get(pk=link.pk)
    if not link.is_usable:
        raise ValidationError(f"This link is already {link.link_state}.")
    link.state, link.revoked_at = AppConsentLink.State.REVOKED, timezone.now()
    link.save(update_fields=["state", "revoked_at"])
    audit_record(organization=link.organization, action=AuditAction.INTUNE_CONSENT_LINK_REVOKED, actor=acting_user,
                 target=link.atlassian_organization, details={"link": link.pk})
    return link


# --- mobile app policies ----------------------------------------------------------------------------


def _ready_tenants(atl_org: AtlassianOrganization) -> list[selectors.TenantAccess]:
    return [g.access for g in selectors.tenant_groups(atl_org)]


def _record(policy: MobileAppPolicy, tenant_id: str, platform: str, *, graph_id: str = "",
            error: GraphError | None = None, **fields: Any) -> PolicyDeployment:
    state = PolicyDeployment.State.CREATED if error is None else PolicyDeployment.State.FAILED
    defaults: dict[str, Any] = {"state": state,
                                "error": "" if error is None else str(error.message)[:500],
                                "remedy": "" if error is None else _remedy(error)[:500], **fields}
    if graph_id:
        defaults["graph_id"] = graph_id
    deployment, _ = PolicyDeployment.objects.update_or_create(policy=policy, tenant_id=tenant_id, platform=platform,
                                                              defaults=defaults)
    return deployment


def _remedy(exc: GraphError) -> str:
    if graph_intune.is_unlicensed(exc):
        return graph_intune.UNLICENSED_REMEDY
    return exc.remedy


def _deploy(policy: MobileAppPolicy, access: selectors.TenantAccess, platform: str) -> dict[str, str]:
    """Create or update the policy on one platform in one tenant, target the apps, assign the groups."""
    tenant_id = access.tenant_id
    if access.connection is None:
        _record(policy, tenant_id, platform, error=GraphError(0, "notConnected", access.reason))
        return {"platform": platform, "result": "not connected"}
    graph = Graph(access.connection)
    deployment = PolicyDeployment.objects.filter(policy=policy, tenant_id=tenant_id, platform=platform).first()
    settings_ = {"displayName": protection.display_name(policy.name, platform),
                 "description": f"Made by the Connections portal for the Atlassian organization "
                                f"{policy.atlassian_organization.name}.",
                 **protection.graph_settings(policy.options)}
    apps = protection.target_ids(policy.apps, platform)
    groups = list((policy.groups or {}).get(tenant_id, []))
    graph_id = deployment.graph_id if deployment and deployment.state == PolicyDeployment.State.CREATED else ""
    try:
        if graph_id:
            graph_intune.protection_update(graph, platform, graph_id, settings_)
        else:
            graph_id = graph_intune.protection_create(graph, platform, settings_)
        graph_intune.protection_target_apps(graph, platform, graph_id, apps)
        if groups or (deployment and deployment.assigned_groups):
            graph_intune.protection_assign(graph, platform, graph_id, groups)
    except GraphError as exc:
        _record(policy, tenant_id, platform, graph_id=graph_id, error=exc)
        return {"platform": platform, "result": "failed", "error": str(exc.message)[:200]}
    _record(policy, tenant_id, platform, graph_id=graph_id, targeted_apps=apps, assigned_groups=groups)
    return {"platform": platform, "result": "ok", "policy_id": graph_id}


def _validate(apps: list[str], platforms: list[str], name: str) -> None:
    if not apps or not set(apps) <= set(AtlassianApp.values):
        raise ValidationError("Choose at least one app: Jira Cloud, Confluence Cloud.")
    if not platforms or not set(platforms) <= set(protection.PLATFORMS):
        raise ValidationError("Choose at least one platform: iOS/iPadOS, Android.")
    if not name.strip():
        raise ValidationError("Give the policy a name.")


def policy_create(*, atl_org: AtlassianOrganization, acting_user: Any, name: str, apps: list[str],
                  platforms: list[str], options: dict[str, Any]) -> MobileAppPolicy:
    """Save the policy and create it (iOS and/or Android) in each tenant of the organization's domains."""
    require_admin(atl_org.organization, acting_user)
    _validate(apps, platforms, name)
    policy = MobileAppPolicy.objects.create(organization=atl_org.organization, atlassian_organization=atl_org,
                                            name=name.strip(), apps=apps, platforms=platforms, options=options,
                                            created_by=acting_user)
    results = {a.tenant_id: [_deploy(policy, a, p) for p in platforms] for a in _ready_tenants(atl_org)}
    audit_record(organization=atl_org.organization, action=AuditAction.INTUNE_POLICY_CREATED, actor=acting_user,
                 target=policy, details={"apps": apps, "platforms": platforms, "options": options, "tenants": results})
    return policy


def policy_update(*, policy: MobileAppPolicy, acting_user: Any, name: str, apps: list[str], platforms: list[str],
                  options: dict[str, Any]) -> MobileAppPolicy:
    """Change the policy: settings patched in Intune, apps targeted anew, a platform dropped is
    deleted there, one added is created."""
    require_admin(policy.organization, acting_user)
    _validate(apps, platforms, name)
    before = {"name": policy.name, "apps": policy.apps, "platforms": policy.platforms, "options": policy.options}
    dropped = [p for p in policy.platforms if p not in platforms]
    policy.name, policy.apps, policy.platforms, policy.options = name.strip(), apps, platforms, options
    policy.save()
    results: dict[str, list[dict[str, str]]] = {}
    for access in _ready_tenants(policy.atlassian_organization):
        results[access.tenant_id] = [_deploy(policy, access, p) for p in platforms]
        for platform in dropped:
            results[access.tenant_id].append(_remove(policy, access, platform))
    audit_record(organization=policy.organization, action=AuditAction.INTUNE_POLICY_UPDATED, actor=acting_user,
                 target=policy, details={"before": before, "after": {"name": policy.name, "apps": apps,
                                                                     "platforms": platforms, "options": options},
                                         "tenants": results})
    return policy


def policy_assign(*, policy: MobileAppPolicy, acting_user: Any, tenant_id: str, group_ids: list[str]) -> None:
    """Assign the policy, in one tenant, to these of its groups (the assignment set is replaced)."""
    require_admin(policy.organization, acting_user)
    access = selectors.tenant_access(policy.organization, tenant_id)
    if not access.usable:
        raise ValidationError(access.reason)
    if not policy.atlassian_organization.domains.filter(tenant_id=tenant_id, claim_status="verified").exists():
        raise ValidationError("None of the organization's verified domains belongs to this tenant.")
    graph = Graph(access.connection)
    known = {g["id"] for g in graph_intune.groups(graph, top=999)}
    unknown = [g for g in group_ids if g not in known]
    if unknown:
        raise ValidationError("Choose groups of this tenant only.")
    results = []
    for deployment in policy.deployments.filter(tenant_id=tenant_id, state=PolicyDeployment.State.CREATED):
        try:
            graph_intune.protection_assign(graph, deployment.platform, deployment.graph_id, group_ids)
        except GraphError as exc:
            deployment.error, deployment.remedy = str(exc.message)[:500], _remedy(exc)[:500]
            deployment.save()
            results.append({"platform": deployment.platform, "result": "failed"})
            continue
        deployment.assigned_groups, deployment.error, deployment.remedy = group_ids, "", ""
        deployment.save()
        results.append({"platform": deployment.platform, "result": "ok"})
    if not results:
        raise ValidationError("The policy is not in this tenant's Intune yet: save it again once the tenant is ready.")
    policy.groups = {**(policy.groups or {}), tenant_id: group_ids}
    policy.save(update_fields=["groups", "updated_at"])
    audit_record(organization=policy.organization, action=AuditAction.INTUNE_POLICY_ASSIGNED, actor=acting_user,
                 target=policy, details={"tenant_id": tenant_id, "groups": group_ids, "results": results})


def _remove(policy: MobileAppPolicy, access: selectors.TenantAccess, platform: str) -> dict[str, str]:
    deployment = PolicyDeployment.objects.filter(policy=policy, tenant_id=access.tenant_id, platform=platform).first()
    if deployment is None:
        return {"platform": platform, "result": "nothing to delete"}
    if deployment.graph_id:
        if not access.usable:
            raise ValidationError(f"The portal cannot reach tenant {access.tenant_id} to delete the policy there: "
                                  f"{access.reason}")
        try:
            graph_intune.protection_delete(Graph(access.connection), platform, deployment.graph_id)
        except NotFound:
            pass  # already gone in Intune
        except GraphError as exc:
            raise ValidationError(f"Intune did not delete the {protection.PLATFORMS[platform]} policy in "
                                  f"{access.tenant_id}: {exc.message} {_remedy(exc)}") from exc
    deployment.delete()
    return {"platform": platform, "result": "deleted"}


def policy_delete(*, policy: MobileAppPolicy, acting_user: Any) -> None:
    """Delete the policy in every tenant's Intune, then here; a tenant that refuses keeps it whole."""
    require_admin(policy.organization, acting_user)
    results: dict[str, list[dict[str, str]]] = {}
    for deployment in list(policy.deployments.all()):
        access = selectors.tenant_access(policy.organization, deployment.tenant_id)
        results.setdefault(deployment.tenant_id, []).append(_remove(policy, access, deployment.platform))
    with transaction.atomic():
        audit_record(organization=policy.organization, action=AuditAction.INTUNE_POLICY_DELETED, actor=acting_user,
                     target=policy, details={"name": policy.name, "tenants": results})
        policy.delete()
