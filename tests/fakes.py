"""The tests' one set of fakes: a call as a hand-over sees it (`ivr.conversation.CallControl`),
a call's supervisor leg and the session a monitor sees, and a bag-of-words stand-in for the
sentence embedder. A fake is for a unit test; what an issue asks to work runs on real parts."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ivr.conversation import Input, InputKind, TransferOutcome
from ivr.events import EventType


class FakeCall:
    """The caller does `script` [(at ms, Input)]; every wait takes the call's time forward."""

    def __init__(self, script: list[tuple[int, Input]], caller: str = "07700900123") -> None:
        self.script = sorted(script, key=lambda x: x[0])
        self.call_id, self.caller, self.now_ms = "c1", caller, 0
        self.sample_rate, self.bridge_reason = 8000, ""
        self.events: list[tuple[EventType, dict]] = []
        self.said: list[str] = []
        self.caller_gone = False
        self.agent = None
        self.line_noisy = False

    def emit(self, kind: EventType, **data) -> None:  # type: ignore[no-untyped-def]
        self.events.append((kind, data))

    def lines_free(self) -> int:
        return 1

    def needs_agent_line(self, on: bool) -> None: ...

    async def synthesize(self, text: str) -> bytes:
        return bytes(2 * self.sample_rate * max(1, len(text.split()) // 3))  # ~3 words a second

    def masked(self, value):  # type: ignore[no-untyped-def]
        return value

    async def say(self, text: str, interruptible: bool = True) -> None:
        self.said.append(text)

    async def start_hold(self) -> None: ...

    def discard_speech(self) -> int:
        """What the caller said up to now that nothing took (as the session drops it)."""
        before = len(self.script)
        self.script = [
            (at, i) for at, i in self.script if not (at <= self.now_ms and i.kind is InputKind.SPEECH)
        ]
        return before - len(self.script)

    async def stop_hold(self) -> None: ...

    async def wait_input(self, timeout_ms: int) -> Input:
        if self.script and self.script[0][0] <= self.now_ms + timeout_ms:
            at, item = self.script.pop(0)
            self.now_ms = max(self.now_ms, at)
            if item.kind is InputKind.HANGUP:
                self.caller_gone = True
            return item
        self.now_ms += timeout_ms
        return Input(InputKind.NO_INPUT)

    async def bridge_to(self, uri, request, ring_timeout_s, whisper_pcm=None):  # type: ignore[no-untyped-def]
        self.rang = uri
        return TransferOutcome.CONNECTED


class FakeMonitorTransport:
    """A SIP call's supervisor leg (`ivr.transport.MonitorTransport`): what was asked of it."""

    def __init__(self) -> None:
        self.did: list[tuple] = []
        self.on_monitor = None

    def monitor_dial(self, uri: str, mode: str, own_is_agent: bool = False) -> int:
        self.did.append(("dial", uri, mode))
        return 1

    def monitor_mode(self, mode: str) -> None:
        self.did.append(("mode", mode))

    def monitor_hangup(self) -> None:
        self.did.append(("hangup",))

    def word(self, state: str, reason: str = "") -> None:  # what the SIP thread would report
        self.on_monitor(state, reason)


class FakeSession:
    """What a supervisor's monitoring sees of a call: its id, its transport, its events."""

    def __init__(self) -> None:
        self.call_id, self.caller_gone, self.main_speaker = "c1", False, "caller"
        self.transport = FakeMonitorTransport()
        self.events: list[dict] = []

    def emit(self, kind, **data) -> None:  # type: ignore[no-untyped-def]
        assert kind is EventType.MONITOR
        self.events.append(data)


class WordsEmbedder:
    """Sentence embeddings by the words of `vocab` a text contains (each a dimension, plus
    `floor`), with a `tail` dimension so no row is zero; rows normalised."""

    def __init__(
        self, vocab: Sequence[str], floor: float = 0.0, tail: float = 0.01, lower: bool = True
    ) -> None:
        self.vocab, self.floor, self.tail, self.lower = list(vocab), floor, tail, lower

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for t in texts:
            t = t.lower() if self.lower else t
            v = [float(w in t) + self.floor for w in self.vocab] + ([self.tail] if self.tail else [])
            a = np.array(v, np.float64)
            rows.append(a / np.linalg.norm(a))
        return np.array(rows, np.float32)


class FakeSpeechModels:
    """Models for an in-process `SpeechService` in unit tests: every decode says `text`
    (after `gate` opens, when given: a decode held mid-way), prompts are silence."""

    def __init__(self, text: str, gate: Any = None) -> None:
        from types import SimpleNamespace

        import numpy as np

        from speech.asr import Decoded

        self.started = threading.Event()

        def decode_batch(items: Any, encoded: Any = None) -> list[Decoded]:
            self.started.set()
            if gate is not None:
                gate.wait(30)
            return [Decoded((1, 2), text, -0.1, 0.01, ((0, text),)) for _ in items]

        asr = SimpleNamespace(decode_batch=decode_batch, settings=SimpleNamespace(rescore_margin=-1.0))
        self.asr = self.asr_partials = asr
        self.finals_take_prefix = True
        self.tts = SimpleNamespace(cached=lambda t, r: None, stream=lambda t, r: iter([np.zeros(r // 2)]))
        self.embedder = SimpleNamespace(embed=lambda texts: np.ones((len(texts), 384), np.float32))
        self.names = {"asr": "fake", "asr_finals": "fake", "tts": "fake"}
