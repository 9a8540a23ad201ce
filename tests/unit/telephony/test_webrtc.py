"""The browser softphone's credential and Kamailio's WebSocket configuration."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat

import pytest

from ivr.settings import Settings, SettingsError
from ivr.telephony import kamailio, webrtc

pytestmark = pytest.mark.unit


def test_a_credential_is_the_turn_rest_scheme_auth_ephemeral_checks():
    c = webrtc.credential("s3cret", "ann", ttl_s=600, now=1_000_000)
    assert c.username == "1000600:ann" and c.expires_at == 1_000_600
    want = base64.b64encode(hmac.new(b"s3cret", b"1000600:ann", hashlib.sha1).digest()).decode()
    assert c.password == want
    for bad in ("", "a:b", "ann@example.com"):
        with pytest.raises(ValueError):
            webrtc.credential("s3cret", bad)


def test_the_secret_is_made_once_and_kept_private(tmp_path):
    assert webrtc.load_secret(tmp_path) is None
    made = webrtc.load_secret(tmp_path, create=True)
    assert made and webrtc.load_secret(tmp_path, create=True) == made
    mode = stat.S_IMODE(os.stat(tmp_path / webrtc.SECRET_FILE).st_mode)
    assert mode == 0o600


def test_kamailio_listens_for_browsers_only_with_a_store_and_a_secret(tmp_path):
    store = f"sqlite:///{tmp_path / 'ivr.sqlite3'}"
    cfg = kamailio.write_config(tmp_path, "127.0.0.1", 5060, [("127.0.0.1", 5061)], store_url=store,
                                ws_port=6060, ws_secret="s3cret").read_text()  # fmt: skip
    assert "listen=tcp:127.0.0.1:6060" in cfg and 'modparam("auth_ephemeral", "secret", "s3cret")' in cfg
    assert "autheph_check_to()" in cfg and "handle_ruri_alias()" in cfg
    assert stat.S_IMODE(os.stat(tmp_path / "kamailio.cfg").st_mode) == 0o600  # secrets inside
    plain = kamailio.write_config(
        tmp_path, "127.0.0.1", 5060, [("127.0.0.1", 5061)], store_url=store
    ).read_text()
    assert "websocket" not in plain and "6060" not in plain
    no_store = kamailio.write_config(tmp_path, "127.0.0.1", 5060, [], ws_port=6060, ws_secret="s").read_text()
    assert "websocket" not in no_store


def test_the_websocket_port_is_a_setting(monkeypatch):
    s = Settings.from_env()
    assert s.websocket_port == s.sip_port + 1000
    monkeypatch.setenv("IVR_WS_PORT", "0")
    assert Settings.from_env().websocket_port == 0
    monkeypatch.setenv("IVR_WS_PORT", "7443")
    assert Settings.from_env().websocket_port == 7443
    monkeypatch.setenv("IVR_WS_PORT", "web")
    with pytest.raises(SettingsError, match="IVR_WS_PORT"):
        Settings.from_env()
