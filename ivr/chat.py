"""`ivr chat`: an admin types as the caller and sees the replies, intents and variables.

Commands: /dtmf 123 (key digits), /silence (say nothing), /affect calm|rising|escalate
(what the emotion radar would report), /vars, /help, /quit.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ivr.conversation import Input, InputKind, TransferOutcome, TransferRequest
from ivr.events import Event, EventType, make
from ivr.script import affect_scores
from ivr.transport import DTMF_DIGITS

HELP = (
    "Type what the caller says. Commands: /dtmf DIGITS, /silence, "
    "/more TEXT (the caller goes on right after their last turn, as if the line cut a pause), "
    "/affect calm|rising|escalate, /vars, /help, /quit"
)


class ChatConversation:
    def __init__(
        self,
        read_line: Callable[[], Awaitable[str | None]],
        write: Callable[[str], None],
        caller: str = "",
        http: Any = None,
        call_id: str = "chat",
    ) -> None:
        self.call_id = call_id
        self.caller = caller
        self.line_noisy = False  # typed words: no line
        self.events: list[Event] = []
        self._read = read_line
        self._write = write
        self._http = http
        self._pending: deque[Input] = deque()
        self._t_ms = 0
        self.vars_view: Callable[[], dict[str, Any]] = dict
        self.ended = False
        self.transfer_request: TransferRequest | None = None

    def emit(self, kind: EventType, **data: Any) -> Event:
        event = make(self.call_id, self._t_ms, kind, **data)
        self.events.append(event)
        if kind is EventType.INTENT:
            top = data.get("candidates") or []
            # the confidence is the similarity to the intent's examples; the candidates are the
            # classifier's probabilities, likeliest first
            why = ("; likeliest " + ", ".join(f"{c['name']} {c['score']:.2f}" for c in top)) if top else ""
            by = f" by {data['by']}" if data.get("by") not in (None, "similarity", "classifier") else ""
            self._write(f"  [intent {data['name']} {data['confidence']:.2f}{by}{why}]")
        elif kind is EventType.TURN_JOIN:
            self._write(f"  [heard as one turn at {data['node']}: {data['text']!r}]")
        elif kind is EventType.ERROR:
            self._write(f"  [error: {data['message']}]")
        return event

    async def say(self, text: str, prompt: str = "", interruptible: bool = True, lead: str = "") -> None:
        if text.strip():
            self.emit(EventType.SAY, text=text, **({"prompt": prompt} if prompt else {}))
            self._write(f"IVR: {text}")

    async def play_file(self, path: str, interruptible: bool = True) -> None:
        self.emit(EventType.SAY, text=f"[{path}]", prompt="play")
        self._write(f"IVR: [plays {path}]")

    async def start_hold(self, music: str | None = None) -> None:
        self.emit(EventType.HOLD, state="start", **({"music": music} if music else {}))
        self._write("IVR: [hold music]")

    async def stop_hold(self) -> None:
        self.emit(EventType.HOLD, state="end")

    async def wait_input(
        self, timeout_ms: int, complete: Callable[[str], bool] | None = None, answer_expected: bool = True
    ) -> Input:
        before = json.dumps(self.vars_view(), sort_keys=True, default=str)
        while not self._pending:
            line = await self._read()
            self._t_ms += 1000
            if line is None:
                return Input(InputKind.HANGUP)
            self._parse(line.strip())
        item = self._pending.popleft()
        after = json.dumps(self.vars_view(), sort_keys=True, default=str)
        if after != before:
            self._write(f"  [vars {after}]")
        return item

    def _parse(self, line: str) -> None:
        if not line:
            return
        if not line.startswith("/"):
            self.emit(EventType.FINAL_TRANSCRIPT, text=line)
            self._pending.append(Input(InputKind.SPEECH, text=line))
            return
        cmd, _, arg = line.partition(" ")
        arg = arg.strip()
        if cmd == "/dtmf":
            bad = [d for d in arg if d not in DTMF_DIGITS]
            if not arg or bad:
                self._write("  usage: /dtmf DIGITS (0-9, *, #)")
                return
            for d in arg:
                self.emit(EventType.DTMF, digit=d)
                self._pending.append(Input(InputKind.DTMF, digit=d))
            self._pending.append(Input(InputKind.KEYS_END))
        elif cmd == "/more":
            if not arg:
                self._write("  usage: /more TEXT")
                return
            self.emit(EventType.FINAL_TRANSCRIPT, text=arg)
            self._pending.append(Input(InputKind.SPEECH, text=arg, gap_ms=0))
        elif cmd == "/silence":
            self._pending.append(Input(InputKind.NO_INPUT))
        elif cmd == "/affect":
            if arg not in ("calm", "rising", "escalate"):
                self._write("  usage: /affect calm|rising|escalate")
                return

            scores = affect_scores(arg)
            self.emit(EventType.AFFECT, level=arg, **scores)
            self._pending.append(Input(InputKind.AFFECT, level=arg, scores=scores))
        elif cmd == "/vars":
            self._write(f"  [vars {json.dumps(self.vars_view(), sort_keys=True, default=str)}]")
        elif cmd in ("/quit", "/exit", "/hangup"):
            self._pending.append(Input(InputKind.HANGUP))
        else:
            self._write(HELP)

    async def transfer(self, request: TransferRequest) -> TransferOutcome:
        self.transfer_request = request
        where = f" via {request.uri}" if request.uri else ""
        self._write(
            f"--> transferred to queue {request.queue!r}{where}"
            f" (tier {request.tier}, priority {request.priority})"
        )
        self._write(f"    the agent sees: {request.context['summary']}")
        if request.uri and request.mode == "bridge":
            self._write(f"    the agent hears first: {request.whisper}")
        self.ended = True
        return TransferOutcome.CONNECTED

    def expect(self, kind: str, words: Sequence[str] = ()) -> None:
        """Typed words need no decoding hint."""

    def set_secure(self, on: bool) -> None:
        pass  # chat keeps no record: what is typed stays on the terminal

    async def hangup(self, reason: str) -> None:
        self.emit(EventType.HANGUP, reason=reason)
        self._write(f"--> the IVR hung up ({reason})")
        self.ended = True

    async def compute(self, fn: Callable[[], Any]) -> Any:
        return fn()

    async def http(self, method: str, url: str, timeout_ms: int, **kwargs: Any) -> Any:
        if self._http is None:
            raise RuntimeError("no HTTP client")
        return await self._http.request(method, url, timeout=timeout_ms / 1000, **kwargs)


def stdin_reader(prompt: str = "you> ") -> Callable[[], Awaitable[str | None]]:
    async def read() -> str | None:
        try:
            return await asyncio.to_thread(input, prompt)
        except EOFError:
            return None

    return read
