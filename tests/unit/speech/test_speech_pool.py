"""Speech services on the network: the shared secret (unauthenticated clients refused) and
the pool (least loaded first; a decode whose service dies mid-way is heard from another).
Real services and sockets on 127.0.0.1, with models that answer a fixed text."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

import pytest

from speech.service.client import SpeechClient
from speech.service.embedder import BlockingEmbedder
from speech.service.models import ServiceSettings
from speech.service.pool import SpeechPool
from speech.service.protocol import Address, Message, read_message_blocking
from speech.service.replies import SpeechUnavailable
from speech.service.server import SpeechService
from tests.fakes import FakeSpeechModels
from tests.sip_helpers import free_port

pytestmark = pytest.mark.unit

SECRET = "s3cret-shared-by-the-hosts"
PCM = b"\x01\x00" * 1600


async def _service(text: str, gate: threading.Event | None = None, secret: str = SECRET):
    models = FakeSpeechModels(text, gate)
    service = SpeechService(ServiceSettings(lanes=1), models)  # type: ignore[arg-type]
    address = Address.parse(f"127.0.0.1:{free_port(socket.SOCK_STREAM)}", secret)
    await service.start(address)
    return service, address, models


def test_a_client_without_the_secret_is_refused_and_logged(caplog):
    async def go():
        service, address, _ = await _service("hello")
        try:
            # raw: the service speaks first (a challenge); a ping instead of an answer is refused
            def raw() -> list[Message]:
                with socket.create_connection((address.host, address.port), timeout=5) as s:
                    buffer = bytearray()
                    hello = read_message_blocking(s, buffer)
                    s.sendall(Message("ping", 1).encode())
                    return [hello, read_message_blocking(s, buffer)]

            hello, refusal = await asyncio.to_thread(raw)
            assert hello.type == "challenge" and refusal.type == "error"
            assert "not authenticated" in refusal.data["message"]
            # a client with a wrong secret, and one with none, never become available
            for wrong in (Address.parse(str(address), "not-the-secret"), Address.parse(str(address))):
                client = SpeechClient(wrong)
                with pytest.raises(SpeechUnavailable):
                    await client.connect(timeout_s=2)
                await client.close()
            with pytest.raises(SpeechUnavailable, match="refused|secret"):
                await asyncio.to_thread(BlockingEmbedder(Address.parse(str(address), "nope")).embed, ["x"])
            # the right secret works, for the call path and for a thread's embeddings
            client = SpeechClient(address)
            await client.connect(timeout_s=5)
            assert (await client.transcribe(PCM, 8000)).text == "hello"
            assert (await asyncio.to_thread(client.embedder.embed, ["hi"])).shape == (1, 384)
            await client.close()
            assert service.refused >= 4
        finally:
            await service.close()

    with caplog.at_level(logging.WARNING, logger="speech.service"):
        asyncio.run(go())
    assert any("refused a client from ('127.0.0.1'" in r.getMessage() for r in caplog.records)


def test_the_pool_sends_to_the_least_loaded_and_retries_a_decode_whose_service_died():
    async def go():
        gates = [threading.Event(), threading.Event()]
        (s1, x1, m1), (s2, x2, m2) = await _service("from A", gates[0]), await _service("from B", gates[1])
        # the one that sorts first is picked first when both are idle: its decodes hang until it dies
        services = sorted(
            [(x1, s1, m1, gates[0], "from A"), (x2, s2, m2, gates[1], "from B")], key=lambda t: str(t[0])
        )
        (a1, first, models1, gate, _), (a2, second, _, other_gate, text2) = services
        other_gate.set()
        pool = SpeechPool([a1, a2], refresh_s=0.2)
        try:
            await pool.connect(timeout_s=5)
            assert await _both(pool)
            # two decodes at once go to two services (each has one in flight)
            pending = asyncio.ensure_future(pool.transcribe(PCM, 8000))
            assert await asyncio.to_thread(models1.started.wait, 5)  # held mid-decode on the first
            assert (await pool.transcribe(PCM, 8000)).text == text2
            # the first host dies mid-decode: the caller's words are heard from the second
            await first.close()
            gate.set()
            assert (await pending).text == text2
            assert pool.retried == 1 and pool.outages == 0
            # with none left the pool says so (the session's apology), once per outage
            await second.close()
            with pytest.raises(SpeechUnavailable, match="no speech service"):
                await pool.transcribe(PCM, 8000)
            with pytest.raises(SpeechUnavailable):
                await pool.transcribe(PCM, 8000)
            assert pool.outages == 1
        finally:
            await pool.close()

    asyncio.run(go())


async def _both(pool: SpeechPool) -> bool:
    for client in pool.clients.values():
        await client.wait_available(5)
    return all(c.available for c in pool.clients.values())


def test_the_pool_follows_its_members():
    async def go():
        one, a1, _ = await _service("one")
        two, a2, _ = await _service("two")
        members = [a1]
        pool = SpeechPool(lambda: list(members), refresh_s=0.05)
        try:
            await pool.connect(timeout_s=5)
            assert (await pool.transcribe(PCM, 8000)).text == "one"
            members[:] = [a2]  # the store says a1 left and a2 came
            await pool._refresh()  # the refresh the pool's loop does each refresh_s, now
            assert set(pool.clients) == {a2} and await pool.wait_available(5)
            assert (await pool.transcribe(PCM, 8000)).text == "two"
            assert (await pool.synthesize("Hello.", 8000)) and (await pool.embed(["x"])).shape == (1, 384)
        finally:
            await pool.close()
            await one.close()
            await two.close()

    asyncio.run(go())
