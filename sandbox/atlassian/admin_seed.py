"""The demo's Atlassian organization: its claimed domains (verified and not) and an
organization API key, deterministic from the seed."""

import random
import uuid

from .admin_api import MAX_KEY_DAYS, create_key
from .models import AdminDomain, AdminOrg

ORG_NAME = "Acme"
# (name, claim type, claim status): two verified domains of one Microsoft tenant (fabrikam.*),
# one of another (contoso.com), a verified domain no Microsoft tenant has, and an unverified one.
DOMAINS = [
    ("contoso.com", "dns", "verified"),
    ("acme.example", "http", "verified"),
    ("fabrikam.com", "dns", "verified"),
    ("fabrikam.de", "http", "verified"),
    ("acme-new.example", "dns", "unverified"),
]


def _uuid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def seed_admin(rng: random.Random) -> AdminOrg:
    AdminOrg.objects.all().delete()
    org = AdminOrg.objects.create(id=_uuid(rng), name=ORG_NAME, guard_subscription=True)
    for position, (name, claim_type, status) in enumerate(DOMAINS):
        AdminDomain.objects.create(id=_uuid(rng), org=org, name=name, claim_type=claim_type, claim_status=status,
                                   position=position)
    create_key(org, name="Connections portal", days=MAX_KEY_DAYS, raw=f"ATCTT3x{rng.getrandbits(160):040x}",
               keep=True)
    return org


def admin_info():
    """The organizations with their id and the demo's API key (sandbox only)."""
    return [
        {"id": org.id, "name": org.name, "guard": org.guard_subscription,
         "api_key": next((k.secret for k in org.api_keys.all() if k.secret), None),
         "api_key_expires_at": next((k.expires_at.isoformat() for k in org.api_keys.all() if k.secret), None),
         "domains": [{"name": d.name, "status": d.claim_status} for d in org.domains.all()]}
        for org in AdminOrg.objects.prefetch_related("api_keys", "domains").order_by("name")
    ]
