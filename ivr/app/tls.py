"""HTTPS for the console and WSS for browsers' phones. A browser gives a page the microphone
only in a secure context, so anywhere but this machine (127.0.0.1, localhost) `ivr serve`
serves both over TLS: with the certificate the admin gives (IVR_TLS_CERT, IVR_TLS_KEY), or a
self-signed one made at first start and kept in DATA_DIR/tls (its SHA-256 fingerprint printed,
for agents of a LAN pilot to check). On 127.0.0.1 plain http and ws stay, for the demo, unless
a certificate is given. A certificate or key that cannot be used is one line at start."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SELF_SIGNED_DAYS = 397
"""Browsers refuse server certificates valid for longer than 398 days."""


class TlsError(Exception):
    """A certificate or key `ivr serve` cannot use (the message says which and why)."""


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path
    fingerprint: str
    """SHA-256 of the certificate, as browsers show it (AB:CD:...)."""
    made: bool = False
    """Self-signed here (not the admin's)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fingerprint(cert_pem: bytes) -> str:
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def load(cert: str | Path, key: str | Path) -> Tls:
    """The admin's certificate and key, checked as the server will use them."""
    cert, key = Path(cert), Path(key)
    for what, path in (("IVR_TLS_CERT", cert), ("IVR_TLS_KEY", key)):
        if not path.is_file():
            raise TlsError(f"{what} {path}: no such file")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
        pem = cert.read_bytes()
        return Tls(cert, key, fingerprint(pem))
    except (ssl.SSLError, ValueError) as e:
        raise TlsError(
            f"IVR_TLS_CERT {cert} / IVR_TLS_KEY {key}: not a certificate and its key ({e})"
        ) from None


def self_signed(directory: Path, hosts: list[str]) -> Tls:
    """This server's own certificate for `hosts` (made once; a new one if the hosts change)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    names = sorted(set(hosts))
    if cert.exists() and key.exists():
        made = x509.load_pem_x509_certificate(cert.read_bytes())
        san = made.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        have = {str(v) for v in san.get_values_for_type(x509.IPAddress)} | set(
            san.get_values_for_type(x509.DNSName)
        )
        if set(names) <= have and made.not_valid_after_utc > datetime.datetime.now(datetime.UTC):
            return Tls(cert, key, fingerprint(cert.read_bytes()), made=True)
    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else "ivr")])
    alt: list[x509.GeneralName] = []
    for h in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            alt.append(x509.DNSName(h))
    now = datetime.datetime.now(datetime.UTC)
    made = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    key.touch(mode=0o600)
    key.chmod(0o600)
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pem = made.public_bytes(serialization.Encoding.PEM)
    cert.write_bytes(pem)
    return Tls(cert, key, fingerprint(pem), made=True)


def for_serve(cert: str, key: str, data_dir: str | Path, hosts: list[str]) -> Tls | None:
    """The TLS `ivr serve` runs with: the admin's (both files given), none on loopback only,
    else a self-signed certificate for `hosts`."""
    if bool(cert) != bool(key):
        raise TlsError("IVR_TLS_CERT and IVR_TLS_KEY go together: give both, or neither")
    if cert:
        return load(cert, key)
    if all(is_loopback(h) for h in hosts):
        return None
    names = [h for h in hosts if h not in ("0.0.0.0", "::")]
    if len(names) < len(hosts):  # every address: the machine's name, as the LAN calls it
        names.append(socket.gethostname())
    return self_signed(Path(data_dir).resolve() / "tls", names)


def client_context(ca: str | None = None) -> ssl.SSLContext | bool:
    """For a worker calling the API: the system's trust, plus this server's own certificate
    (IVR_API_CA) when it made one."""
    ca = ca if ca is not None else os.environ.get("IVR_API_CA", "")
    if not ca:
        return True
    ctx = ssl.create_default_context()
    ctx.load_verify_locations(ca)
    return ctx
