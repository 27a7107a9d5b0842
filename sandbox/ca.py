"""The sandbox's local certificate authority and its server certificate.

msal accepts only https authorities and atlassian-python-api's OAuth2 mode only https URLs,
so the sandbox serves TLS. The CA is created once in SANDBOX_DIR and reused, so a client
configured with `ca.pem` (settings.HTTP_CA_BUNDLE) keeps trusting it across restarts.
"""

import datetime
import fcntl
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class CertFiles:
    ca_pem: Path  # what clients trust (HTTP_CA_BUNDLE)
    cert_pem: Path  # server certificate followed by the CA certificate
    key_pem: Path


def _write_private(path: Path, data: bytes):
    path.write_bytes(data)
    os.chmod(path, 0o600)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Connections portal sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _create_ca(directory: Path):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Connections portal sandbox local CA"))
        .issuer_name(_name("Connections portal sandbox local CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(directory / "ca-key.pem", _key_pem(key))
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _create_server_cert(directory: Path, hosts):
    ca_key = serialization.load_pem_private_key((directory / "ca-key.pem").read_bytes(), None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):  # the CA's key is made below, always EC
        raise ValueError(f"{directory / 'ca-key.pem'} is not this sandbox's CA key")
    ca_cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            if host != "localhost":
                names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        # Below 398 days, the limit browsers enforce on server certificates.
        .not_valid_after(now + datetime.timedelta(days=397))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(directory / "server-key.pem", _key_pem(key))
    (directory / "server.pem").write_bytes(
        cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
    )


def _server_cert_ok(directory: Path, hosts) -> bool:
    path = directory / "server.pem"
    if not path.exists() or not (directory / "server-key.pem").exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    remaining = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    present = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} | set(
        san.get_values_for_type(x509.DNSName)
    )
    return remaining > datetime.timedelta(days=7) and set(hosts) <= present


def ensure_certificates(directory, hosts=("127.0.0.1",)) -> CertFiles:
    """Create the CA (once) and a server certificate for `hosts` (when missing or stale)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    hosts = tuple(dict.fromkeys(("127.0.0.1", *hosts)))
    # Parallel test workers may start at once: one creates, the others reuse.
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure(directory, hosts)


def _ensure(directory: Path, hosts) -> CertFiles:
    if not (directory / "ca.pem").exists() or not (directory / "ca-key.pem").exists():
        _create_ca(directory)
        (directory / "server.pem").unlink(missing_ok=True)
    if not _server_cert_ok(directory, hosts):
        _create_server_cert(directory, hosts)
    return CertFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
