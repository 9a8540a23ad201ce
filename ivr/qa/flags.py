"""What went wrong in one call, read from its record: named flags, each with evidence and a
weight; the risk score combines them (noisy-or: two weak signs outweigh one, none reaches 1).

Pure: a call's row and events in, flags out (the screener supplies the calls that came after,
for the re-dial flag). The weights are the QA config's (`weights:`), these are the defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_WEIGHTS: Mapping[str, float] = {
    "radar_escalate": 0.6,
    "radar_rising": 0.3,
    "repeated_no_match": 0.35,
    "person_waited": 0.35,
    "person_refused": 0.5,
    "long_silence": 0.2,
    "abandoned_in_queue": 0.5,
    "complaint": 0.35,
    "legal": 0.6,
    "low_confidence_answer": 0.2,
    "caller_repeated": 0.3,
    "negative_after_answer": 0.35,
    "redial_after_resolved": 0.5,
    "failed": 0.4,
    "noisy_line": 0.3,
}
FLAG_NAMES = tuple(DEFAULT_WEIGHTS)

LEGAL = re.compile(r"\b(sue|suing|lawyer|solicitor|legal action|court|ombudsman|trading standards|ofcom)\b")
COMPLAINT = re.compile(
    r"\b(complain|complaint|unacceptable|disgrace|ridiculous|fed up|furious|useless|awful|rubbish)\b"
)
PERSON = re.compile(
    r"\b(agent|human being|operator|representative|real person|"
    r"(speak|talk|put me through|connect me) (to|with) (someone|somebody|a person|a manager|a human|staff|a member of staff))\b"
)  # not "someone" alone: "someone stole my phone" is no request for a person
NEGATIVE = re.compile(
    r"\b(wrong|not what i (asked|said|meant)|doesn'?t help|didn'?t help|useless|no that'?s not|that'?s not right|"
    r"not helpful|makes no sense|rubbish|still (not|doesn'?t|isn'?t))\b"
)
WORDS = re.compile(r"[a-z0-9']+")
SPOKEN_CHARS_PER_S = 15.0  # piper's voice, about 2.7 words a second


@dataclass(frozen=True, slots=True)
class Flag:
    name: str
    weight: float
    evidence: str
    t_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Thresholds:
    """What counts: all audio milliseconds or counts, from the QA config's `thresholds:`."""

    person_wait_ms: int = 120_000
    silence_ms: int = 9_000
    low_confidence: float = 0.55
    no_match_repeats: int = 2
    redial_within_s: float = 24 * 3600
    repeat_similarity: float = 0.7


def risk(flags: Sequence[Flag]) -> float:
    left = 1.0
    for f in flags:
        left *= 1.0 - max(0.0, min(1.0, f.weight))
    return round(1.0 - left, 3)


def _caller_lines(events: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [
        e
        for e in events
        if e["type"] == "final_transcript"
        and e.get("speaker", "caller") == "caller"
        and e.get("text", "").strip()
    ]


def _similar(a: str, b: str) -> float:
    wa, wb = set(WORDS.findall(a.lower())), set(WORDS.findall(b.lower()))
    if len(wa) < 3 or len(wb) < 3:
        return 0.0
    return len(wa & wb) / min(len(wa), len(wb))  # the shorter said again inside the longer


def screen_call(
    call: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    later_calls: Sequence[Mapping[str, Any]] = (),
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    th: Thresholds = Thresholds(),
) -> list[Flag]:
    """The flags of one ended call. `call`: its row (outcome, tier, affect_level, ...);
    `events`: its event log as dicts (type, t_ms, fields); `later_calls`: the same caller's
    calls that started after it (started_at)."""
    s = _Screen(call, events, later_calls, {**DEFAULT_WEIGHTS, **weights}, th, _caller_lines(events))
    for check in (_radar, _understanding, _complaint, _person, _silences, _redial, _noisy):
        check(s)
    return s.flags


@dataclass
class _Screen:
    """One call being screened, and the flags found so far."""

    call: Mapping[str, Any]
    events: Sequence[Mapping[str, Any]]
    later_calls: Sequence[Mapping[str, Any]]
    weights: Mapping[str, float]
    th: Thresholds
    lines: list[Mapping[str, Any]]
    flags: list[Flag] = field(default_factory=list)

    def add(self, name: str, evidence: str, t_ms: int | None = None) -> None:
        if self.weights.get(name, 0) > 0:
            self.flags.append(Flag(name, float(self.weights[name]), evidence, t_ms))


def _radar(s: _Screen) -> None:
    """The radar: a peak (escalate) or a rise over the call."""
    events, add = s.events, s.add
    affects = [e for e in events if e["type"] == "affect"]
    esc = next((e for e in affects if e["level"] == "escalate"), None)
    if esc is not None:
        add(
            "radar_escalate",
            f"radar escalate (anger {float(esc['anger']):.2f}, anxiety {float(esc['anxiety']):.2f})",
            esc["t_ms"],
        )
    elif affects:
        rising = next((e for e in affects if e["level"] == "rising"), None)
        peak = [max(float(e["anger"]), float(e["anxiety"])) for e in affects]
        third = max(1, len(peak) // 3)
        trend = sum(peak[-third:]) / third - sum(peak[:third]) / third
        if rising is not None:
            add("radar_rising", f"radar rising (anger {float(rising['anger']):.2f})", rising["t_ms"])
        elif len(peak) >= 3 and trend >= 0.2:
            add("radar_rising", f"radar trend +{trend:.2f} over the call", affects[-1]["t_ms"])


def _understanding(s: _Screen) -> None:
    """Understanding: no-match again and again, answers given on a guess, the caller saying the same thing again, words against an answer."""
    events, lines, th, add = s.events, s.lines, s.th, s.add
    misses = [e for e in events if e["type"] == "intent" and e["name"] == "none"]
    if len(misses) >= th.no_match_repeats:
        said = "; ".join(repr(e.get("text", "")) for e in misses[:3])
        add("repeated_no_match", f"{len(misses)} utterances matched no intent: {said}", misses[0]["t_ms"])
    weak = [
        e for e in events
        if e["type"] == "intent" and e["name"] != "none" and float(e["confidence"]) < th.low_confidence
    ]  # fmt: skip
    if weak:
        e = weak[0]
        add(
            "low_confidence_answer",
            f"{e['name']} taken at {float(e['confidence']):.2f}: {e.get('text', '')!r}",
            e["t_ms"],
        )

    # the caller saying the same thing again
    for a, b in zip(lines, lines[1:], strict=False):
        if _similar(a["text"], b["text"]) >= th.repeat_similarity:
            add("caller_repeated", f"said twice: {b['text']!r}", b["t_ms"])
            break

    # words after an answer
    answered_at = [
        e["t_ms"] for e in events if e["type"] == "say" and str(e.get("prompt", "")).startswith("kb:")
    ]
    answered_at += [
        e["t_ms"] for e in events if e["type"] == "intent" and e["name"] not in ("none", "agent_request")
    ]
    if answered_at:
        first = min(answered_at)
        after = [e for e in lines if e["t_ms"] > first and NEGATIVE.search(e["text"].lower())]
        if after:
            add("negative_after_answer", f"after an answer: {after[0]['text']!r}", after[0]["t_ms"])


def _complaint(s: _Screen) -> None:
    """A complaint or legal words."""
    events, lines, add = s.events, s.lines, s.add
    text_all = " ".join(e["text"].lower() for e in lines)
    legal = next((e for e in lines if LEGAL.search(e["text"].lower())), None)
    if legal is not None:
        add("legal", f"legal words: {legal['text']!r}", legal["t_ms"])
    complaint = next((e for e in events if e["type"] == "intent" and e["name"] == "complaint"), None)
    if complaint is not None:
        add("complaint", f"complaint: {complaint.get('text', '')!r}", complaint["t_ms"])
    elif COMPLAINT.search(text_all):
        e = next(e for e in lines if COMPLAINT.search(e["text"].lower()))
        add("complaint", f"complaint words: {e['text']!r}", e["t_ms"])


def _person(s: _Screen) -> None:
    """A person: asked for, waited long, or never reached; a caller lost in the queue; a failed call."""
    call, events, th, add = s.call, s.events, s.th, s.add
    asked = next(
        (e for e in events if (e["type"] == "intent" and e["name"] == "agent_request")
         or (e["type"] == "final_transcript" and e.get("speaker", "caller") == "caller" and PERSON.search(e.get("text", "").lower()))
         or (e["type"] == "dtmf" and e.get("digit") == "0")),
        None,
    )  # fmt: skip
    transfers = [e for e in events if e["type"] == "transfer"]
    leaves = [e for e in events if e["type"] == "queue_leave"]
    wait_ms = max((int(e.get("wait_ms") or 0) for e in leaves), default=0)
    if asked is not None:
        if not transfers:
            add(
                "person_refused",
                f"asked for a person ({asked.get('text') or 'key 0'!r}) and was not put through",
                asked["t_ms"],
            )
        elif wait_ms >= th.person_wait_ms or (call.get("outcome") == "abandoned" and leaves):
            add("person_waited", f"asked for a person and waited {wait_ms / 1000:.0f} s", asked["t_ms"])

    if call.get("outcome") == "abandoned" and (transfers or any(e["type"] == "queue_join" for e in events)):
        add(
            "abandoned_in_queue",
            f"hung up in the {call.get('queue') or 'agent'} queue after {wait_ms / 1000:.0f} s",
            leaves[-1]["t_ms"] if leaves else None,
        )
    if call.get("outcome") in ("failed", "interrupted"):
        add("failed", f"{call.get('outcome')}: {call.get('end_reason', '')}")


def _noisy(s: _Screen) -> None:
    """A line too noisy to hear the caller: the IVR said so, or judged two utterances noise."""
    told = next((e for e in s.events if e["type"] == "say" and e.get("prompt") == "noisy_line"), None)
    ignored = [e for e in s.events if e["type"] == "final_transcript" and e.get("ignored")]
    if told is not None or len(ignored) >= 2:
        at = told["t_ms"] if told is not None else ignored[1]["t_ms"]
        add_told = "; the caller was told and offered the keys" if told is not None else ""
        s.add("noisy_line", f"noisy line: {len(ignored)} utterance(s) judged noise{add_told}", at)


def _silences(s: _Screen) -> None:
    """Long silences while the IVR waited: from the end of its prompt (a SAY is logged when queued, so its length is estimated from its words) to the caller's next sound; not after a hand-over."""
    events, th, add = s.events, s.th, s.add
    stop = next((e["t_ms"] for e in events if e["type"] in ("transfer", "queue_join", "hold")), None)
    busy_until, heard, long = 0.0, 0.0, []
    for e in events:
        if stop is not None and e["t_ms"] >= stop:
            break
        if e["type"] == "say":
            busy_until = (
                max(busy_until, float(e["t_ms"])) + len(str(e.get("text", ""))) * 1000 / SPOKEN_CHARS_PER_S
            )
        elif e["type"] == "barge_in":
            busy_until = float(e["t_ms"])
        elif e["type"] in ("speech_start", "dtmf"):
            quiet_from = max(busy_until, heard)
            if e["t_ms"] - quiet_from >= th.silence_ms:
                long.append((int(e["t_ms"] - quiet_from), int(quiet_from)))
            heard = float(e["t_ms"])
    if long:
        gap, at = max(long)
        add("long_silence", f"{gap / 1000:.0f} s of silence after a prompt ({len(long)} such)", at)


def _redial(s: _Screen) -> None:
    """Resolved by the AI, yet the caller called again."""
    call, th, add = s.call, s.th, s.add
    later_calls = s.later_calls
    if call.get("outcome") == "ai_resolved" and later_calls:
        started = float(call.get("started_at") or 0)
        again = [c for c in later_calls if 0 < float(c["started_at"]) - started <= th.redial_within_s]
        if again:
            hours = (float(again[0]["started_at"]) - started) / 3600
            add("redial_after_resolved", f"called again {hours:.1f} h later (call {again[0]['id']})")


def facts(call: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What analytics keeps of a call's events: intents, unmatched utterances, the node it
    ended in, knowledge answers, when the radar escalated."""
    intents = [e for e in events if e["type"] == "intent"]
    kb = [
        {"entry": str(e["prompt"])[3:], "t_ms": e["t_ms"]}
        for e in events
        if e["type"] == "say" and str(e.get("prompt", "")).startswith("kb:")
    ]
    nodes = [e["name"] for e in events if e["type"] == "node"]
    esc = next((e["t_ms"] for e in events if e["type"] == "affect" and e["level"] == "escalate"), None)
    return {
        "intents": [e["name"] for e in intents],
        "first_intent": next(
            (e["name"] for e in intents if e["name"] != "none"), intents[0]["name"] if intents else ""
        ),
        "unmatched": [e.get("text", "") for e in intents if e["name"] == "none" and e.get("text")][:5],
        "last_node": nodes[-1] if nodes else "",
        "kb": kb,
        "escalated_ms": esc,
    }
