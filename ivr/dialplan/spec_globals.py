"""The dialplan's `globals:` section in the schema table: handlers that apply in every node."""

from __future__ import annotations

from ivr.dialplan.spec_types import F, Spec

GLOBALS = Spec(
    {
        "agent": F(
            Spec(
                {
                    "queue": F("queue", "Queue for callers who ask for a human.", True),
                    "say": F("template", "Said before the transfer."),
                    "phrases": F(
                        "list:text",
                        "Words that mean 'a human' (default: agent, human, operator, representative).",
                    ),
                    "digit": F("digit", "Key that means 'a human' (default 0)."),
                }
            ),
            "Say 'agent' or press 0 -> a human, from anywhere.",
        ),
        "escalate": F(
            Spec(
                {
                    "queue": F("queue", "Queue for upset callers.", True),
                    "say": F("template", "The empathy phrase."),
                    "priority": F("int", "Queue priority.", minimum=0),
                }
            ),
            "The emotion radar says 'escalate' -> apologise, priority transfer.",
        ),
        "silence": F(
            Spec(
                {
                    "reprompt": F("template", "Said after the first silence."),
                    "goodbye": F("template", "Said before hanging up on silence."),
                    "limit": F("int", "Silent prompts in a row before goodbye.", minimum=1),
                }
            ),
            "A silent caller is reprompted, then bid goodbye.",
        ),
        "closing": F(
            Spec(
                {
                    "say": F(
                        "template",
                        "Said to a caller who says goodbye at any step ('lovely, thanks, bye',"
                        " 'that's all I needed') before the IVR hangs up.",
                    ),
                }
            ),
            "A caller who says goodbye is let go politely from anywhere; the call ends"
            " resolved when their request was answered.",
        ),
    }
)
