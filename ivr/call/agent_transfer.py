"""An agent hands a bridged caller on from the console: the worker holding the call reads the
request (`ivr.acd.transfers`), ends the agent's leg (the caller stays), tells the caller, and
puts them back in the queue for the queue's agents or for the one agent named (briefed as any
caller is, with who sent them and why); the caller who cannot be put through is told and never
dropped. How it went is written back and into the call's record."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from ivr.acd.policy import NAMED
from ivr.call.watch import Watch
from ivr.conversation import TransferOutcome
from ivr.events import EventType


class TransferWatch(Watch):
    def __init__(self, session: Any, records: Any, legs: Any) -> None:
        self.records, self.legs = records, legs
        super().__init__(session)

    async def look(self) -> None:
        # only once the hand-over is complete (the queue has marked the agent on the call): a
        # transfer asked during the briefing would otherwise start the agent's wrap-up before
        # the queue marks them on the call, and they would stay "on call"
        if self.legs.bridged and self.s.agent:
            row = await asyncio.to_thread(self.records.to_serve, self.s.call_id)
            if row is not None:
                await self._carry_out(row)

    async def _carry_out(self, row: dict[str, Any]) -> None:
        s = self.s
        before = s.transfer_request
        if before is None:  # only a caller put through from a queue is handed on
            await asyncio.to_thread(self.records.report, row["id"], "failed", "the call came to no queue")
            return
        queue = row["queue"] or before.queue
        target = row["target"]
        why = f"transferred by {row['agent']}" + (f": {row['note']}" if row["note"] else "")
        await asyncio.to_thread(self.records.report, row["id"], "transferring")
        self.legs.release_agent()
        s.agent = ""  # the first agent's wrap-up has started; the next one's follows the call's end
        skill = NAMED + target if target else ""
        s.emit(
            EventType.TRANSFER,
            queue=queue,
            reason=why,
            tier="L2",
            priority=1,
            **({"skill": skill} if skill else {}),
        )
        # not interruptible: a caller talking over it (still talking to the first agent) would
        # cut it and never learn where they are going
        await s.say(f"Please hold: I'm putting you through to {target or 'the ' + queue + ' team'}.",
                    interruptible=False)  # fmt: skip
        acd = getattr(s.services.queue, "acd", None)  # the queue's rules in the dialplan this worker runs
        rules = acd.rules(queue) if acd is not None else replace(before.rules, name=queue)
        request = replace(before, queue=queue, reason=why, tier="L2", priority=1, skill=skill, rules=rules,
                          whisper=f"{why}. {before.whisper}".strip())  # fmt: skip
        outcome = await s.transfer(request)
        if outcome is TransferOutcome.CONNECTED:
            await asyncio.to_thread(self.records.report, row["id"], "done", f"put through to {s.agent}")
            return
        await asyncio.to_thread(self.records.report, row["id"], "failed", str(outcome))
        if outcome is TransferOutcome.CALLBACK:
            await s.hangup(f"callback arranged by {queue}")
            return
        await s.say(
            "I'm sorry, I couldn't put you through just now. We have a note of your call, and someone will "
            "call you back. Goodbye.",
            interruptible=False,
        )
        await s.hangup(f"transfer to {target or queue} {outcome}")
