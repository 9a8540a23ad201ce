"""The speech service: its scheduler without models (unit), and the client against a real
service process with the real models (model)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

import pytest

from speech.service.protocol import Address, Message, ProtocolError, parse_header
from speech.service.scheduler import Job, Kind, Priority, Scheduler
from tests.conftest import FIXTURES
from tests.sip_helpers import ivr_exe, wait_until


def job(kind=Kind.TRANSCRIBE, priority=Priority.FINAL, key=None, name=""):
    dropped: list[str] = []
    j = Job(kind, priority, key, name, dropped.append)
    j.dropped_reasons = dropped  # type: ignore[attr-defined]
    return j


# -- the scheduler, no model -----------------------------------------------------------
@pytest.mark.unit
def test_finals_run_before_prompts_before_partials():
    s = Scheduler(lanes=4, max_batch=1)
    partial, prompt, final = (
        job(priority=Priority.PARTIAL, name="partial"),
        job(Kind.SYNTHESIZE, Priority.PROMPT, name="prompt"),
        job(name="final"),
    )
    for j in (partial, prompt, final):
        s.submit(j, now_s=0.0)
    order = [s.take(0.1)[0][0].payload for _ in range(3)]
    assert order == ["final", "prompt", "partial"]


@pytest.mark.unit
def test_a_newer_partial_of_the_same_utterance_supersedes_the_queued_one():
    s = Scheduler(lanes=2)
    old, new = job(priority=Priority.PARTIAL, key="call#1"), job(priority=Priority.PARTIAL, key="call#1")
    s.submit(old, 0.0)
    assert s.submit(new, 0.1) == [old]
    assert old.state == "dropped"
    jobs, _ = s.take(0.2)
    assert jobs == [new]


@pytest.mark.unit
def test_drop_removes_a_queued_speculation_but_never_a_running_job():
    s = Scheduler(lanes=2)
    spec = job(key="call#1#speculation")
    s.submit(spec, 0.0)
    assert s.drop("call#1#speculation") is spec and spec.state == "dropped"
    assert s.take(0.0) == ([], [])
    running = job(key="call#2#speculation")
    s.submit(running, 0.0)
    assert s.take(0.0)[0] == [running]
    assert s.drop("call#2#speculation") is None and running.state == "running"


@pytest.mark.unit
def test_finals_waiting_together_are_batched_and_other_kinds_keep_their_place():
    s = Scheduler(lanes=2, max_batch=4)
    finals = [job(name=f"f{i}") for i in range(6)]
    prompt = job(Kind.SYNTHESIZE, Priority.PROMPT, name="prompt")
    partial = job(priority=Priority.PARTIAL, name="partial")
    s.submit(partial, 0.0)
    for f in finals[:3]:
        s.submit(f, 0.0)
    s.submit(prompt, 0.0)
    for f in finals[3:]:
        s.submit(f, 0.0)
    first, _ = s.take(0.0)
    assert [j.payload for j in first] == ["f0", "f1", "f2", "f3"]  # one batch of 4
    second, _ = s.take(0.0)
    assert [j.payload for j in second] == ["f4", "f5"]
    s.done(first)
    s.done(second)
    assert [j.payload for j in s.take(0.0)[0]] == ["prompt"]
    assert s.batches == {4: 1, 2: 1}


@pytest.mark.unit
def test_under_load_partials_wait_for_a_spare_lane_and_go_stale():
    s = Scheduler(lanes=2, partial_stale_s=0.4)
    final, partial = job(), job(priority=Priority.PARTIAL)
    s.submit(final, 0.0)
    s.submit(partial, 0.0)
    assert s.take(0.0)[0] == [final]
    # one lane busy with a final: the other stays free for the next final, not for a partial
    assert s.take(0.1) == ([], [])
    jobs, stale = s.take(0.5)
    assert jobs == [] and stale == [partial] and partial.state == "dropped"


@pytest.mark.unit
def test_a_replays_partial_waits_however_long_and_is_run():
    """A replay's partial is never dropped as stale: the final's decode starts from the
    partials' words, so a dropped one would change what a loaded box hears in the same call."""
    s = Scheduler(lanes=2, partial_stale_s=0.4)
    final, partial = job(), job(priority=Priority.PARTIAL)
    partial.keep = True
    s.submit(final, 0.0)
    s.submit(partial, 0.0)
    assert s.take(0.0)[0] == [final]
    assert s.take(5.0) == ([], [])  # still waiting for a spare lane, not dropped
    s.done([final])
    assert s.take(5.1)[0] == [partial] and partial.state == "running"


@pytest.mark.unit
def test_a_synthesis_goes_back_in_its_place_between_sentences_and_stops_when_dropped():
    s = Scheduler(lanes=1)
    tts = job(Kind.SYNTHESIZE, Priority.PROMPT, key="tts#1")
    s.submit(tts, 0.0)
    assert s.take(0.0)[0] == [tts]
    final = job()
    s.submit(final, 0.0)
    s.requeue(tts)  # one sentence done, more to go
    assert s.take(0.0)[0] == [final]  # a final that came meanwhile goes first
    s.done([final])
    assert s.take(0.0)[0] == [tts]
    s.drop("tts#1")  # the caller barged in
    s.requeue(tts)
    assert s.take(0.0) == ([], []) and s.running == 0


@pytest.mark.unit
@pytest.mark.parametrize(
    "line",
    [
        b"not json\n",
        b'["a list"]\n',
        b'{"id": 1}\n',
        b'{"type": "x", "payload": -1}\n',
        b'{"type": "x", "payload": 1e12}\n',
    ],
)
def test_a_malformed_header_is_a_protocol_error(line):
    with pytest.raises(ProtocolError):
        parse_header(line)


@pytest.mark.unit
def test_addresses():
    assert Address.parse("/run/ivr/speech.sock").path == "/run/ivr/speech.sock"
    assert Address.parse("unix:speech.sock").path == "speech.sock"
    assert (Address.parse("127.0.0.1:7000").host, Address.parse("127.0.0.1:7000").port) == ("127.0.0.1", 7000)
    with pytest.raises(ValueError):
        Address.parse("host:notaport")


# -- the client against a real service process -------------------------------------------
@pytest.fixture(scope="module")
def service_process(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("speech")
    sock = tmp / "speech.sock"
    log = open(tmp / "speech.log", "w")
    proc = subprocess.Popen(
        [*ivr_exe(), "speech", "--listen", str(sock)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    wait_until(
        lambda: '"speech": "ready"' in (tmp / "speech.log").read_text() or proc.poll() is not None,
        120,
        "the speech service",
    )
    assert proc.poll() is None, (tmp / "speech.log").read_text()
    yield proc, str(sock), tmp
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def _jfk_pcm8k() -> bytes:
    from speech.audio import decode_file, resample, to_pcm16

    samples, rate = decode_file(FIXTURES / "jfk.flac")
    return to_pcm16(resample(samples, rate, 8000))


@pytest.mark.model
def test_the_client_transcribes_synthesises_and_embeds_through_a_real_service(service_process):
    from speech.service.client import SpeechClient
    from speech.service.replies import SpeechError

    _, address, _ = service_process

    async def go():
        client = SpeechClient(address)
        await client.connect(30)
        try:
            pcm = _jfk_pcm8k()
            # four callers' finals at the same moment: decoded as one batch, each its own text
            decoded = await asyncio.gather(*(client.transcribe(pcm, 8000) for _ in range(4)))
            assert all("country" in d.text.lower() for d in decoded)
            assert decoded[0].text_before(len(decoded[0].tokens)) == decoded[0].text
            # a dialplan's hints go with its own decodes: with and without them in one batch
            hinted = await asyncio.gather(
                client.transcribe(pcm, 8000, hints="Ask not what your country can do for you."),
                client.transcribe(pcm, 8000, hints=""),
                client.transcribe(pcm, 8000, hints="Acme Mobile, what is my bill?"),
            )
            assert all("country" in d.text.lower() for d in hinted), [d.text for d in hinted]
            audio = await client.synthesize("Your balance is 42 pounds.", 8000)
            assert len(audio) > 8000  # over half a second of 8 kHz PCM
            assert client.cached("Your balance is 42 pounds.", 8000) == audio
            vectors = await client.embed(
                ["what's my balance", "how much is my bill", "is it raining in paris"]
            )
            assert vectors.shape == (3, 384)
            assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.2
            assert client.embedder.embed(["what's my balance"]).shape == (1, 384)
            with pytest.raises(SpeechError):  # a bad request is answered, the service lives on
                await client.transcribe(b"\x00" * 3, 8000)
            assert (await client.ping())["lanes"] >= 1
        finally:
            await client.close()

    asyncio.run(go())


@pytest.mark.model
def test_a_bad_frame_closes_only_that_connection(service_process):
    import socket

    proc, address, _ = service_process
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(address)
        s.sendall(b"\xff\xfe garbage that is no header\n")
        s.settimeout(10)
        assert b"protocol error" in s.recv(65536)
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(address)
        s.sendall(Message("ping", 7).encode())
        s.settimeout(10)
        assert b'"pong"' in s.recv(65536)
    assert proc.poll() is None


@pytest.mark.model
def test_requests_in_flight_fail_fast_when_the_service_dies_and_the_client_reconnects(tmp_path):
    from speech.service.client import SpeechClient
    from speech.service.replies import SpeechUnavailable

    sock = tmp_path / "speech.sock"

    def start():
        log = open(tmp_path / "speech.log", "a")
        p = subprocess.Popen(
            [*ivr_exe(), "speech", "--listen", str(sock)], stdout=log, stderr=subprocess.STDOUT
        )
        return p

    proc = start()

    async def go():
        client = SpeechClient(str(sock))
        await client.connect(120)
        pcm = _jfk_pcm8k()
        try:
            pending = asyncio.ensure_future(client.transcribe(pcm * 4, 8000))
            await asyncio.sleep(0)  # the request is on the wire
            proc.kill()
            with pytest.raises(SpeechUnavailable):
                await pending
            assert not client.available and client.outages == 1
            again = start()
            try:
                assert await client.wait_available(120)
                assert "country" in (await client.transcribe(pcm, 8000)).text.lower()
            finally:
                again.send_signal(signal.SIGTERM)
                again.wait(30)
        finally:
            await client.close()

    asyncio.run(go())
