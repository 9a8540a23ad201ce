"""The hotline on several hosts (#32), each a network namespace of the test's own: an edge,
two media hosts, two speech hosts, PostgreSQL and the callers. Real `ivr serve --role`
processes, real Kamailio, sipp and baresip; a host dies when every process in it is killed.
Category: e2e (as root: CI runs as root)."""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.baresip import BaresipAgent
from tests.lab_hotline import QUEUE, TALK, LabHotline
from tests.sip_helpers import (
    AGENT_PASSWORD,
    ROOT,
    fixture_pcap,
    registered,
    sipp_call,
    speech_wav,
    wait_until,
)
from tests.tools.pcap import write_rtp_pcap

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root (CI runs as root)"),
]

CALLBACK_PORT = 5090
_MEDIA_PORTS = itertools.count(6000, 100)  # 50 calls of one sipp each
_LOCK = threading.Lock()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    hotline = LabHotline(tmp_path_factory.mktemp("lab"), CALLBACK_PORT)
    yield hotline
    hotline.down()


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    import numpy as np

    path = tmp_path_factory.mktemp("pcap") / "quiet.pcap"
    write_rtp_pcap(path, np.zeros(8000 * 60, np.float32), [])
    return path


def _call(
    lab,
    tmp,
    pcap,
    listen_ms: int,
    number: str = TALK,
    calls: int = 1,
    rate: int = 1,
    caller: str = "+447700900555",
    limit: int = 0,
):
    tmp.mkdir(parents=True, exist_ok=True)
    with _LOCK:
        media_port = next(_MEDIA_PORTS)  # sipps at once in the callers' host: each its own RTP ports
    return sipp_call(
        tmp, 5060, pcap, listen_ms, caller=caller, calls=calls, rate=rate, service=number, limit=limit,
        host=lab.a["edge"], local_ip=lab.a["caller"], netns=lab.lab.ns("caller"), media_port=media_port,
    )  # fmt: skip


def test_a_client_without_the_secret_is_refused_by_a_speech_host(lab):
    # from the callers' host: a ping without the secret
    done = lab.lab.run(
        "caller", [sys.executable, "-c", PING, lab.a["speech2"]], env={"PYTHONPATH": str(ROOT)}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["challenge", "error", "not", "authenticated"], done.stdout
    wait_until(
        lambda: f"refused a client from ('{lab.a['caller']}'" in _speech_log(lab, "speech2"),
        10,
        "the log line",
    )


PING = """
import socket, sys
from speech.service.protocol import Message, read_message_blocking
with socket.create_connection((sys.argv[1], 7100), timeout=10) as s:
    buffer = bytearray()
    hello = read_message_blocking(s, buffer)
    s.sendall(Message("ping", 1).encode())
    refusal = read_message_blocking(s, buffer)
print(hello.type, refusal.type, refusal.data.get("message"))
"""


def _speech_log(lab, host: str) -> str:
    path = lab.tmp / host / "run" / "speech.log"
    return path.read_text(errors="replace") if path.exists() else ""


def test_twenty_calls_are_spread_over_both_media_hosts(lab, quiet, tmp_path):
    t0 = time.time()
    result = _call(lab, tmp_path / "spread", quiet, 1500, calls=20, rate=4, limit=8)  # 8 at once, 16 lines
    assert result.returncode == 0, (tmp_path / "spread" / "sipp_errors.log").read_text()[-2000:]
    rows = lab.wait_sql(
        f"select id, host, status, outcome from calls where called = '{TALK}' and started_at >= {t0}",
        lambda rows: len(rows) == 20 and all(r["status"] == "ended" for r in rows), 120, "20 records",
    )  # fmt: skip
    hosts = [r["host"] for r in rows]
    assert set(hosts) == {"media1", "media2"}, hosts
    assert min(hosts.count("media1"), hosts.count("media2")) >= 5, hosts  # round robin over 4 workers
    assert all(r["outcome"] != "interrupted" for r in rows), rows


def _live_host(lab, t0: float, number: str = TALK) -> list[dict]:
    return lab.sql(
        f"select id, host from calls where status = 'live' and called = '{number}' and started_at >= {t0}"
    )


def test_a_drained_host_takes_no_new_calls_and_its_calls_finish(lab, quiet, tmp_path):
    t0 = time.time()
    box: dict = {}
    first = threading.Thread(target=lambda: box.update(r=_call(lab, tmp_path / "long", quiet, 9000)))
    first.start()
    (row,) = lab.wait_sql(
        f"select id, host from calls where status = 'live' and started_at >= {t0}", len, 30, "the first call"
    )
    drained = row["host"]
    other = "media2" if drained == "media1" else "media1"
    done = lab.ivr("drain", drained)
    assert done.returncode == 0 and "draining" in done.stdout, done.stderr
    wait_until(
        lambda: not any(t.startswith(f"sip:{lab.a[drained]}:") for t in lab.targets()), 10, "the drain"
    )
    assert lab.hosts()[drained]["state"] == "draining"
    t1 = time.time()
    assert _call(lab, tmp_path / "more", quiet, 2000, calls=4, rate=2).returncode == 0
    rows = lab.wait_sql(f"select host, status from calls where started_at >= {t1}",
                        lambda rows: len(rows) == 4 and all(r["status"] == "ended" for r in rows), 60, "4 records")  # fmt: skip
    assert {r["host"] for r in rows} == {other}, rows
    first.join(timeout=60)
    assert box["r"].returncode == 0
    (kept,) = lab.sql(f"select status, outcome from calls where id = '{row['id']}'")
    assert kept["status"] == "ended" and kept["outcome"] != "interrupted", kept  # it finished there
    assert lab.ivr("drain", drained, "--undo").returncode == 0
    wait_until(lambda: any(t.startswith(f"sip:{lab.a[drained]}:") for t in lab.targets()), 10, "back in")


def test_a_media_host_lost_mid_call_with_callers_queued(lab, quiet, tmp_path):
    """Everything on media1 (media2 drained), ann talking to one caller and two waiting; media1
    dies (-9, every process). The survivors close the records as interrupted, ann is freed,
    the two waiting callers are called back on the number they called from (from media2), and
    new calls are answered by media2."""
    wav = speech_wav(tmp_path / "ann.wav", [(None, 300)])
    ann = BaresipAgent(
        tmp_path, wav, seconds=400, register=("ann", AGENT_PASSWORD, 5060), name="ann", host=lab.a["caller"],
        netns=lab.lab.ns("caller"), registrar_host=lab.a["edge"], config_extra="rtp_timeout 4\n",
    )  # fmt: skip
    back = BaresipAgent(
        tmp_path, wav, seconds=400, name="callback", host=lab.a["caller"], netns=lab.lab.ns("caller"),
        user="caller", port=CALLBACK_PORT, also_users=("+447700900101", "+447700900102"),
    )  # fmt: skip
    try:
        lab.python(
            f"from ivr.acd.policy import AgentState\ns = Store({lab.url!r}); s.agents.set_state('ann', AgentState.AVAILABLE); s.close()"
        )
        wait_until(
            lambda: any("ann" in c or lab.a["caller"] in c for c in registered(lab.tmp / "edge" / "run")),
            20,
            "ann's phone",
        )
        assert lab.ivr("drain", "media2").returncode == 0
        wait_until(
            lambda: all(t.startswith(f"sip:{lab.a['media1']}:") for t in lab.targets()), 10, "the drain"
        )
        t0 = time.time()
        callers = [threading.Thread(target=_call, args=(lab, tmp_path / f"c{i}", quiet, 60000, QUEUE, 1, 1, f"+44770090010{i}"))
                   for i in range(3)]  # fmt: skip
        callers[0].start()
        lab.wait_sql(
            "select state from agents where name = 'ann'",
            lambda r: r[0]["state"] == "on_call",
            40,
            "ann on the call",
        )
        for c in callers[1:]:
            c.start()
        lab.wait_sql(f"select call_id from queue_entries where state = 'waiting' and joined_at >= {t0}",
                     lambda r: len(r) == 2, 40, "two callers waiting")  # fmt: skip
        assert lab.ivr("drain", "media2", "--undo").returncode == 0
        wait_until(
            lambda: any(t.startswith(f"sip:{lab.a['media2']}:") for t in lab.targets()), 10, "media2 back"
        )
        lab.lab.kill_host("media1")
        lost_at = time.monotonic()
        wait_until(
            lambda: not any(t.startswith(f"sip:{lab.a['media1']}:") for t in lab.targets()), 15, "media1 out"
        )
        rows = lab.wait_sql(f"select id, caller, status, outcome, end_reason from calls where started_at >= {t0}",
                            lambda rows: len(rows) == 3 and all(r["status"] == "ended" for r in rows), 20, "records closed")  # fmt: skip
        closed_s = time.monotonic() - lost_at
        assert {r["outcome"] for r in rows} == {"interrupted"}, rows
        assert all("host media1 was lost" in r["end_reason"] for r in rows), rows
        assert closed_s < 15, closed_s
        entries = lab.sql(f"select call_id, state, callback from queue_entries where joined_at >= {t0}")
        waited = {
            r["callback"] for r in entries if r["state"] in ("callback", "calling", "left") and r["callback"]
        }
        assert waited == {"+447700900101", "+447700900102"}, entries
        assert (
            lab.hosts()["media1"]["state"] == "lost"
            and "2 queued caller(s) to be called back" in lab.hosts()["media1"]["note"]
        )
        # ann's phone hangs up the dead call; a callback rings her, then the caller's number
        wait_until(
            lambda: "Call established" in back.log.read_text(errors="replace"), 90, "a callback answered"
        )
        lab.wait_sql(  # counted as a callback answered: the caller reached ann
            f"select call_id from queue_entries where joined_at >= {t0} and callback != '' and leave_reason = 'answered'",
            len, 30, "the callback put through",
        )  # fmt: skip
        # new calls go to the survivor
        t1 = time.time()
        assert _call(lab, tmp_path / "after", quiet, 2000).returncode == 0
        (after,) = lab.sql(f"select host from calls where called = '{TALK}' and started_at >= {t1}")
        assert after["host"] == "media2"
        # the machine comes back: it announces itself and takes calls again
        lab.start_media("media1", 2, CALLBACK_PORT)
        wait_until(
            lambda: sum(t.startswith(f"sip:{lab.a['media1']}:") for t in lab.targets()) == 2,
            120,
            "media1 back",
        )
        assert lab.hosts()["media1"]["state"] == "up"
    finally:
        ann.stop()
        back.stop()


def _logs(lab) -> list[Path]:
    return [p for host in ("media1", "media2") for p in (lab.tmp / host / "calls").glob("*.jsonl")]


def _events(lab, t0: float, old: frozenset[Path] = frozenset()) -> list[list[dict]]:
    """The calls' event logs (JSONL) the media hosts wrote since `t0`, oldest first; not the
    `old` ones (an earlier test's call can still be written to: its callback, its clean-up)."""
    fresh = sorted(
        (p for p in _logs(lab) if p.stat().st_mtime >= t0 and p not in old), key=lambda p: p.stat().st_mtime
    )
    return [[json.loads(x) for x in p.read_text().splitlines() if x.strip()] for p in fresh]


def test_a_speech_host_killed_mid_utterance_the_caller_is_still_heard(lab, tmp_path):
    """The caller speaks; speech1 dies (-9, every process) while they do: the pool sends the
    decodes to speech2 and the caller's words are heard, with no apology."""
    pcap = fixture_pcap(tmp_path / "speech.pcap", 7, 4)
    t0, old = time.time(), frozenset(_logs(lab))
    box: dict = {}
    caller = threading.Thread(target=lambda: box.update(r=_call(lab, tmp_path / "talk", pcap, 25000)))
    caller.start()

    def speaking() -> bool:
        calls = _events(lab, t0, old)
        return bool(calls) and any(e["type"] == "speech_start" for e in calls[-1])

    wait_until(speaking, 60, "the caller to start speaking")
    lab.lab.kill_host("speech1")
    caller.join(timeout=90)
    assert box["r"].returncode == 0
    (events,) = _events(lab, t0, old)  # this caller's call, and no other
    finals = [e for e in events if e["type"] == "final_transcript"]
    assert any("shook hands" in e["text"].lower() for e in finals), [e["text"] for e in finals]
    assert not any(e.get("prompt") == "service_apology" for e in events), "the caller heard an apology"
    wait_until(
        lambda: "speech1" not in [n for n, h in lab.hosts().items() if h["state"] == "up"], 15, "speech1 lost"
    )


API_GET = """
import sys, httpx
base, cert = sys.argv[1], sys.argv[2]
token = sys.argv[3] if len(sys.argv) > 3 else ""
if not token:
    r = httpx.post(base + "/api/login", json={"user": "admin", "password": "lab-admin-password"}, verify=cert)
    print(r.json()["token"])
else:
    r = httpx.get(base + "/api/calls", headers={"Authorization": "Bearer " + token}, verify=cert)
    print(r.status_code, r.headers.get("retry-after", "-"))
"""


def _api(lab, *args: str) -> str:
    done = lab.lab.run(
        "caller", [sys.executable, "-c", API_GET, f"https://{lab.a['edge']}:8080", str(lab.tmp / "edge" / "tls" / "cert.pem"), *args],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-1500:]
    return done.stdout.strip()


def test_postgresql_restarted_during_ten_calls_loses_and_doubles_nothing(lab, quiet, tmp_path):
    """PostgreSQL stops for 10 s while ten callers are on: the calls go on, the API says 503
    with Retry-After, and afterwards every event each worker logged is in the store once."""
    assert lab.pg is not None
    token = _api(lab)
    t0, old = time.time(), frozenset(_logs(lab))
    box: dict = {}
    callers = threading.Thread(
        target=lambda: box.update(r=_call(lab, tmp_path / "ten", quiet, 22000, calls=10, rate=5))
    )
    callers.start()
    wait_until(lambda: len(_events(lab, t0, old)) == 10, 60, "ten calls on")
    lab.pg.stop()
    try:
        assert _api(lab, token) == "503 5"

        def refused() -> int:  # the workers' writes the store refused since it stopped
            return sum(p.read_text(errors="replace").count("store: write failed")
                       for host in ("media1", "media2") for p in (lab.tmp / host / "run").glob("worker-*.log"))  # fmt: skip

        before = refused()
        # the outage lasts until the workers have held their calls' records through several refusals
        wait_until(lambda: refused() >= before + 12, 60, "the workers holding records the store refused")
    finally:
        lab.pg.start()
    callers.join(timeout=120)
    assert box["r"].returncode == 0, "every call went on through the outage"
    assert _api(lab, token).startswith("200")
    logged = {p.stem: [json.loads(x) for x in p.read_text().splitlines() if x.strip()]
              for p in _logs(lab) if p.stat().st_mtime >= t0 and p not in old and "-cb" not in p.stem}  # fmt: skip
    assert len(logged) == 10  # (a callback still being tried is not one of them)

    def stored() -> dict[str, list[tuple[int, str]]]:
        rows = lab.sql("select call_id, seq, t_ms, type from call_events where call_id in ("
                       + ", ".join(f"'{c}'" for c in logged) + ") order by call_id, seq")  # fmt: skip
        out: dict[str, list[tuple[int, str]]] = {}
        for r in rows:
            out.setdefault(r["call_id"], []).append((r["t_ms"], r["type"]))
        return out

    expected = {c: [(e["t_ms"], e["type"]) for e in events] for c, events in logged.items()}
    wait_until(lambda: stored() == expected, 60, "every logged event in the store, once")
    ended = lab.sql("select status from calls where id in (" + ", ".join(f"'{c}'" for c in logged) + ")")
    assert [r["status"] for r in ended] == ["ended"] * 10
