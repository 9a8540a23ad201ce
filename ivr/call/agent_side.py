"""The far leg of a bridge, heard too: once the caller is put through to an agent, the agent's
audio goes through its own VAD and recogniser, and each utterance becomes a final transcript
with `speaker` "agent" in the call's record (the caller's side is the call's own pipeline).
No radar: it reads the caller, not the agent.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ivr.call.pipeline import SpeechPipeline
from ivr.events import Event, EventType
from speech.audio import FRAME_MS, AudioFrame

FINISH_S = 15.0
"""How long the call's end waits for the agent's last words to be decoded."""


class FarSide:
    def __init__(self, session: Any, speaker: str = "agent") -> None:
        self.session, self.speaker = session, speaker
        rate = session.transport.sample_rate
        self.rate = rate
        self.pipeline = SpeechPipeline(
            session.call_id,
            rate,
            session.services,
            self._on_event,
            vad=session.settings.vad,
            asr=session.settings.asr,
        )
        self._frames: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._t_ms = 0
        self._task = asyncio.ensure_future(self._run())

    def feed(self, pcm: bytes) -> None:
        self._frames.put_nowait(pcm)

    async def _run(self) -> None:
        while True:
            pcm = await self._frames.get()
            if pcm is None:
                break
            frame = AudioFrame(pcm, self.rate, self._t_ms)
            self._t_ms += FRAME_MS
            await self.pipeline.process(frame)
        await self.pipeline.finish()
        await self.pipeline.settle()

    def _on_event(self, event: Event) -> None:
        if event.type is EventType.FINAL_TRANSCRIPT and str(event.data.get("text", "")).strip():
            self.session.emit(EventType.FINAL_TRANSCRIPT, text=event.data["text"], speaker=self.speaker)
        elif event.type is EventType.ERROR:
            self.session.emit(
                EventType.ERROR, message=f"{self.speaker} side: {event.data['message']}", stage="asr"
            )

    async def close(self) -> None:
        """The call is over: decode what the far side said last, then stop."""
        self._frames.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._task), FINISH_S)
        except TimeoutError:
            self._task.cancel()
