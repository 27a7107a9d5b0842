"""Reads for Intune app protection: which connection gives a tenant's app-only access, the
domains grouped by tenant, and the checklist of an Atlassian organization."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from tenants.models import MicrosoftTenant, Organization

from ..microsoft import consent_proof
from ..models import (
    AppConsentLink,
    AtlassianApp,
    AtlassianAppConsent,
    AtlassianOrganization,
    Connection,
    ManualStep,
    ManualStepConfirmation,
    MobileAppPolicy,
    OrganizationDomain,
    TenantState,
)
from . import protection

FEATURE = "intune_mobile_policy"


def organizations(organization: Organization) -> QuerySet[AtlassianOrganization]:
    return AtlassianOrganization.objects.filter(organization=organization).order_by("name")


@dataclass
class TenantAccess:
    """How the portal reaches one tenant for this organization, or why it does not."""

    tenant_id: str
    tenant: MicrosoftTenant | None = None
    connection: Connection | None = None
    reason: str = ""

    @property
    def usable(self) -> bool:
        return self.connection is not None


def tenant_access(organization: Organization, tenant_id: str) -> TenantAccess:
    """The organization's connection to the tenant whose features include Intune app protection
    and which rests on the organization's own admin consent (consent_proof); else why not."""
    tenant = MicrosoftTenant.objects.filter(organization=organization, tenant_id=tenant_id).first()
    access = TenantAccess(tenant_id=tenant_id, tenant=tenant)
    if tenant is None:
        access.reason = ("This tenant is not registered in the portal: add it under Tenants, connect it to a site with "
                         "the feature “Intune app protection for Jira and Confluence mobile apps”, and ask its admin "
                         "for consent.")
        return access
    connections = list(Connection.objects.filter(organization=organization, tenant=tenant)
                       .exclude(status=Connection.Status.DISCONNECTED).select_related("tenant", "site"))
    with_feature = [c for c in connections if FEATURE in (c.features or [])]
    for connection in with_feature:
        if consent_proof.has_app_access(connection):
            access.connection = connection
            return access
    if with_feature:
        access.reason = (f"No admin of {tenant} has given consent for the connection {with_feature[0]} yet: send them "
                         "its consent link (connection page).")
    elif connections:
        access.reason = (f"Add the feature “Intune app protection for Jira and Confluence mobile apps” to the "
                         f"connection {connections[0]} and ask {tenant}'s admin for consent again.")
    else:
        access.reason = (f"{tenant} is not connected to any site: create a connection with the feature “Intune app "
                         "protection for Jira and Confluence mobile apps” and ask its admin for consent.")
    return access


def needed_apps(atl_org: AtlassianOrganization) -> list[str]:
    """The apps the organization's policies cover (both while there is no policy yet)."""
    apps: list[str] = []
    for policy in atl_org.policies.all():
        apps += [a for a in policy.apps if a not in apps]
    return [a for a in AtlassianApp.values if a in apps] or list(AtlassianApp.values)


@dataclass
class TenantGroup:
    tenant_id: str
    domains: list[str]
    access: TenantAccess
    state: TenantState | None
    consents: dict[str, AtlassianAppConsent | None] = field(default_factory=dict)
    links: list[AppConsentLink] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.access.tenant) if self.access.tenant else self.tenant_id


def tenant_groups(atl_org: AtlassianOrganization) -> list[TenantGroup]:
    """The verified domains grouped by Microsoft tenant: one consent covers a tenant's domains."""
    by_tenant: dict[str, list[str]] = {}
    for domain in atl_org.domains.filter(claim_status="verified", resolution=OrganizationDomain.Resolution.TENANT):
        by_tenant.setdefault(domain.tenant_id, []).append(domain.name)
    states = {s.tenant_id: s for s in atl_org.tenant_states.all()}
    consents = {(c.tenant_id, c.app): c for c in atl_org.app_consents.all()}
    links = list(atl_org.consent_links.select_related("created_by")[:100])
    groups = []
    for tenant_id, names in sorted(by_tenant.items()):
        group = TenantGroup(tenant_id=tenant_id, domains=sorted(names),
                            access=tenant_access(atl_org.organization, tenant_id), state=states.get(tenant_id))
        group.consents = {app: consents.get((tenant_id, app)) for app in AtlassianApp.values}
        group.links = [link for link in links if link.tenant_id == tenant_id]
        groups.append(group)
    return groups


# --- the checklist ---------------------------------------------------------------------------

DONE, CONFIRMED, TODO, FAILED = "done", "confirmed", "todo", "failed"
PREREQUISITES = ("guard", "verified_domain", "licence")


@dataclass
class Step:
    key: str
    title: str
    state: str  # done (the portal sees it), confirmed (an admin says so), todo, failed
    detail: str
    where: str = ""  # where to click, for steps a person does
    manual: bool = False  # no API shows it: an admin confirms it
    confirmation: ManualStepConfirmation | None = None

    @property
    def green(self) -> bool:
        return self.state in (DONE, CONFIRMED)


def _manual(atl_org: AtlassianOrganization, step: str, title: str, where: str,
            confirmations: dict[str, ManualStepConfirmation]) -> Step:
    confirmation = confirmations.get(step)
    if confirmation is None:
        return Step(step, title, TODO, "The portal cannot see this step: confirm it here once it is done.", where,
                    manual=True)
    who = confirmation.confirmed_by.email if confirmation.confirmed_by else "an admin"
    return Step(step, title, CONFIRMED,
                f"Confirmed by {who} on {confirmation.confirmed_at:%Y-%m-%d %H:%M} UTC; the portal cannot check it.",
                where, manual=True, confirmation=confirmation)


def checklist(atl_org: AtlassianOrganization, groups: list[TenantGroup] | None = None) -> list[Step]:
    groups = tenant_groups(atl_org) if groups is None else groups
    confirmations = {c.step: c for c in atl_org.confirmations.select_related("confirmed_by")}
    domains = list(atl_org.domains.all())
    verified = [d for d in domains if d.verified]
    steps = [_manual(atl_org, ManualStep.GUARD, "Atlassian Guard subscription (Standard or above)",
                     "admin.atlassian.com › Billing (or Products): Atlassian Guard is listed for the organization. "
                     "Without it, Security › Mobile app policies is missing or asks to upgrade: subscribe to "
                     "Atlassian Guard Standard first.",
                     confirmations)]
    if atl_org.key_expired:
        steps.append(Step("api_key", "Organization API key", FAILED,
                          "The organization API key has expired: the portal cannot read the domains.",
                          "admin.atlassian.com › Settings › API keys › Create API key, then save it here."))
    elif atl_org.last_error:
        steps.append(Step("api_key", "Organization API key", FAILED, atl_org.last_error,
                          "admin.atlassian.com › Settings › API keys"))
    elif atl_org.domains_read_at is None:
        steps.append(Step("api_key", "Organization API key", TODO, "Not used yet: choose “Check again”."))
    else:
        steps.append(Step("api_key", "Organization API key", DONE,
                          f"Atlassian answered on {atl_org.domains_read_at:%Y-%m-%d %H:%M} UTC."))
    if not verified:
        steps.append(Step("verified_domain", "A verified domain", TODO if not domains else FAILED,
                          "No verified domain in the organization yet." if atl_org.domains_read_at else
                          "The domains have not been read yet.",
                          "admin.atlassian.com › Settings › Domains › Add domain, then verify it (DNS or HTTPS)."))
    else:
        steps.append(Step("verified_domain", "A verified domain", DONE,
                          f"{len(verified)} verified: {', '.join(d.name for d in verified)}."))
    pending = [d for d in verified if d.resolution in (OrganizationDomain.Resolution.NOT_CHECKED,
                                                        OrganizationDomain.Resolution.FAILED)]
    unknown = [d.name for d in verified if d.resolution == OrganizationDomain.Resolution.UNKNOWN]
    if not verified or pending:
        steps.append(Step("tenants", "The Microsoft tenant of each verified domain", TODO if not pending else FAILED,
                          "Microsoft did not answer for: " + ", ".join(d.name for d in pending) if pending
                          else "Waiting for a verified domain."))
    else:
        note = f" No Microsoft tenant has verified {', '.join(unknown)}: nothing to do in Microsoft for it." \
            if unknown else ""
        steps.append(Step("tenants", "The Microsoft tenant of each verified domain", DONE if groups else TODO,
                          f"{len(groups)} tenant(s) found.{note}" if groups else f"No domain is a Microsoft tenant's."
                          f"{note}"))
    steps.append(_per_tenant(
        "connected", "Each tenant connected to the portal, with consent", groups,
        lambda g: (g.access.usable, g.access.reason),
        "Portal › Connections: a connection with the feature “Intune app protection …”, then its consent link."))
    steps.append(_per_tenant(
        "licence", "An Intune licence in each tenant", groups,
        lambda g: (bool(g.state and g.state.intune == TenantState.Intune.LICENSED),
                   (g.state.detail if g.state and g.state.detail else
                    (g.state.get_intune_display() if g.state else "Not checked yet."))),
        "Microsoft 365 admin center › Billing › Purchase services › Microsoft Intune."))
    apps = needed_apps(atl_org)
    names = " and ".join(protection.APP_SHORT[AtlassianApp(a)] for a in apps)
    steps.append(_per_tenant(
        "apps_in_entra", f"{names} in Entra in each tenant (someone signed in once from the mobile app)", groups,
        lambda g: _apps_state(g, apps, present_only=True),
        "On a phone: install the app, Log in with a work address of the tenant, finish the Microsoft sign-in."))
    steps.append(_per_tenant(
        "admin_consent", f"Admin consent for {names} in each tenant", groups,
        lambda g: _apps_state(g, apps, present_only=False),
        "Send the tenant's admin the consent link below, or Entra › Enterprise applications › the app › Permissions "
        "› Grant admin consent; then “Check again”."))
    steps.append(_manual(atl_org, ManualStep.ATLASSIAN_SWITCH,
                         "Atlassian: mobile app policy set to use Intune",
                         "admin.atlassian.com › Security › Mobile app policies › Use an Intune policy instead "
                         "(or ••• › Add Intune mobile policy), choose the apps, Create policy.", confirmations))
    steps.append(_policies_step(atl_org, groups, apps))
    steps.append(_manual(atl_org, ManualStep.USERS_SIGNED_IN_AGAIN, "Users signed out and in again on their devices",
                         "Tell people: open the Jira or Confluence app, Log out, Log in again with the work account.",
                         confirmations))
    return steps


def _per_tenant(key: str, title: str, groups: list[TenantGroup], judge: Any, where: str) -> Step:
    if not groups:
        return Step(key, title, TODO, "Waiting for the tenants of the verified domains.", where)
    missing = []
    for group in groups:
        ok, why = judge(group)
        if not ok:
            missing.append(f"{group.name}: {why}")
    if missing:
        return Step(key, title, TODO, " · ".join(missing), where)
    return Step(key, title, DONE, f"Seen in {len(groups)} tenant(s).", where)


def _apps_state(group: TenantGroup, apps: list[str], *, present_only: bool) -> tuple[bool, str]:
    problems = []
    for app in apps:
        consent = group.consents.get(app)
        label = protection.APP_SHORT[AtlassianApp(app)]
        if consent is None or consent.state in (AtlassianAppConsent.State.NOT_CHECKED,
                                                AtlassianAppConsent.State.UNREADABLE):
            problems.append(f"{label} not checked" + (f" ({consent.detail})" if consent and consent.detail else ""))
        elif consent.state == AtlassianAppConsent.State.NOT_IN_ENTRA:
            problems.append(f"{label} not yet in Entra")
        elif not present_only and consent.state != AtlassianAppConsent.State.CONSENTED:
            problems.append(f"{label} has no tenant-wide consent")
    return (not problems, ", ".join(problems))


def _policies_step(atl_org: AtlassianOrganization, groups: list[TenantGroup], apps: list[str]) -> Step:
    title = "App protection policies created and assigned in each tenant"
    where = "Mobile app policies below: Create policy, then Assign groups per tenant."
    policies = list(atl_org.policies.prefetch_related("deployments"))
    if not policies:
        return Step("policies", title, TODO, "No mobile app policy yet.", where)
    if not groups:
        return Step("policies", title, TODO, "Waiting for the tenants of the verified domains.", where)
    missing = []
    covered = {a for p in policies for a in p.apps}
    if not set(apps) <= covered:
        missing.append("no policy covers every app")
    for group in groups:
        for policy in policies:
            for platform in policy.platforms:
                deployment = next((d for d in policy.deployments.all()
                                   if d.tenant_id == group.tenant_id and d.platform == platform), None)
                label = f"{policy.name} ({protection.PLATFORMS[platform]}) in {group.name}"
                if deployment is None or deployment.state != deployment.State.CREATED:
                    missing.append(f"{label}: " + (deployment.error if deployment and deployment.error
                                                   else "not created"))
                elif not deployment.assigned_groups:
                    missing.append(f"{label}: not assigned to a group")
    if missing:
        return Step("policies", title, TODO, " · ".join(missing), where)
    return Step("policies", title, DONE, f"{len(policies)} policy(ies) in {len(groups)} tenant(s), all assigned.",
                where)


def overview(atl_org: AtlassianOrganization) -> dict[str, Any]:
    groups = tenant_groups(atl_org)
    steps = checklist(atl_org, groups)
    return {
        "atl_org": atl_org,
        "domains": list(atl_org.domains.all()),
        "groups": groups,
        "steps": steps,
        "all_green": all(s.green for s in steps),
        # Said up front: without these nothing else can work.
        "prerequisites": [s for s in steps if s.key in PREREQUISITES],
        "policies": list(MobileAppPolicy.objects.filter(atlassian_organization=atl_org)
                         .prefetch_related("deployments")),
    }


@dataclass(frozen=True)
class KeyWarning:
    """An Atlassian organization API key expiring within APP_SECRET_WARNING_DAYS, or expired,
    in the shape the dashboard's secret warnings take."""

    key: str
    days_left: int
    sentence: str


def key_warnings(organization: Organization) -> list[KeyWarning]:
    found = []
    for atl_org in organizations(organization):
        if atl_org.key_expires_at is None or not atl_org.key_expires_soon:
            continue
        days = (atl_org.key_expires_at.date() - timezone.localdate()).days
        if atl_org.key_expired:
            sentence = (f"The organization API key of the Atlassian organization {atl_org} expired on "
                        f"{atl_org.key_expires_at:%Y-%m-%d}: its domains cannot be read until a new key is saved "
                        "(Mobile apps › the organization › Replace the API key).")
        else:
            when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
            sentence = (f"The organization API key of the Atlassian organization {atl_org} expires {when} "
                        f"({atl_org.key_expires_at:%Y-%m-%d}): create a new one in admin.atlassian.com › Settings › "
                        "API keys and save it here before then.")
        found.append(KeyWarning(f"atlassian-org-{atl_org.pk}", days, sentence))
    return found
