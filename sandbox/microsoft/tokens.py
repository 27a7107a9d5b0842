"""RS256 tokens: the tenant-independent signing key (kept in the database), the JWKS, and
id_tokens and Graph access tokens shaped like Microsoft's."""

import base64
import datetime
import hashlib
import json
import secrets
import threading
import time
import uuid

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.db import IntegrityError

from . import roles
from .models import SigningKey
from .permissions import GRAPH_APP_ID, GRAPH_RESOURCE

ACCESS_TOKEN_SECONDS = 3600 + 1200  # Microsoft issues 60-90 minutes; msal treats < 300 s as expired
GRAPH_AUDIENCES = (GRAPH_RESOURCE, GRAPH_RESOURCE + "/", GRAPH_APP_ID)

_lock = threading.Lock()
_keys: dict[str, object] = {}  # kid -> private key object; keys never change once stored


def _load(row):
    return serialization.load_pem_private_key(row.private_pem.encode(), None)


def signing_key():
    """(kid, private key): the oldest stored key, created on first use."""
    with _lock:
        row = SigningKey.objects.order_by("created").first()
        if row is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()
            try:
                # Microsoft's kid is the base64url SHA-1 thumbprint of the key's certificate (x5t).
                row = SigningKey.objects.create(kid=_thumbprint(_certificate(key)), private_pem=pem)
            except IntegrityError:  # pragma: no cover - another process won the race
                row = SigningKey.objects.order_by("created").first()
        if row.kid not in _keys:
            _keys[row.kid] = _load(row)
        return row.kid, _keys[row.kid]


def public_key(kid):
    if kid not in _keys:
        row = SigningKey.objects.filter(kid=kid).first()
        if row is None:
            return None
        _keys[kid] = _load(row)
    return _keys[kid].public_key()


def _certificate(key):
    """The key's self-signed certificate, the same every time for the same key: Microsoft's keys
    come with one (x5c), and clients that pin by thumbprint (x5t) hash it."""
    public = key.public_key()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.sandbox.invalid")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(int.from_bytes(hashlib.sha256(der).digest()[:16], "big") >> 1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())  # RSA PKCS#1 v1.5: deterministic, so the certificate is too
    )


def _thumbprint(certificate):
    digest = certificate.fingerprint(hashes.SHA1())  # noqa: S303 - x5t is SHA-1 by definition (RFC 7515)
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def jwks():
    """Each key as Microsoft publishes it: kid, x5t (equal to kid) and the certificate chain x5c.
    Reference: https://learn.microsoft.com/entra/identity-platform/signing-key-rollover"""
    signing_key()
    keys = []
    for row in SigningKey.objects.order_by("created"):
        if row.kid not in _keys:
            public_key(row.kid)
        certificate = _certificate(_keys[row.kid])
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public_key(row.kid)))
        x5c = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
        jwk.update({"kid": row.kid, "x5t": row.kid, "use": "sig", "alg": "RS256", "x5c": [x5c]})
        keys.append(jwk)
    return {"keys": keys}


def sign(claims, *, legacy_header=False):
    """A JWT with Microsoft's header. v1.0 access tokens repeat the kid as the legacy x5t.
    Reference: https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference#header-claims"""
    kid, key = signing_key()
    headers = {"kid": kid, "typ": "JWT"}
    if legacy_header:
        headers["x5t"] = kid
    return jwt.encode(claims, key, algorithm="RS256", headers=headers)


def issuer(origin, tenant_id):
    return f"{origin}/{tenant_id}/v2.0"


def v1_issuer(tenant_id):
    """Graph accepts v1.0 access tokens only, whichever endpoint issued them, and their issuer is
    the security token service's, not the authority's.
    Reference: https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference#payload-claims"""
    return f"https://sts.windows.net/{tenant_id}/"


def id_token(*, origin, app, user, nonce, lifetime=3600):
    now = int(time.time())
    claims = {
        "aud": app.client_id,
        "iss": issuer(origin, user.tenant_id),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "name": user.display_name,
        "preferred_username": user.user_principal_name,
        "oid": str(user.pk),
        # Microsoft's sub is pairwise per app: a stable hash, not the oid.
        "sub": hashlib.sha256(f"{app.client_id}:{user.pk}".encode()).hexdigest()[:43],
        "tid": str(user.tenant_id),
        "ver": "2.0",
        "uti": secrets.token_urlsafe(16),
    }
    if user.mail:
        claims["email"] = user.mail
    if nonce:
        claims["nonce"] = nonce
    _add_wids(claims, app, user)
    return sign(claims)


def _add_wids(claims, app, user):
    # Only apps whose manifest asks for directory roles get them (groupMembershipClaims).
    if app.group_membership_claims in roles.WIDS_CLAIM_SETTINGS:
        claims["wids"] = roles.wids(user)


def access_token(*, app, tenant_id, lifetime, user=None, scopes=None, roles=None):
    """A Graph access token: `scp` for a user, `roles` for the app itself."""
    now = int(time.time())
    claims = {
        "aud": GRAPH_RESOURCE,
        "iss": v1_issuer(tenant_id),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "appid": app.client_id,
        "azp": app.client_id,
        "tid": str(tenant_id),
        "ver": "1.0",
        "uti": secrets.token_urlsafe(16),
    }
    if user is not None:
        claims.update(
            {
                "oid": str(user.pk),
                "sub": str(user.pk),
                "upn": user.user_principal_name,
                "name": user.display_name,
                "scp": " ".join(sorted(scopes or [])),
                "idtyp": "user",
            }
        )
        _add_wids(claims, app, user)
    else:
        sp_oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id}/{app.client_id}"))
        claims.update({"oid": sp_oid, "sub": sp_oid, "idtyp": "app"})
        if roles:
            claims["roles"] = sorted(roles)
    return sign(claims, legacy_header=True)


class InvalidToken(Exception):
    pass


def verify_graph_token(token):
    """Claims of a valid Graph access token, or InvalidToken with Graph's message."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidToken("IDX14100: JWT is not well formed.") from error
    key = public_key(header.get("kid", ""))
    if key is None:
        raise InvalidToken("Access token validation failure. Invalid signature.")
    try:
        return jwt.decode(token, key, algorithms=["RS256"], audience=list(GRAPH_AUDIENCES))
    except jwt.ExpiredSignatureError as error:
        raise InvalidToken("Lifetime validation failed, the token is expired.") from error
    except jwt.InvalidAudienceError as error:
        raise InvalidToken("Access token validation failure. Invalid audience.") from error
    except jwt.PyJWTError as error:
        raise InvalidToken("Access token validation failure.") from error


def client_info(user):
    raw = json.dumps({"uid": str(user.pk), "utid": str(user.tenant_id)}).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_secret():
    """(value handed out, sha256 kept): codes and refresh tokens are stored hashed."""
    value = secrets.token_urlsafe(48)
    return value, hash_secret(value)


def hash_secret(value):
    return hashlib.sha256(value.encode()).hexdigest()
