"""TLS for the API: the local stack's own certificate authority and server certificate, made once.

Contract: `ensure_local_tls(directory, hosts)` writes, the first time only, `ca.pem` (a self-signed CA, 10
years) and `server.pem` + `server-key.pem` (a certificate for `hosts` — IP addresses and DNS names — signed by
that CA, 2 years, ECDSA P-256), the private keys 0600; later calls return the same files, and a server
certificate that no longer covers `hosts` or expires within 30 days is made again. Clients trust `ca.pem`
(httpx `verify=`, `curl --cacert`). In production the certificate and key come from settings instead.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca_certificate: Path
    certificate: Path
    private_key: Path


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _make_ca(files: TlsFiles, now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lucky Gas local stack"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Lucky Gas local CA")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .sign(key, hashes.SHA256()))
    _write(files.ca_certificate.with_name("ca-key.pem"), _key_pem(key), 0o600)
    _write(files.ca_certificate, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert, key


def _load_ca(files: TlsFiles) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    key_path = files.ca_certificate.with_name("ca-key.pem")
    if not (files.ca_certificate.exists() and key_path.exists()):
        return None
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    return x509.load_pem_x509_certificate(files.ca_certificate.read_bytes()), key


def _server_current(files: TlsFiles, hosts: tuple[str, ...], now: datetime) -> bool:
    if not (files.certificate.exists() and files.private_key.exists()):
        return False
    cert = x509.load_pem_x509_certificate(files.certificate.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(_names(hosts)) <= set(names) and cert.not_valid_after_utc > now + timedelta(days=30)


def _make_server(files: TlsFiles, hosts: tuple[str, ...], ca: x509.Certificate,
                 ca_key: ec.EllipticCurvePrivateKey, now: datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=730))
            .add_extension(x509.SubjectAlternativeName(_names(hosts)), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write(files.private_key, _key_pem(key), 0o600)
    _write(files.certificate, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def local_tls_files(directory: Path) -> TlsFiles:
    return TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")


def ensure_local_tls(directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TlsFiles:
    """The local CA and server certificate for `hosts` (see the module contract)."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    files, now = local_tls_files(directory), datetime.now(UTC)
    ca = _load_ca(files)
    if ca is None:
        ca = _make_ca(files, now)
    if not _server_current(files, hosts, now):
        _make_server(files, hosts, *ca, now)
    return files
