"""The local stack's CA and API certificate: made once, for the right names, signed by the CA, keys private."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from pathlib import Path

from cryptography import x509

from infra.tls import ensure_local_tls


def test_the_certificate_is_made_once_for_the_hosts_and_signed_by_the_local_ca(tmp_path: Path) -> None:
    files = ensure_local_tls(tmp_path / "tls")
    ca = x509.load_pem_x509_certificate(files.ca_certificate.read_bytes())
    cert = x509.load_pem_x509_certificate(files.certificate.read_bytes())
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert stat.S_IMODE(files.private_key.stat().st_mode) == 0o600
    before = files.certificate.read_bytes()
    assert ensure_local_tls(tmp_path / "tls") == files and files.certificate.read_bytes() == before
    # A host the certificate does not cover yet: a new certificate from the same CA.
    again = ensure_local_tls(tmp_path / "tls", ("127.0.0.1", "localhost", "api.luckygas.local"))
    renewed = x509.load_pem_x509_certificate(again.certificate.read_bytes())
    renewed.verify_directly_issued_by(ca)
    assert "api.luckygas.local" in renewed.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


def test_a_python_client_context_trusts_it_and_a_server_context_loads_it(tmp_path: Path) -> None:
    files = ensure_local_tls(tmp_path / "tls")
    client = ssl.create_default_context(cafile=str(files.ca_certificate))
    assert client.verify_mode == ssl.CERT_REQUIRED and client.minimum_version >= ssl.TLSVersion.TLSv1_2
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(str(files.certificate), str(files.private_key))
    assert server.minimum_version >= ssl.TLSVersion.TLSv1_2
