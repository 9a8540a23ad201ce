"""Start real SIP workers and callers on 127.0.0.1 for the tests (no mocks)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from speech.audio import decode_file, resample
from tests.tools.pcap import write_rtp_pcap

ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate, timeout_s: float, what: str, interval_s: float = 0.2):  # type: ignore[no-untyped-def]
    """Poll a real process's observable state until `predicate()` is truthy (bounded)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


_TOKENS: dict[str, dict[str, str]] = {}


def serve_auth(data: Path) -> dict[str, str]:
    """An admin's Authorization header for the `ivr serve` keeping its store in `data` (the
    user and the token are made in that store, as `ivr users add` and a login would)."""
    from ivr.records import Store

    key = str(Path(data).resolve())
    if key not in _TOKENS:
        store = Store(f"sqlite:///{key}/ivr.sqlite3")
        try:
            store.users.add("test-admin", "admin", "test-admin-password", replace=True)
            token = store.users.login("test-admin", "test-admin-password", 3600)
        finally:
            store.close()
        _TOKENS[key] = {"Authorization": f"Bearer {token}"}
    return _TOKENS[key]


def serve_status(
    proc: subprocess.Popen, api: str, data: Path, log: Path, verify: ssl.SSLContext | bool = True
) -> dict | None:
    """`ivr serve`'s /api/sip once every worker is up, ready and dispatched to by Kamailio
    (and the speech service alive); None while it is starting. Fails if serve died."""
    import httpx

    assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
    try:
        status = httpx.get(f"{api}/api/sip", timeout=5, headers=serve_auth(data), verify=verify).json()
    except (httpx.HTTPError, ValueError):
        return None
    workers = status.get("workers", [])
    ready = all(w["alive"] and w["dispatcher"] == "active" for w in workers) and all(
        '"worker": "ready"' in (data / "run" / f"worker-{w['index']}.log").read_text(errors="replace")
        for w in workers
    )
    speech = status.get("speech") or {}
    return status if ready and speech.get("alive") is not False else None


def open_hotline(directory: Path) -> Path:
    """The shipped hotline without business hours, so calls are answered at any time of day."""
    import re

    text = (ROOT / "dialplans" / "hotline.yaml").read_text()
    path = directory / "hotline_open.yaml"
    path.write_text(re.sub(r"business_hours:\n(  .*\n)+after_hours: closed\n", "", text))
    return path


_PORTS_FROM, _PORTS_TO = 20000, 32000
"""Test ports come from below the kernel's ephemeral range (32768-60999 here), so no outgoing
connection of any process can take one between the test choosing it and its server binding it
(kamailio once found its TCP port held by a client socket), and above the RTP ports."""
_HANDED_PORTS: set[int] = set()
_HANDED_PORTS_LOCK = threading.Lock()


def free_port(kind: int = socket.SOCK_DGRAM, room: int = 6) -> int:
    """A port free now for UDP and TCP on 127.0.0.1 (SIP listens on both; `kind` is kept for
    callers that say which they need), with the next `room` ports free too (`ivr serve` gives
    its TLS sip_port + 1, its workers sip_port + 2 ...), and not handed out before by this process."""
    del kind
    with _HANDED_PORTS_LOCK:
        while True:
            port = random.randrange(_PORTS_FROM, _PORTS_TO - room)
            span = range(port, port + room + 1)
            if _HANDED_PORTS.intersection(span):
                continue
            if all(_bindable(p) for p in span):
                _HANDED_PORTS.update(span)
                return port


def _bindable(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def ivr_exe() -> list[str]:
    exe = Path(sys.executable).with_name("ivr")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ivr.cli"]


class Worker:
    """`ivr worker` as a real process; waits for its ready line (bounded)."""

    def __init__(
        self,
        data_dir: Path,
        dialplan: Path,
        sip_port: int | None = None,
        rtp_port: int = 41000,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.sip_port = sip_port or free_port()
        self.log = data_dir / f"worker-{self.sip_port}.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                *ivr_exe(),
                "worker",
                "--sip-port",
                str(self.sip_port),
                "--rtp-port",
                str(rtp_port),
                "--dialplan",
                str(dialplan),
                "--data-dir",
                str(data_dir),
                "--api-base",
                "http://127.0.0.1:9",
            ],
            stdout=open(self.log, "w"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker died:\n{self.log.read_text(errors='replace')[-3000:]}")
            return '"worker": "ready"' in self.log.read_text(errors="replace")

        wait_until(ready, 120, "the worker to start")

    def calls(self) -> list[list[dict]]:
        out = []
        for path in sorted((self.data_dir / "calls").glob("*.jsonl")):
            out.append([json.loads(x) for x in path.read_text().splitlines() if x.strip()])
        return out

    def wait_calls_ended(self, n: int, timeout_s: float = 120) -> list[list[dict]]:
        def ended() -> list[list[dict]] | None:
            done = [c for c in self.calls() if c and c[-1]["type"] == "call_end"]
            return done if len(done) >= n else None

        return wait_until(ended, timeout_s, f"{n} call(s) to end")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def fixture_pcap(path: Path, lead_s: float, tail_s: float, name: str = "cmu_arctic_us_aew_a0003.wav") -> Path:
    """An RTP pcap for sipp: a fixture at 8 kHz between `lead_s` and `tail_s` of silence."""
    samples, rate = decode_file(ROOT / "audio_fixtures" / name)
    x = np.concatenate(
        [
            np.zeros(int(8000 * lead_s), np.float32),
            resample(samples, rate, 8000),
            np.zeros(int(8000 * tail_s), np.float32),
        ]
    )
    write_rtp_pcap(path, x)
    return path


def speech_wav(path: Path, parts: list[tuple[str | None, float]], rate: int = 8000) -> Path:
    """A WAV of fixtures and silences: [(fixture name or None, seconds of silence after)]."""
    import soundfile as sf

    chunks = []
    for name, pause_s in parts:
        if name is not None:
            samples, r = decode_file(ROOT / "audio_fixtures" / name)
            chunks.append(resample(samples, r, rate))
        chunks.append(np.zeros(int(pause_s * rate), np.float32))
    sf.write(path, np.concatenate(chunks), rate, subtype="PCM_16")
    return path


def speech_pcap(path: Path, lead_s: float, digits: list[tuple[float, str]], tail_s: float) -> float:
    """jfk.flac at 8 kHz mu-law after `lead_s` of silence, then digits; returns its length."""
    samples, rate = decode_file(ROOT / "audio_fixtures" / "jfk.flac")
    speech = resample(samples, rate, 8000)
    audio = np.concatenate(
        [np.zeros(int(lead_s * 8000), np.float32), speech, np.zeros(int(tail_s * 8000), np.float32)]
    )
    return write_rtp_pcap(path, audio, digits)


def sipp_call(
    tmp: Path,
    port: int,
    pcap: Path,
    listen_ms: int,
    caller: str = "+447700900003",
    local_port: int | None = None,
    media_port: int | None = None,
    calls: int = 1,
    rate: int = 1,
    rate_period_ms: int = 1000,
    service: str = "hotline",
    host: str = "127.0.0.1",
    local_ip: str = "127.0.0.1",
    netns: str = "",
    limit: int = 0,
) -> subprocess.CompletedProcess:
    """`calls` sipp callers speaking `pcap`, `rate` new calls every `rate_period_ms`, calling
    `service` (the request URI's user: a name or a number) at `host`; from `local_ip` in the
    network namespace `netns` when given (`tests.netns`)."""
    scenario = (ROOT / "tests" / "sip" / "uac_speech.xml").read_text()
    scenario = scenario.replace("@PCAP@", str(pcap)).replace("@PAUSE_MS@", str(listen_ms))
    xml = tmp / f"uac_{pcap.stem}.xml"
    xml.write_text(scenario)
    csv = tmp / "callers.csv"
    csv.write_text(f"SEQUENTIAL\n{caller}\n")
    assert shutil.which("sipp"), "sipp (Debian sip-tester) is installed by `make test`"
    return subprocess.run(
        [
            *(["ip", "netns", "exec", netns] if netns else []),
            "sipp",
            f"{host}:{port}",
            "-sf",
            str(xml),
            "-inf",
            str(csv),
            "-s",
            service,
            "-m",
            str(calls),
            "-r",
            str(rate),
            "-rp",
            str(rate_period_ms),
            "-l",
            str(limit or calls),
            "-i",
            local_ip,
            "-p",
            str(local_port or free_port()),
            "-mp",
            str(media_port or 6000 + 2 * (os.getpid() % 500)),
            "-nostdin",
            "-timeout",
            "120s",
            "-trace_err",
            "-error_file",
            str(tmp / "sipp_errors.log"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp,
    )


def transcribe(engines, samples: np.ndarray, rate: int) -> str:  # type: ignore[no-untyped-def]
    """What whisper hears in a recording: cut at pauses (>= 300 ms under -40 dBFS), each
    stretch decoded on its own (a call recording is longer than one decoding window)."""
    from speech.utterance import transcribe_utterance

    hop = rate // 50
    frames = len(samples) // hop
    rms = np.sqrt(np.mean(samples[: frames * hop].reshape(frames, hop).astype(np.float64) ** 2, axis=1))
    loud = rms > 10 ** (-40 / 20)
    texts, start, quiet = [], None, 0
    for i, on in enumerate([*loud, False] + [False] * 15):
        if on:
            start = i if start is None else start
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet >= 15 or i - start >= 700:  # a pause, or 14 s of sound
                seg = samples[start * hop : (i - quiet + 1) * hop]
                if len(seg) > rate // 5:
                    texts.append(transcribe_utterance(engines.asr, resample(seg, rate, 16000)))
                start, quiet = None, 0
    return " ".join(t for t in texts if t).lower()


def transcribe_mixed(engines, samples: np.ndarray, rate: int, window_s: float = 5.0) -> str:  # type: ignore[no-untyped-def]
    """What whisper hears where two voices overlap (a supervisor hearing caller and agent at
    once): the recording as `transcribe` cuts it, and again in windows of `window_s` stepping
    by half a window, so a stretch where one voice is alone is decoded on its own too."""
    from speech.utterance import transcribe_utterance

    texts = [transcribe(engines, samples, rate)]
    size, step = int(window_s * rate), int(window_s * rate / 2)
    for start in range(0, max(1, len(samples) - step), step):
        seg = samples[start : start + size]
        if len(seg) > rate // 2:
            texts.append(transcribe_utterance(engines.asr, resample(seg, rate, 16000)).lower())
    return " | ".join(t for t in texts if t)


AGENT_PASSWORD = "agentpass1"  # baresip's account line ends a password at a space


def registered(run_dir: Path) -> list[str]:
    """The contacts Kamailio's location table holds (agents' phones)."""
    from ivr.telephony.kamailio import kamcmd

    out = kamcmd(run_dir, "ul.dump") or ""
    return [line.split("Address:", 1)[1].strip() for line in out.splitlines() if "Address:" in line]


def bridge_plan(tmp: Path, sip: int, mode: str = "bridge") -> Path:
    """tests/sip/bridge.yaml with its billing queue as ann's phone on the hotline at `sip`."""
    plan = tmp / "bridge.yaml"
    text = (ROOT / "tests" / "sip" / "bridge.yaml").read_text()
    plan.write_text(text.replace("@AGENT_URI@", f"sip:ann@127.0.0.1:{sip}").replace("@MODE@", mode))
    return plan


def start_hotline(tmp: Path, plan_for, env: dict[str, str] | None = None, agents=("ann", "bob"), directory=(),  # type: ignore[no-untyped-def]
                  skills=("billing",), supervisors=(), workers: int = 1, sip_port: int = 0) -> dict:  # fmt: skip
    """`ivr serve` (one worker) on free ports with agents (skill billing, AGENT_PASSWORD) and
    directory entries [(number, name, tier)] in its store; `plan_for(tmp, sip_port)` -> dialplan."""
    from ivr.records import Store

    data = tmp / "data"
    store = Store(f"sqlite:///{data}/ivr.sqlite3")
    for name in agents:
        store.agents.add(name, AGENT_PASSWORD, list(skills))
    for name in supervisors:  # a supervisor with a phone on the hotline (to listen in), never offered calls
        store.users.add(name, "supervisor", AGENT_PASSWORD)
        store.agents.add(name, AGENT_PASSWORD, list(skills), replace=True)
    store.directory.upsert(
        [{"number": number, "name": name, "tier": tier} for number, name, tier in directory]
    )
    store.close()
    sip = sip_port or free_port()
    plan = plan_for(tmp, sip)
    api = free_port(socket.SOCK_STREAM)
    proc = subprocess.Popen(
        [*ivr_exe(), "serve", "--dialplan", str(plan), "--data-dir", str(data), "--port", str(api),
         "--sip-port", str(sip), "--sip-workers", str(workers), "--rtp-port", str(45000 + 200 * (os.getpid() % 20))],
        stdout=open(tmp / "serve.log", "w"), stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )  # fmt: skip
    cert = (env or {}).get("IVR_TLS_CERT", "")  # the test's own certificate: HTTPS, and it is trusted
    url = f"{'https' if cert else 'http'}://127.0.0.1:{api}"
    verify = ssl.create_default_context(cafile=cert) if cert else True
    wait_until(
        lambda: serve_status(proc, url, data, tmp / "serve.log", verify),
        180,
        "ivr serve",
        interval_s=0.5,
    )
    return {"tmp": tmp, "data": data, "sip": sip, "run": data / "run", "proc": proc, "api": url}


def stop_hotline(served: dict) -> None:  # type: ignore[type-arg]
    import signal

    served["proc"].send_signal(signal.SIGINT)
    try:
        served["proc"].wait(timeout=30)
    except subprocess.TimeoutExpired:
        served["proc"].kill()


def alive(pid: int) -> bool:
    """The process runs and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def _digest(challenge: str, username: str, password: str, uri: str) -> str:
    """A Proxy-Authorization answering `challenge` (RFC 2617 MD5, no qop)."""

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm, nonce = fields["realm"], fields["nonce"]
    response = md5(f"{md5(f'{username}:{realm}:{password}')}:{nonce}:{md5(f'INVITE:{uri}')}")
    return (f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", algorithm=MD5')  # fmt: skip


def invite_status(port: int, user: str, local: tuple[str, int] = ("127.0.0.1", 0), to: str = "",
                  auth: tuple[str, str] | None = None) -> int:  # fmt: skip
    """The final status a bare INVITE to `user` at 127.0.0.1:`port` gets, sent from `local`
    (then ACKed, as a phone would; a 200 is hung up with a BYE); `to`: the To header's user
    when it is not `user` (a carrier calling a registered contact); `auth`: (user, password)
    answering a 407 challenge (the INVITE is sent again with them)."""
    call_id, tag = uuid.uuid4().hex, uuid.uuid4().hex[:8]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(local)
        s.settimeout(10)
        host, me = s.getsockname()
        sdp = (f"v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
               f"m=audio {me + 2} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")  # fmt: skip
        who = f"From: <sip:+447700900009@{host}:{me}>;tag={tag}"
        uri = f"sip:{user}@127.0.0.1:{port}"
        cseq, credentials = 1, ""
        while True:
            status, reply, branch = _invite(s, port, uri, who, to or user, call_id, cseq, credentials, sdp)
            challenge = next((ln.split(":", 1)[1] for ln in reply.split("\r\n")
                              if ln.lower().startswith("proxy-authenticate:")), "")  # fmt: skip
            if status != 407 or auth is None or credentials or not challenge:
                return status
            cseq, credentials = cseq + 1, f"Proxy-Authorization: {_digest(challenge, *auth, uri)}\r\n"


def _invite(s: socket.socket, port: int, uri: str, who: str, to_user: str, call_id: str, cseq: int,
            credentials: str, sdp: str) -> tuple[int, str, str]:  # fmt: skip
    """One INVITE transaction: its final status and reply (ACKed; a 200 hung up with a BYE)."""
    host, me = s.getsockname()
    branch = "z9hG4bK" + uuid.uuid4().hex[:10]
    head = (
        f"INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {host}:{me};branch={branch};rport\r\n"
        f"Max-Forwards: 70\r\n{who}\r\nTo: <sip:{to_user}@127.0.0.1:{port}>\r\nCall-ID: {call_id}\r\n"
        f"CSeq: {cseq} INVITE\r\n{credentials}Contact: <sip:+447700900009@{host}:{me}>\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n"
    )
    s.sendto((head + sdp).encode(), ("127.0.0.1", port))
    while True:
        reply = s.recv(65535).decode(errors="replace")
        if not reply.startswith("SIP/2.0 "):
            continue  # a request from the far end (an OPTIONS, a BYE): not the answer
        status = int(reply.split(" ", 2)[1])
        if status >= 200:
            break
    lines = reply.split("\r\n")
    to = next(line for line in lines if line.lower().startswith("to:"))
    if status >= 300:  # the ACK of a failure is part of the INVITE's transaction
        s.sendto((f"ACK {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {host}:{me};branch={branch};rport\r\n"
                  f"Max-Forwards: 70\r\n{who}\r\n{to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} ACK\r\n"
                  "Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", port))  # fmt: skip
        return status, reply, branch
    routes = [line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("record-route:")]
    contact = next(line for line in lines if line.lower().startswith(("contact:", "m:")))
    target = contact.split("<", 1)[1].split(">", 1)[0]
    route = "".join(f"Route: {r}\r\n" for r in reversed(routes))
    for method, n, br in (("ACK", cseq, branch + "a"), ("BYE", cseq + 1, branch + "b")):
        s.sendto(
            (f"{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {host}:{me};branch={br};rport\r\n"
             f"Max-Forwards: 70\r\n{route}{who}\r\n{to}\r\nCall-ID: {call_id}\r\nCSeq: {n} {method}\r\n"
             "Content-Length: 0\r\n\r\n").encode(),
            ("127.0.0.1", port),
        )  # fmt: skip
    return status, reply, branch


SAY_THEN_HANG_UP = """\
name: {name}
start: main
queues: {{}}
nodes:
  main:
    - say: {prompt}
    - hangup:
        reason: resolved
"""
"""A dialplan that says its one prompt and hangs up: tells which dialplan a call reached."""


def first_prompts(data: Path) -> list[str]:
    """Each recorded call's first prompt, oldest call first (the store in `data`)."""
    from ivr.records import Store

    store = Store(f"sqlite:///{data}/ivr.sqlite3")
    try:
        calls = sorted(store.calls.list().calls, key=lambda c: c["started_at"])
        out = []
        for c in calls:
            events = store.calls.get(c["id"])["events"]
            out.append(next((e["text"] for e in events if e["type"] == "say"), ""))
        return out
    finally:
        store.close()
