"""Factories for every model the tests touch, in one place."""

import time
import uuid
from datetime import timedelta

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.app_settings import TOTP_PERIOD
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from connections import permissions
from connections.atlassian.needs import scopes_for
from connections.microsoft import roles
from connections.models import Connection, ConsentRequest
from tenants.models import AtlassianSite, Membership, MicrosoftTenant, Organization, Role, User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified_email(self, create, extracted, **kwargs):
        self.save()
        if create and extracted is not False:
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"organization-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ADMIN


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AtlassianSite

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"site{n}")
    url = factory.LazyAttribute(lambda o: f"https://{o.name}.atlassian.net")
    products = ["jira", "confluence"]

    class Params:
        # Authorized with OAuth for every feature: the Atlassian side of a connection is settled.
        authorized = factory.Trait(
            auth_mode="oauth",
            auth_status="authorized",
            granted_scopes=factory.LazyFunction(lambda: scopes_for(list(permissions.FEATURES))),
        )


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MicrosoftTenant

    organization = factory.SubFactory(OrganizationFactory)
    tenant_id = factory.LazyFunction(uuid.uuid4)
    display_name = factory.Sequence(lambda n: f"Tenant {n}")
    domains = factory.Sequence(lambda n: [{"name": f"tenant{n}.example", "verified": False}])


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connection

    organization = factory.SubFactory(OrganizationFactory)
    site = factory.SubFactory(SiteFactory, organization=factory.SelfAttribute("..organization"))
    tenant = factory.SubFactory(TenantFactory, organization=factory.SelfAttribute("..organization"))


def own_consent(connection, *, role=roles.GLOBAL_ADMINISTRATOR, admin_consent=True, by=None):
    """Record that an admin of the connection's tenant completed this organization's own consent
    round for it (what the real flow records): the proof app-only access rests on."""
    now = timezone.now()
    created_by = by or Membership.objects.filter(organization=connection.organization).first()
    created_by = created_by.user if isinstance(created_by, Membership) else created_by or UserFactory()
    return ConsentRequest.objects.create(
        organization=connection.organization,
        connection=connection,
        kind=ConsentRequest.Kind.DIRECT,
        token_hash=uuid.uuid4().hex,
        created_by=created_by,
        expires_at=now + timedelta(days=7),
        state=ConsentRequest.State.CONSENTED,
        consented_at=now,
        granted_by_name="Tenant Admin",
        granted_by_upn=f"admin@{connection.tenant.tenant_id}.example",
        granted_by_oid=str(uuid.uuid4()),
        granted_by_role=role,
        granted_in_tenant=str(connection.tenant.tenant_id).lower(),
        admin_consent_at=now if admin_consent else None,
    )


def enrol_totp(user):
    """Give `user` an authenticator app, stored as the portal stores it; returns its secret."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def totp_code(secret):
    """The code the authenticator app shows now. Each code works once: taking another one
    stands for the next 30-second step (the record of used codes lives in the cache)."""
    cache.clear()
    if TOTP_PERIOD - time.time() % TOTP_PERIOD < 1:
        # The step ends before the portal would check it (no tolerance is configured).
        time.sleep(1)
    return format_hotp_value(hotp_value(secret, int(time.time()) // TOTP_PERIOD))


def sign_in(client, user, secret=None):
    """Sign in through the portal's sign-in page: the password, then a code if they have one."""
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:2000]
    if secret is not None:
        assert response.url == reverse("mfa_authenticate")
        response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
        assert response.status_code == 302, response.content[:2000]
    return response
