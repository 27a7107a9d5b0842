"""State changes of a site's authorization. Same rules as tenants/services.py: keyword-only,
`acting_user`, one transaction, the audit event written in it.

A site record and its credential are written together, only after every check passed
(the code was exchanged, the admin chose a site the grant covers, the API token worked),
so a failure never leaves a half-made site behind. Failures are audited on their own.
"""

import logging
from datetime import timedelta

import requests
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tenants.audit import audit_record
from tenants.models import AtlassianSite, AuditAction
from tenants.models.directory import SiteAuthMode, SiteAuthStatus
from tenants.services import require_admin
from tenants.validators import normalize_site_url, site_name_from_url

from ..models import Connection, Credential, HealthCheckResult, PermissionGrant, PermissionKind, Provider
from ..services import projects_refresh_soon
from ..status import connection_status_refresh
from . import client, endpoints, needs

logger = logging.getLogger(__name__)


def canonical_url(url):
    try:
        return normalize_site_url(url)
    except ValidationError:
        return url.rstrip("/")


def granted_scopes(resource, tokens):
    """What the grant holds for this site: the site's scopes from accessible-resources plus
    the token's. accessible-resources leaves out site-neutral scopes (offline_access,
    read:me) and a product's scopes on a site without that product; the grant still holds
    them, and asking again would not change that, so they count as granted."""
    return sorted(set(resource.scopes) | set(tokens.scopes))


def _replace_credential(site, *, kind, principal, principal_id, access_token, refresh_token="", expires_in=None,
                        scopes=()):
    """One credential per site: update it in place (its row is what refreshers lock)."""
    credential = (
        Credential.objects.select_for_update().filter(site=site, kind=kind).order_by("pk").first()
        or Credential(organization=site.organization, site=site, kind=kind)
    )
    credential.principal = principal
    credential.principal_id = principal_id
    credential.scopes = list(scopes)
    credential.access_token = access_token
    credential.refresh_token = refresh_token
    now = timezone.now()
    credential.expires_at = now + timedelta(seconds=expires_in) if expires_in else None
    credential.last_refreshed_at = now if expires_in else None
    credential.last_error, credential.last_error_at = "", None
    credential.save()
    # The other mode's secret is no longer used: drop it rather than keep a live secret around.
    Credential.objects.filter(site=site).exclude(pk=credential.pk).delete()
    return credential


def sync_connection_grants(site, *, acting_user=None):
    """Record, on each connection of the site, its Atlassian scopes as requested and granted.

    The scopes come from an answer the portal fetched itself (accessible-resources), so a
    scope the site holds counts as observed too.
    """
    now = timezone.now()
    granted = set(site.granted_scopes or [])
    for connection in site.connections.all():
        for name in needs.scopes_for(connection.features):
            grant, _ = PermissionGrant.objects.get_or_create(
                connection=connection, provider=Provider.ATLASSIAN, kind=PermissionKind.SCOPE, name=name
            )
            grant.requested_at = grant.requested_at or now
            grant.requested_by = grant.requested_by or acting_user
            held = name in granted
            grant.granted_at = (grant.granted_at or now) if held else None
            grant.granted_by_name = site.account_name if held else ""
            grant.granted_by_upn = site.account_email if held else ""
            grant.granted_by_oid = site.account_id if held else ""
            grant.observed, grant.observed_at = held, (now if held else None)
            grant.save()


def products_of(*, resource, tokens):
    """The products the chosen site runs: Jira and Confluence from the grant's scopes on it, and
    Jira Service Management from the site itself (no scope tells it). Best effort: a site that does
    not answer keeps what the scopes say, and its admin can correct the products on its page."""
    products = list(resource.products)
    if "jira" in products:
        try:
            jira = client.jira(cloud_id=resource.cloud_id, access_token=tokens.access_token)
            if endpoints.runs_service_management(jira):
                products.append("jsm")
        except (requests.RequestException, client.AtlassianError) as exc:
            logger.warning("Could not ask %s whether it runs Jira Service Management: %s", resource.url,
                           type(exc).__name__)
    return products


@transaction.atomic
def site_authorize_oauth(*, organization, resource, tokens, account, features, acting_user, site_id=None,
                         other_sites=(), products=None):
    """Register (or re-authorize) the site the admin chose, with the grant's tokens; `products`:
    what the site runs (products_of, asked before this transaction), else the grant's scopes say."""
    require_admin(organization, acting_user)
    url = canonical_url(resource.url)
    sites = AtlassianSite.objects.select_for_update().filter(organization=organization)
    if site_id is not None:
        site = sites.get(pk=site_id)
        if site.cloud_id and site.cloud_id != resource.cloud_id:
            raise ValidationError(f"This grant is for {resource.url}, not for {site.url}.")
    else:
        site = sites.filter(Q(cloud_id=resource.cloud_id) | Q(url=url)).order_by("pk").first()
    created = site is None
    if created:
        site = AtlassianSite(organization=organization, url=url, name=resource.name or site_name_from_url(url),
                             created_by=acting_user)
    site.cloud_id = resource.cloud_id
    site.products = list(dict.fromkeys([*(site.products or []), *(products or resource.products)]))
    site.auth_mode = SiteAuthMode.OAUTH
    site.auth_status = SiteAuthStatus.AUTHORIZED
    site.features = list(dict.fromkeys([*(site.features or []), *features]))
    site.granted_scopes = granted_scopes(resource, tokens)
    site.authorized_at = timezone.now()
    site.authorized_by = acting_user
    site.account_id, site.account_name, site.account_email = account.account_id, account.name, account.email
    site.auth_error, site.auth_error_at = "", None
    site.save()
    if created:
        audit_record(
            organization=organization,
            action=AuditAction.SITE_REGISTERED,
            actor=acting_user,
            target=site,
            details={"url": site.url, "products": site.products, "via": "oauth"},
        )
    _replace_credential(
        site,
        kind=Credential.Kind.ATLASSIAN_OAUTH,
        principal=account.email or account.name,
        principal_id=account.account_id,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        scopes=site.granted_scopes,
    )
    sync_connection_grants(site, acting_user=acting_user)
    site_connections_refresh(site, new_grant=True)
    audit_record(
        organization=organization,
        action=AuditAction.SITE_AUTHORIZED,
        actor=acting_user,
        target=site,
        details={
            "cloud_id": site.cloud_id,
            "url": site.url,
            "scopes": site.granted_scopes,
            "atlassian_account": {"id": account.account_id, "name": account.name, "email": account.email},
            "also_covered_not_added": [r.url for r in other_sites],
            "reauthorization": not created,
        },
    )
    return site, created


def api_token_connect(*, organization, url, email, api_token, acting_user, name="", site=None):
    """Check an email + API token against the site with real calls, then save them.

    The checks run before anything is written: a wrong token, or a token for another
    site, leaves nothing behind but an audit event.
    """
    require_admin(organization, acting_user)
    url = site.url if site is not None else url
    if site is None and AtlassianSite.objects.filter(organization=organization, url=url).exists():
        raise ValidationError({"url": f"{url} is already registered in {organization}: open it to change how "
                                      "the portal connects to it."})
    try:
        check = endpoints.check_api_token(site_url=url, email=email, api_token=api_token)
    except client.Unavailable as exc:
        authorization_failed(organization=organization, acting_user=acting_user, site=site, reason="unavailable",
                             details={"url": url, "status": exc.status})
        raise ValidationError(f"{url} could not be reached just now (Atlassian answered {exc.status or 'nothing'}). "
                              "Nothing was saved; try again in a few minutes.") from None
    if not check.products:
        statuses = set(check.statuses.values())
        reason = "not_found" if statuses <= {404} else "rejected"
        authorization_failed(organization=organization, acting_user=acting_user, site=site, reason=reason,
                             details={"url": url, "email": email, "statuses": check.statuses})
        if reason == "not_found":
            raise ValidationError(
                f"There is no Jira or Confluence at {url}. Check the site address; nothing was saved."
            )
        raise ValidationError(
            f"{url} did not accept this email and API token. Check that the token was created by {email} (at "
            "id.atlassian.com, Security, API tokens), that it was copied whole and not revoked, and that this "
            "account can sign in to this site: a token of an account without access to the site is refused. "
            "Nothing was saved."
        )
    return _api_token_save(organization=organization, url=url, email=email, api_token=api_token, check=check,
                           acting_user=acting_user, name=name, site_id=site.pk if site else None)


@transaction.atomic
def _api_token_save(*, organization, url, email, api_token, check, acting_user, name, site_id):
    sites = AtlassianSite.objects.select_for_update().filter(organization=organization)
    site = sites.get(pk=site_id) if site_id else sites.filter(url=url).first()
    created = site is None
    if created:
        site = AtlassianSite(organization=organization, url=url, name=name or site_name_from_url(url),
                             created_by=acting_user)
    if not site.cloud_id:
        site.cloud_id = endpoints.tenant_info(site_url=url)
    account = check.account
    site.products = list(dict.fromkeys([*(site.products or []), *check.products]))
    site.auth_mode = SiteAuthMode.API_TOKEN
    site.auth_status = SiteAuthStatus.AUTHORIZED
    site.granted_scopes = []
    site.authorized_at = timezone.now()
    site.authorized_by = acting_user
    site.account_id = account.account_id if account else ""
    site.account_name = account.name if account else ""
    site.account_email = email
    site.auth_error, site.auth_error_at = "", None
    site.save()
    if created:
        audit_record(
            organization=organization,
            action=AuditAction.SITE_REGISTERED,
            actor=acting_user,
            target=site,
            details={"url": site.url, "products": site.products, "via": "api_token"},
        )
    _replace_credential(
        site,
        kind=Credential.Kind.ATLASSIAN_API_TOKEN,
        principal=email,
        principal_id=site.account_id,
        access_token=api_token,
    )
    site_connections_refresh(site, new_grant=True)
    audit_record(
        organization=organization,
        action=AuditAction.SITE_API_TOKEN_SAVED,
        actor=acting_user,
        target=site,
        details={"url": site.url, "email": email, "products": list(check.products)},
    )
    return site, created


def authorization_failed(*, organization, acting_user, reason, details=None, site=None, declined=False):
    """Audit a failed or declined attempt: nothing else changes."""
    with transaction.atomic():
        return audit_record(
            organization=organization,
            action=AuditAction.SITE_AUTHORIZATION_DECLINED if declined else AuditAction.SITE_AUTHORIZATION_FAILED,
            actor=acting_user,
            target=site,
            target_label="" if site else "Atlassian authorization",
            details={"reason": reason, **(details or {})},
        )


def callback_rejected(*, organization, acting_user, reason, details=None):
    """A callback this browser did not start (forged, replayed, very old): audited, no change."""
    with transaction.atomic():
        return audit_record(
            organization=organization,
            action=AuditAction.SITE_CALLBACK_REJECTED,
            actor=acting_user,
            target_label="Atlassian authorization",
            details={"reason": reason, **(details or {})},
        )


def authorization_started(*, organization, acting_user, scopes, site=None):
    with transaction.atomic():
        return audit_record(
            organization=organization,
            action=AuditAction.SITE_AUTHORIZATION_STARTED,
            actor=acting_user,
            target=site,
            target_label="" if site else "new Atlassian site",
            details={"scopes": list(scopes)},
        )


def site_mark_needs_reauth(*, site, error):
    """The grant is dead: say so on the site, once, for people to act on. Called by the
    refresher inside its transaction, with the site's credential row locked."""
    site = AtlassianSite.objects.select_for_update().get(pk=site.pk)
    already = site.auth_status == SiteAuthStatus.NEEDS_REAUTH
    site.auth_status = SiteAuthStatus.NEEDS_REAUTH
    site.auth_error = error[:500]
    site.auth_error_at = timezone.now()
    site.save(update_fields=["auth_status", "auth_error", "auth_error_at"])
    if not already:
        audit_record(
            organization=site.organization,
            action=AuditAction.SITE_NEEDS_REAUTH,
            target=site,
            details={"error": error[:500]},
        )
    site_connections_refresh(site)
    return site


def site_connections_refresh(site, *, new_grant=False):
    """The site's authorization changed: each of its connections takes the status the facts
    give. A new grant supersedes what the health checks found on the Atlassian side."""
    if new_grant:
        HealthCheckResult.objects.filter(connection__site=site, side=Provider.ATLASSIAN, is_latest=True).update(
            is_latest=False
        )
    connections = list(Connection.objects.select_for_update().filter(site=site).select_related("site", "tenant"))
    for connection in connections:
        connection_status_refresh(connection=connection)
    if new_grant:
        projects_refresh_soon(connections)
