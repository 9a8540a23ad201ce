"""Runs a dialplan in one call, over any Conversation (a voice call or a text chat).

Every input passes the global handlers first: asking for a human ("agent", or the agent
key) transfers from anywhere; an `escalate` from the emotion radar apologises and
transfers ahead of the queue; repeated silence reprompts, then says goodbye.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ivr.conversation import (
    CLOSED_ANSWERED,
    CLOSED_UNANSWERED,
    Conversation,
    Input,
    InputKind,
    TransferOutcome,
)
from ivr.dialplan.check import Dialplan
from ivr.dialplan.checker import Step
from ivr.dialplan.expr import render
from ivr.dialplan.handover import handover_summary, kb_answer, transfer_request
from ivr.dialplan.hours import is_open
from ivr.dialplan.inputs import CallerGone, Closing
from ivr.dialplan.prompts import noisy_line_prompt, template_lead
from ivr.dialplan.turns import JOIN_GRACE_MS, Rejoin, Turns
from ivr.dialplan.understanding import Understanding
from ivr.dialplan.verbs import END, REGISTRY
from ivr.events import EventType
from ivr.nlu.intents import NONE
from ivr.queues import QueueRules

DEFAULT_AGENT_PHRASES = ("agent", "human", "operator", "representative", "real person", "someone real")
MAX_NODE_VISITS = 200
KEYPAD_OFFER = "You can also key it in on your phone's keypad."


class Handoff(Exception):
    """A global handler fired: hand the call to a human."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind)
        self.kind, self.detail = kind, detail


@dataclass
class CallState:
    vars: dict[str, Any] = field(default_factory=dict)
    intent: dict[str, Any] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=lambda: {"text": "", "digits": ""})
    transcript: list[str] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    failures: int = 0
    silences: int = 0
    noisy_told: bool = False  # the caller was told their line is noisy and offered the keys
    answered: bool = False  # the IVR gave the caller an answer (a say or a knowledge answer)
    waiting: list[tuple[str, float, str]] = field(default_factory=list)  # requests said with an earlier one
    affect: dict[str, Any] = field(default_factory=dict)
    secret: set[str] = field(default_factory=set)  # vars from `secure: true` gathers: never shown


class DialplanRunner:
    """The application of a call: `await runner(conversation)`."""

    def __init__(
        self,
        dialplan: Dialplan,
        understanding: Understanding,
        caller: Mapping[str, Any] | None = None,
        now: datetime | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.dp = dialplan
        self.nlu = understanding
        self.now = now or datetime.now().astimezone()
        self.caller = dict(caller or {})
        self.config = dict(config or {})
        self.line: dict[str, Any] = dict(self.config.pop("line", None) or {})
        """The number called (numbers file): number, name, language, queue, hours."""
        self.state = CallState()
        g = dialplan.globals
        self._agent = g.get("agent") or {}
        phrases = self._agent.get("phrases") or DEFAULT_AGENT_PHRASES
        self._agent_re = re.compile(r"\b(" + "|".join(re.escape(p.lower()) for p in phrases) + r")s?\b")
        self._agent_digit = self._agent.get("digit", "0")
        self._silence = g.get("silence") or {}
        self._escalate = g.get("escalate") or {}
        s = dialplan.settings
        self._timeout_ms = int(s.get("timeout_ms", 6000))
        self._retries = int(s.get("retries", 2))
        self._max_failures = int(s.get("max_failures", 4))
        self.turns = Turns(int(s.get("join_grace_ms", JOIN_GRACE_MS)))  # turns cut mid-thought, joined

    # -- context for templates and conditions --------------------------------------------
    def context(self) -> dict[str, Any]:
        local = self.now.astimezone(ZoneInfo(self.dp.timezone))
        caller = {"number": "", "name": "", "account": "", "tier": "", "known": False} | self.caller
        return {
            "caller": caller,
            "intent": self.state.intent,
            "last": self.state.last,
            "call": {
                "id": self.conv.call_id,
                "hour": local.hour,
                "weekday": local.strftime("%a").lower(),
                "date": local.date().isoformat(),
                "time": local.strftime("%H:%M"),
                "agent_key": self._agent_digit,
                "number": self.line.get("number", ""),
                "line": self.line.get("name", ""),
                "language": self.line.get("language", ""),
            },
            "hours": {"open": is_open(self.dp, self.now, self.line.get("hours"))},
            "vars": self.state.vars,
            "config": self.config,
        }

    def render(self, text: str) -> str:
        return " ".join(render(text, self.context()).split())

    async def speak(self, template: str, interruptible: bool = True) -> None:
        """Say a prompt template; its fixed opening (synthesised ahead) is marked as the lead,
        so the caller hears "Your balance is" while the rest is synthesised."""
        if self.turns.replay is not None:
            return  # a node re-run for a joined turn: the caller has heard its prompts
        await self.conv.say(self.render(template), interruptible=interruptible, lead=template_lead(template))

    def shown_vars(self) -> dict[str, Any]:
        """The call's variables an agent or a record may see (not secure gathers' values)."""
        return {k: v for k, v in self.state.vars.items() if k not in self.state.secret}

    # -- the call -------------------------------------------------------------------------
    async def __call__(self, conv: Conversation) -> None:
        self.conv = conv
        node: str | None = self.dp.start
        if self.dp.after_hours and not is_open(self.dp, self.now, self.line.get("hours")):
            node = self.dp.after_hours
        visits, start = 0, 0
        try:
            while node is not None:
                visits += 1
                if visits > MAX_NODE_VISITS:
                    await conv.hangup("dialplan loop")
                    return
                try:
                    node = await self.run_node(node, start)
                    start = 0
                except Rejoin as r:
                    node, start = self.rejoin(r)
                except Handoff as h:
                    await self.handoff(h)
                    return
                except Closing:
                    await self.close()
                    return
        except CallerGone:
            return

    async def close(self) -> None:
        """The caller said goodbye: say it back and hang up; resolved if they were answered."""
        say = (self.dp.globals.get("closing") or {}).get("say") or "Thank you for calling. Goodbye."
        await self.speak(say, interruptible=False)
        await self.conv.hangup(CLOSED_ANSWERED if self.state.answered else CLOSED_UNANSWERED)

    def rejoin(self, r: Rejoin) -> tuple[str, int]:
        """Back to the state before the step that heard the first part; that step takes the
        whole turn (its prompt is not said again)."""
        name, step, self.state = self.turns.rejoin(r)
        self.conv.emit(EventType.TURN_JOIN, text=r.text, node=name, gap_ms=r.gap_ms)
        return name, step

    async def run_node(self, name: str, start: int = 0) -> str | None:
        if start == 0:
            self.state.path.append(name)
            self.conv.emit(EventType.NODE, name=name)
        steps = self.dp.nodes[name]
        for i in range(start, len(steps)):
            self.turns.at_step(name, i, self.state)  # where a joined turn goes back to
            target = await self.run_step(steps[i])
            if target == END:
                return None
            if target is not None:
                return target
        await self.conv.hangup("end of dialplan")
        return None

    async def run_step(self, step: Step) -> str | None:
        return await REGISTRY[step.verb](self, step.args)

    # -- inputs and the global handlers ------------------------------------------------------
    async def ask(
        self,
        prompt: str | None,
        timeout_ms: int | None = None,
        digits: bool = False,
        complete: Callable[[str], bool] | None = None,
        count_silence: bool = True,
        secure: bool = False,
        answer_expected: bool = True,
    ) -> Input:
        if prompt:
            await self.speak(prompt)
        while True:
            item = self.turns.take_replay() or await self.conv.wait_input(
                timeout_ms or self._timeout_ms, complete, answer_expected=answer_expected
            )
            if item.kind is InputKind.HANGUP:
                raise CallerGone()
            self.turns.heard(item, secure)  # raises Rejoin: the caller was not done with their last turn
            if item.kind is InputKind.KEYS_END:
                continue
            if item.kind is InputKind.AFFECT:
                self.state.affect = {"level": item.level, **item.scores}
                if item.level == "escalate":
                    raise Handoff("escalate", "the caller sounds upset")
                continue  # a calm or rising update is recorded, not an answer
            if item.kind is InputKind.SPEECH:
                if not item.text.strip():
                    continue  # noise the recogniser heard no words in
                if secure:
                    return item  # a secure answer is used, never kept in the call's state
                self.state.transcript.append(item.text)
                self.state.last["text"] = item.text
                if self._agent_re.search(item.text.lower()):
                    raise Handoff("agent", f"caller asked for a person: {item.text!r}")
            if item.kind is InputKind.DTMF and item.digit == self._agent_digit and not digits:
                raise Handoff("agent", f"caller pressed {item.digit}")
            if item.kind is InputKind.NO_INPUT and not count_silence:
                return item  # the end of a hold, not a silent caller
            if item.kind is InputKind.NO_INPUT:
                self.state.silences += 1
                limit = int(self._silence.get("limit", 3))
                if self.state.silences >= limit:
                    await self.speak(self._silence.get("goodbye", "Sorry, I can't hear you. Goodbye."))
                    await self.conv.hangup("silence")
                    raise CallerGone()
            else:
                self.state.silences = 0
            return item

    async def retry(self, args: Mapping[str, Any], item: Input, attempt: int) -> str | None:
        """After a no-input or no-match: a node to go to when out of tries, else None."""
        if item.kind is not InputKind.NO_INPUT:
            self.state.failures += 1
        retries = int(args.get("retries", self._retries))
        if self.conv.line_noisy and item.kind is not InputKind.DTMF:  # keys are not misheard
            if self.state.noisy_told:
                raise Handoff("agent", "noisy line: the IVR could not hear the caller")
            self.state.noisy_told = True
            if self.turns.replay is None:
                await self.conv.say(self.render(noisy_line_prompt(self.dp)), prompt="noisy_line")
            return None
        if attempt >= retries or self.state.failures >= self._max_failures:
            if args.get("on_failure"):
                return str(args["on_failure"])
            raise Handoff("agent", "the IVR could not understand the caller")
        if item.kind is InputKind.NO_INPUT:
            text = (
                args.get("no_input_prompt")
                or self._silence.get("reprompt")
                or "Sorry, I didn't hear anything."
            )
        else:
            text = args.get("no_match_prompt") or "Sorry, I didn't get that."
            if args.get("input") == "digits" and item.kind is InputKind.SPEECH and "key" not in text.lower():
                text += " " + KEYPAD_OFFER  # spoken digits misheard once: the keys are the way
        await self.speak(text)
        return None

    async def handoff(self, h: Handoff) -> None:
        if h.kind == "escalate":
            cfg = self._escalate
            say = cfg.get("say") or "I'm sorry about this. Let me get you to someone who can help right away."
            queue = cfg.get("queue") or self._agent.get("queue") or next(iter(self.dp.queues))
            await self.speak(say)
            await self.transfer(queue, "L3", h.detail, int(cfg.get("priority", 10)), "")
            return
        say = self._agent.get("say") or "Of course. Let me connect you to an agent."
        line_queue = self.line.get("queue") if self.line.get("queue") in self.dp.queues else None
        queue = line_queue or self._agent.get("queue") or next(iter(self.dp.queues))
        await self.speak(say)
        tier = "L2" if (self.state.intent.get("name") not in (None, NONE) or self.state.vars) else "L3"
        await self.transfer(queue, tier, h.detail, 0, "")

    async def transfer(self, queue: str, tier: str, reason: str, priority: int, skill: str) -> None:
        summary = handover_summary(self.context()["caller"], self.state, reason)
        self.conv.emit(
            EventType.TRANSFER,
            queue=queue,
            reason=reason,
            tier=tier,
            priority=priority,
            **({"skill": skill} if skill else {}),
            summary=summary,
        )
        rules = self.dp.queue_rules.get(queue) or QueueRules(queue)
        request = transfer_request(
            rules, queue, tier, reason, priority, skill, self.context()["caller"], self.state, self.shown_vars(), summary,
            assistant=lambda text: kb_answer(self.nlu, text),
        )  # fmt: skip
        outcome = await self.conv.transfer(request)
        if outcome is TransferOutcome.CALLBACK:  # the caller was told and said goodbye to
            await self.conv.hangup(f"callback arranged by {queue}")
            return
        if outcome is not TransferOutcome.CONNECTED:
            # the agent's phone is busy, rang out or failed: the caller is told, never dropped
            say = rules.unavailable or (
                "I'm sorry, I couldn't reach anyone in the team just now. We have a note of what you"
                " told me, and someone will call you back. Goodbye."
            )
            await self.speak(say, interruptible=False)
            await self.conv.hangup(f"transfer to {queue} {outcome}")

    async def say_answer(self, entry: Mapping[str, Any]) -> None:
        """A knowledge entry's answer; its SAY is marked `kb:ID@vN` so its use is counted."""
        self.state.vars["answer_id"] = entry.get("id")
        self.state.answered = True
        label = f"kb:{entry.get('id')}" + (f"@v{entry['version']}" if entry.get("version") else "")
        await self.conv.say(self.render(str(entry["answer"])), prompt=label)
