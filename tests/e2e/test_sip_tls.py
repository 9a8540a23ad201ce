"""SIP over TLS and SRTP (#31): `ivr serve` with a certificate listens for SIP over TLS next to
its UDP port, and its workers here require SRTP (IVR_SRTP=required). An agent's desk phone
(baresip) registers over TLS with SDES-SRTP; a caller who offers SRTP is answered and put
through, the agent hears the whisper and the caller, and tshark on the loopback sees only
SRTP on the agent's leg (each G.711 packet carries an authentication tag and its payload is
noise to a mu-law decoder). A caller who offers plain RTP is refused with 488 and nothing is
recorded. Category: e2e."""

from __future__ import annotations

import collections
import ssl

import httpx
import pytest

from ivr.app import tls
from ivr.records import Store
from speech.audio import decode_file
from tests.baresip import BaresipAgent, baresip_call
from tests.sip_helpers import AGENT_PASSWORD as PASSWORD
from tests.sip_helpers import (
    ROOT,
    free_port,
    invite_status,
    registered,
    serve_auth,
    speech_wav,
    start_hotline,
    stop_hotline,
    transcribe,
    wait_until,
)
from tests.wire import Capture, rtp_packets

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("siptls")
    own = tls.self_signed(tmp / "cert", ["127.0.0.1"])
    env = {"IVR_WS_PORT": "0", "IVR_TLS_CERT": str(own.cert), "IVR_TLS_KEY": str(own.key),
           "IVR_SRTP": "required"}  # fmt: skip
    served = start_hotline(tmp, lambda t, sip: ROOT / "tests" / "sip" / "queue.yaml", env=env)
    served["cert"] = own.cert
    served["tls"] = served["sip"] + 1
    yield served
    stop_hotline(served)


def _ended(served) -> list[dict]:  # type: ignore[no-untyped-def]
    store = Store(f"sqlite:///{served['data']}/ivr.sqlite3")
    try:
        return [store.calls.get(c["id"]) for c in store.calls.list().calls if c["status"] == "ended"]
    finally:
        store.close()


def test_an_agent_on_tls_and_srtp_gets_the_caller_and_the_wire_carries_only_srtp(secure, tmp_path, engines):
    first = (free_port() + 2) & ~1  # even (baresip starts its audio on an even port), ours
    agent_wav = speech_wav(tmp_path / "agent.wav", [(None, 8), ("cmu_arctic_us_aew_a0001.wav", 12)])
    agent = BaresipAgent(tmp_path, agent_wav, seconds=120, register=("ann", PASSWORD, secure["tls"]),
                         tls_ca=secure["cert"], mediaenc="srtp-mand", rtp_ports=(first, first + 3))  # fmt: skip
    pcap = tmp_path / "wire.pcap"
    try:
        wait_until(
            lambda: any("transport=tls" in c for c in registered(secure["run"])),
            20,
            "ann's phone registered over TLS",
        )
        r = httpx.post(f"{secure['api']}/api/agents/ann/state", json={"state": "available"},
                       headers=serve_auth(secure["data"]),
                       verify=ssl.create_default_context(cafile=secure["cert"]))  # fmt: skip
        assert r.status_code == 200, r.text
        caller_wav = speech_wav(tmp_path / "caller.wav", [(None, 6), ("jfk.flac", 20)])
        with Capture(pcap, "udp"):
            baresip_call(tmp_path, f"sip:hotline@127.0.0.1:{secure['sip']}", caller_wav, 40,
                         account_params=";mediaenc=srtp-mand")  # fmt: skip
            agent_heard = agent.heard()
    finally:
        agent.stop()
    said_to_agent = transcribe(engines, *decode_file(agent_heard))
    assert "roaming" in said_to_agent and "country" in said_to_agent, said_to_agent  # whisper, caller
    leg = rtp_packets(pcap, set(range(first, first + 4)))
    assert len(leg) > 500, len(leg)  # both ways, tens of seconds
    # tshark read the keys' offer in the SDP and takes every packet for SRTP: 160 bytes of
    # encrypted G.711 and an authentication tag each, and the audio is noise to a decoder
    assert {(len(p.payload), len(p.srtp_tag)) for p in leg} <= {(160, 10), (160, 4)}, {
        (len(p.payload), len(p.srtp_tag)) for p in leg
    }
    noise = collections.Counter(b"".join(p.payload for p in leg))
    assert noise.most_common(1)[0][1] / sum(noise.values()) < 0.01  # mu-law silence would be 0xFF
    (call,) = wait_until(lambda: _ended(secure) or None, 60, "the record")
    assert call["outcome"] == "transferred", call["outcome"]
    assert {"agent", "caller"} <= {t["speaker"] for t in call["transcript"]}  # the worker decrypts


def test_a_plain_rtp_offer_where_srtp_is_required_gets_488(secure):
    before = len(_ended(secure))
    assert invite_status(secure["sip"], "hotline") == 488
    assert len(_ended(secure)) == before
