"""Connect two demo pairs for real, so `make run` opens on working connections.

The demo admin authorizes the sandbox's Atlassian sites with OAuth 2.0 (3LO) and grants
Microsoft admin consent for Contoso, through the portal's own views (in-process, with
Django's test client) and the sandbox's sign-in and consent pages over HTTP(S): the same
flows a person clicks through, so the grants, tokens and audit trail are the real ones.
Globex, where the demo admin is a viewer, connects its own site to Northwind, so a viewer has
something to see. Fabrikam and Northwind stay unconnected in Acme for the visitor to try the
flows by hand.
"""

import logging
import re
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.test import Client
from django.urls import reverse

from connections.models import Connection
from connections.services import connection_create
from tenants.models import AtlassianSite, MicrosoftTenant
from tenants.models.directory import SiteAuthStatus

logger = logging.getLogger(__name__)

# Per organization: (site name in the sandbox, tenant short name, features)
PAIRS = {
    "acme": [
        ("acme", "contoso", ["user_mapping", "teams_notifications", "channel_knowledge"]),
        ("acme-support", "contoso", ["jsm_chatops", "user_mapping"]),
    ],
    "globex": [("globex", "northwind", ["user_mapping"])],
}


class DemoConnectError(Exception):
    pass


def _portal_path(url):
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != settings.SITE_URL:
        raise DemoConnectError(f"expected a redirect back to the portal, got {url[:200]}")
    return parts.path + ("?" + parts.query if parts.query else "")


def _client(admin):
    host = urlsplit(settings.SITE_URL).netloc
    client = Client(HTTP_HOST=host)
    client.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _authorize_site(client, site, features, atlassian_admin):
    from sandbox.testing import atlassian_consent

    start = client.post(reverse("connections:atlassian:connect"), {"features": features})
    if start.status_code != 302:
        raise DemoConnectError(f"the Atlassian connect page answered {start.status_code}")
    back = atlassian_consent(start.url, user=atlassian_admin["email"], password=atlassian_admin["password"],
                             sites=[site.name])
    chosen = client.get(_portal_path(back))
    if chosen.status_code != 302 or "/connect/atlassian/choose/" not in chosen.url:
        raise DemoConnectError(f"the Atlassian callback answered {chosen.status_code}")
    page = client.get(chosen.url).content.decode()
    pending = parse_qs(urlsplit(chosen.url).query)["pending"][0]
    match = re.search(rf'value="([^"]+)">\s*<strong>{re.escape(site.name)}</strong>', page)
    if not match:
        raise DemoConnectError(f"{site.name} was not offered on the choice page")
    done = client.post(reverse("connections:atlassian:choose"), {"pending": pending, "cloud_id": match.group(1)})
    if done.status_code != 302:
        raise DemoConnectError(f"choosing {site.name} answered {done.status_code}")


def _consent(client, connection, tenant_admin):
    from sandbox.testing import sign_in

    response = client.post(reverse("connections:microsoft:give_permission", args=[connection.pk]))
    # Sign-in, then admin consent for the application permissions: at most two round trips.
    for _ in range(3):
        if response.status_code != 302 or response.url.startswith("/"):
            break
        back = sign_in(response.url, *tenant_admin, consent="accept", for_organization=True)
        response = client.get(_portal_path(back))
    connection.refresh_from_db()
    # A site never authorized keeps the connection pending on the Atlassian side whatever the
    # tenant granted; the Microsoft side is what consent must have settled.
    atlassian_pending = (connection.status == Connection.Status.PENDING_CONSENT
                         and connection.site.auth_status == SiteAuthStatus.NOT_AUTHORIZED)
    if connection.status not in (Connection.Status.ACTIVE, Connection.Status.DEGRADED) and not atlassian_pending:
        raise DemoConnectError(f"{connection} is {connection.status} after consent")


def add_demo_colleagues(*, site_name="acme", tenant_domain="contoso", count=40):
    """Atlassian accounts on the demo site for people of the demo tenant, so user matching
    has something to find: most by mail, some by UPN or by a proxy address only, some with
    the email hidden, and a few with no Microsoft counterpart. Demo only (the sandbox's own
    seed keeps its directories apart, which the tests count on). Idempotent."""
    from sandbox.atlassian.models import Account, Site
    from sandbox.microsoft.models import DirectoryUser

    site = Site.objects.filter(name=site_name).first()
    people = list(
        DirectoryUser.objects.filter(tenant__domains__name__startswith=tenant_domain + ".", deleted=False,
                                     user_type="Member", mail__isnull=False)
        .distinct().order_by("change_seq")[:count]
    )
    if site is None or not people:
        return 0
    # People whose sign-in name is not their mail: their Atlassian email can only match on UPN.
    by_upn = [p for p in people if p.user_principal_name.lower() != p.mail.lower()][:2]
    added = 0
    for n, person in enumerate(people):
        if person in by_upn:
            email, visible = person.user_principal_name, True
        elif n % 10 == 8:
            email, visible = person.mail, False  # the profile hides the email
        elif n % 10 == 9:
            email, visible = f"{person.mail.split('@')[0]}@old-acme.example", True  # nobody in Microsoft
        else:
            email, visible = person.mail.upper() if n % 3 == 0 else person.mail, True  # matches on mail
        account, created = Account.objects.get_or_create(
            account_id=f"demo-colleague-{person.pk}",
            defaults={"email": email, "email_visible": visible, "display_name": person.display_name},
        )
        account.sites.add(site)
        added += created
    return added


def start_first_jobs(connections, *, admin):
    """User matching and the Teams directory once, so the pages have results to show."""
    from connections.models import SyncRun
    from connections.sync.schedules import DEFAULT_SCHEDULES
    from connections.sync.services import sync_run_start

    started = []
    for connection in connections:
        for kind in (SyncRun.Kind.USER_MATCHING, SyncRun.Kind.TEAMS_DIRECTORY):
            users = DEFAULT_SCHEDULES[kind][0]  # only the jobs the connection's features use
            if users & set(connection.features) and not connection.sync_runs.filter(kind=kind).exists():
                started.append(sync_run_start(connection=connection, kind=kind, acting_user=admin))
    return started


def connect_demo_pairs(*, organization, admin, atlassian_admin):
    """Returns the connections it made; does nothing for pairs already connected.

    `atlassian_admin`: the sandbox's Atlassian account (email, password) that is a member of
    every sandbox site, from `manage.py sandbox info --json`."""
    from sandbox.testing import tenant_infos

    tenants = tenant_infos()
    client = _client(admin)
    made = []
    for site_name, tenant_name, features in PAIRS.get(organization.slug, []):
        site = AtlassianSite.objects.filter(organization=organization, name=site_name).first()
        tenant = MicrosoftTenant.objects.filter(organization=organization,
                                                tenant_id=tenants[tenant_name].id).first()
        if site is None or tenant is None:
            continue
        connection = Connection.objects.filter(site=site, tenant=tenant).first()
        if connection is not None and connection.status != Connection.Status.PENDING_CONSENT:
            continue
        if site.auth_status != SiteAuthStatus.AUTHORIZED:
            _authorize_site(client, site, features, atlassian_admin)
        if connection is None:
            connection = connection_create(site=site, tenant=tenant, features=features, acting_user=admin)
        _consent(client, connection, tenants[tenant_name].admin)
        made.append(connection)
    return made


def enable_intune(*, organization, admin, site_name="acme", tenant_name="contoso"):
    """Add Intune app protection to a demo connection and ask its tenant's admin for consent
    again through the real flow, so the Mobile apps pages can reach that tenant. The Atlassian
    organization itself is left for the visitor to register (its API key is on the sandbox's
    admin page). Returns the connection, or None when the pair is not connected."""
    from connections.services import connection_set_features
    from sandbox.testing import tenant_infos

    tenants = tenant_infos()
    connection = Connection.objects.filter(organization=organization, site__name=site_name,
                                           tenant__tenant_id=tenants[tenant_name].id).first()
    if connection is None:
        return None
    if "intune_mobile_policy" not in connection.features:
        connection_set_features(connection=connection, features=[*connection.features, "intune_mobile_policy"],
                                acting_user=admin)
        _consent(_client(admin), connection, tenants[tenant_name].admin)
    return connection
