"""The dialplan's prompts that can be synthesised before any call: the fixed ones, and the
fixed openings of templated ones ("Your balance is" of "Your balance is {vars.bill.amount}
pounds."), which a call plays while the rest is synthesised."""

from __future__ import annotations

from typing import Any

from ivr.dialplan.check import Dialplan

PROMPT_FIELDS = ("text", "prompt", "say", "no_match_prompt", "no_input_prompt", "reprompt", "goodbye")
NOISY_LINE = (
    "Sorry, it's a bit noisy where you are and I can't hear you well. You can use your phone's"
    " keypad to answer, or press {call.agent_key} to talk to a person."
)
"""Said once when an answer fails on a noisy line (the dialplan's `settings.noisy_line_prompt`
replaces it; `{call.agent_key}` is the key that reaches a person)."""


def noisy_line_prompt(dialplan: Dialplan) -> str:
    """The template of the noisy-line prompt (rendered with the call's context)."""
    return str(dialplan.settings.get("noisy_line_prompt") or NOISY_LINE)


def template_lead(template: str, min_words: int = 2) -> str:
    """The fixed words a template opens with: 'Your balance is {amount} pounds.' -> 'Your
    balance is'. Empty without a variable, or when fewer than `min_words` come first."""
    if "{" not in template:
        return ""
    raw = template[: template.index("{")]
    words = raw.split()
    if raw and not raw[-1].isspace():
        words = words[:-1]  # "£{amount}": the word glued to the variable is not fixed
    return " ".join(words) if len(words) >= min_words else ""


def static_prompts(dialplan: Dialplan) -> list[str]:
    """Every prompt of the dialplan that has no variable, and the fixed openings of those
    that do: these can be synthesised ahead."""
    texts: list[str] = []

    def take(value: Any) -> None:
        if isinstance(value, str) and value.strip():
            text = " ".join(value.split()) if "{" not in value else template_lead(value)
            if text:
                texts.append(text)

    for steps in dialplan.nodes.values():
        for step in steps:
            for key in PROMPT_FIELDS:
                take(step.args.get(key))
            for choice in (step.args.get("choices") or {}).values():
                take(choice.get("say"))
    for handler in dialplan.globals.values():
        for key in PROMPT_FIELDS:
            take((handler or {}).get(key))
    for entry in dialplan.knowledge:
        take(entry.get("answer"))
    take(noisy_line_prompt(dialplan))
    texts += [
        "Sorry, I didn't get that.",
        "Sorry, I didn't hear anything.",
        "Of course. Let me connect you to an agent.",
    ]
    return sorted(set(texts))
