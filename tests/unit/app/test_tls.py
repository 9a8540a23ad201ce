"""ivr serve's TLS: plain on loopback, the admin's certificate checked at start (a bad one is a
clear error), else a self-signed certificate for the server's addresses, made once and kept."""

from __future__ import annotations

import ssl

import pytest
from cryptography import x509

from ivr.app import tls

pytestmark = pytest.mark.unit


def test_loopback_alone_runs_plain_and_a_lan_address_gets_a_kept_self_signed_certificate(tmp_path):
    assert tls.for_serve("", "", tmp_path, ["127.0.0.1", "localhost"]) is None
    made = tls.for_serve("", "", tmp_path, ["192.0.2.10", "127.0.0.1"])
    assert made is not None and made.made and oct(made.key.stat().st_mode)[-3:] == "600"
    cert = x509.load_pem_x509_certificate(made.cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(a) for a in san.get_values_for_type(x509.IPAddress)} == {"192.0.2.10", "127.0.0.1"}
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 398  # what browsers accept
    again = tls.for_serve("", "", tmp_path, ["192.0.2.10", "127.0.0.1"])
    assert again is not None and again.fingerprint == made.fingerprint  # the same, not a new one per start
    assert len(made.fingerprint.split(":")) == 32
    moved = tls.for_serve("", "", tmp_path, ["192.0.2.11"])
    assert moved is not None and moved.fingerprint != made.fingerprint  # a new address: a new certificate
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(moved.cert, moved.key)


def test_the_admins_certificate_is_used_and_a_bad_one_is_one_clear_line(tmp_path):
    own = tls.self_signed(tmp_path / "own", ["hotline.example"])
    given = tls.for_serve(str(own.cert), str(own.key), tmp_path, ["0.0.0.0"])
    assert given is not None and not given.made and given.fingerprint == own.fingerprint
    other = tls.self_signed(tmp_path / "other", ["elsewhere.example"])
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    cases = [
        ((str(own.cert), ""), "go together"),
        ((str(tmp_path / "missing.pem"), str(own.key)), "no such file"),
        ((str(bad), str(own.key)), "not a certificate and its key"),
        ((str(own.cert), str(other.key)), "not a certificate and its key"),  # a key of another certificate
    ]
    for (cert, key), said in cases:
        with pytest.raises(tls.TlsError, match=said) as e:
            tls.for_serve(cert, key, tmp_path, ["127.0.0.1"])
        assert "\n" not in str(e.value)


def test_a_worker_trusts_the_servers_own_certificate(tmp_path):
    own = tls.self_signed(tmp_path, ["127.0.0.1"])
    assert tls.client_context("") is True
    ctx = tls.client_context(str(own.cert))
    assert isinstance(ctx, ssl.SSLContext) and ctx.cert_store_stats()["x509"] >= 1
