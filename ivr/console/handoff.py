"""The hand-over to the agent console: a queue with no phone of its own and no ACD in this
process (a replay, a lone worker) hands the call to the console's queue and leaves it."""

from __future__ import annotations

from ivr.conversation import CallControl, TransferOutcome, TransferRequest


class ConsoleHandoff:
    async def hand_over(self, call: CallControl, request: TransferRequest) -> TransferOutcome:
        await call.wait_playback()  # the caller hears the hand-over prompt
        await call.hand_to_console(request.queue)
        return TransferOutcome.CONNECTED
