"""What a dialplan may say: the verbs, their fields and the top-level sections.

One table drives both the validator (`check.py`) and the published JSON Schema
(`ivr schema`), so editors and `ivr validate` never disagree.
"""

from __future__ import annotations

from ivr.dialplan.spec_globals import GLOBALS
from ivr.dialplan.spec_types import F as F
from ivr.dialplan.spec_types import Spec as Spec

TIERS = ("L1", "L2", "L3")
GATHER_INPUTS = ("intent", "digits", "yes_no", "number", "text")

CHOICE = Spec(
    {
        "goto": F("node", "Node to go to when this choice is taken.", required=True),
        "phrases": F("list:text", "Words a caller may say instead of pressing the key."),
        "say": F("template", "Said before going on."),
    },
    "One menu choice.",
    shorthand="goto",
)

VERBS: dict[str, Spec] = {
    "say": Spec(
        {
            "text": F("template", "What to say (TTS); {caller.name}-style variables allowed.", True),
            "interruptible": F("bool", "Whether caller speech or a key stops it (default true)."),
        },
        "Speak a prompt.",
        shorthand="text",
    ),
    "play": Spec(
        {
            "file": F("file", "A WAV prompt, relative to the dialplan's folder.", True),
            "interruptible": F("bool", "Whether caller speech or a key stops it (default true)."),
        },
        "Play a recorded prompt.",
        shorthand="file",
    ),
    "hold": Spec(
        {
            "seconds": F("int", "The longest the caller holds (then the next step).", True, minimum=1),
            "music": F("file", "A WAV loop, relative to the dialplan's folder (default: a soft tone loop)."),
            "say": F("template", "Said before the music starts."),
        },
        "Put the caller on hold: music played by the telephony layer itself (a held caller costs "
        "almost nothing). A key or words end it early and go through the global handlers (an "
        "'agent', the radar) like any answer.",
        shorthand="seconds",
    ),
    "menu": Spec(
        {
            "prompt": F("template", "The menu's prompt.", True),
            "choices": F(Spec({}, "Choices keyed by DTMF digit.", extra=CHOICE), "Choices by key.", True),
            "retries": F("int", "Re-prompts after no input or no match before `on_failure`.", minimum=0),
            "no_match_prompt": F("template", "Said when the answer matches no choice."),
            "on_failure": F("node", "Where to go when retries run out (default: the agent)."),
        },
        "DTMF and spoken choices together.",
    ),
    "gather": Spec(
        {
            "input": F("text", "What to collect.", True, choices=GATHER_INPUTS),
            "prompt": F("template", "Asked first."),
            "var": F("name", "Variable that receives the value (vars.NAME)."),
            "routes": F("map:node", "input=intent: intent name -> node."),
            "intents": F("list:intent", "input=intent: only these intents count."),
            "requests": F(
                "node",
                "input=yes_no, digits or number: a node with an intent gather; a new request heard"
                ' here instead of the answer ("yes, how much data have I got left", "I don\'t know'
                " it, can I talk to someone\") is routed by that gather's routes.",
            ),
            "knowledge": F(
                "node",
                "input=intent: when the caller's words match a knowledge entry approved in the console"
                " more closely than any intent, say its answer and go here (the dialplan's own"
                " entries are answered where its nodes say `answer`).",
            ),
            "yes": F("node", "input=yes_no: node for yes."),
            "corrects": F(
                "text",
                'input=yes_no after a read-back of a variable ("I heard 4 7 1 1 0 2, is that right?"):'
                ' the variable\'s name. "That\'s it" is then a yes, "that\'s not right" a no, and a no'
                ' that says the right digits ("no, it\'s 471103") sets the variable to them and asks'
                " again (`corrected` on the gather's node).",
            ),
            "no": F("node", "input=yes_no: node for no."),
            "next": F("node", "Node after a valid value (default: the next step)."),
            "min_digits": F("int", "input=digits: fewest digits.", minimum=1),
            "max_digits": F("int", "input=digits: most digits (input ends there).", minimum=1),
            "terminator": F("digit", "input=digits: key that ends the input early."),
            "confirm": F(
                "text",
                'input=digits said aloud: `auto` (default) reads them back ("I heard 4 7 1 1 0 3. Is that'
                ' right?") when the IVR mended what it heard (a correction, a number written twice, a word'
                " that sounds like a digit); `always` reads back every spoken answer; `never` none. A"
                " secure gather never reads back.",
                choices=("auto", "always", "never"),
            ),
            "pattern": F("regex", "The value must match this regular expression."),
            "timeout_ms": F(
                "int", "Audio time of silence after the prompt that counts as no input.", minimum=500
            ),
            "retries": F("int", "Re-prompts after no input or no match before `on_failure`.", minimum=0),
            "no_match_prompt": F("template", "Said when the answer cannot be used."),
            "no_input_prompt": F("template", "Said when the caller says nothing."),
            "on_failure": F("node", "Where to go when retries run out (default: the agent)."),
            "secure": F(
                "bool",
                "The value is used but never stored: keys and words are masked in the record, the"
                " events and the logs, and the value is left out of the agent's summary.",
            ),
        },
        "Collect speech (an intent, yes/no, a number, free text) or digits.",
    ),
    "answer": Spec(
        {
            "question": F("template", "The question (default: what the caller last said)."),
            "min_score": F("number", "Similarity a knowledge entry needs (0-1)."),
            "found": F("node", "Node after an answer (default: the next step)."),
            "not_found": F("node", "Node when the knowledge base has no answer.", True),
        },
        "Answer from the knowledge base (questions -> answer).",
    ),
    "lookup": Spec(
        {
            "url": F("url", "http(s) URL; templates allowed ({config.api_base}/...).", True),
            "method": F("text", "HTTP method.", choices=("GET", "POST")),
            "params": F("map:template", "Query parameters."),
            "body": F("map:template", "JSON body (POST)."),
            "timeout_ms": F("int", "Give up after this many milliseconds.", minimum=50),
            "var": F("name", "Variable that receives the JSON response (vars.NAME).", True),
            "on_error": F("node", "Node when the request fails, times out or is not 2xx.", True),
        },
        "Ask a backend over HTTP.",
    ),
    "set": Spec({}, "Assign variables: NAME: template.", extra="template"),
    "branch": Spec(
        {
            "cases": F("list:case", "Tried in order; the first true `if` wins.", True),
            "else": F("node", "Node when no case is true (default: the next step)."),
        },
        "Choose a node by conditions.",
        shorthand="cases",
    ),
    "transfer": Spec(
        {
            "queue": F("queue", "The human queue.", True),
            "tier": F("text", "Service tier of this route.", choices=TIERS),
            "skill": F("text", "Skill an agent needs."),
            "priority": F("int", "Higher goes first in the queue.", minimum=0),
            "reason": F("template", "Why, for the agent."),
            "say": F("template", "Said to the caller before the transfer."),
        },
        "Warm transfer to a human queue with the call's context.",
    ),
    "hangup": Spec(
        {
            "say": F("template", "Said before hanging up."),
            "reason": F("text", "Recorded with the call."),
        },
        "End the call.",
        shorthand="say",
    ),
    "goto": Spec({"node": F("node", "The node to continue at.", True)}, "Jump.", shorthand="node"),
}

CASE = Spec(
    {
        "if": F("condition", "A condition, e.g. caller.tier == 'vip'.", True),
        "goto": F("node", "Node when it is true.", True),
    },
    "One branch case.",
)

TOP = Spec(
    {
        "name": F("text", "The hotline's name."),
        "version": F("text", "Your version label, shown in the API."),
        "start": F("node", "First node of every call.", True),
        "timezone": F("text", "IANA time zone of the business hours, e.g. Europe/London."),
        "business_hours": F("map:hours", "Open hours by day: mon..sun or mon-fri -> '08:00-20:00'."),
        "after_hours": F("node", "Node for calls outside business hours."),
        "redact": F(
            "list:regex",
            "Patterns masked in everything stored of a call (transcripts, events, logs), besides"
            " card numbers, which are always masked.",
        ),
        "settings": F(
            Spec(
                {
                    "intent_threshold": F("number", "Similarity below which a request is out of scope."),
                    "knowledge_threshold": F(
                        "number",
                        "Similarity a knowledge entry needs to answer at an intent gather (default 0.6).",
                    ),
                    "timeout_ms": F("int", "Default no-input time after a prompt.", minimum=500),
                    "retries": F("int", "Default re-prompts.", minimum=0),
                    "max_failures": F("int", "Failed inputs in a call before the agent.", minimum=1),
                    "noisy_line_prompt": F(
                        "template",
                        "Said once when an answer fails on a noisy line, offering the keypad"
                        " ({call.agent_key}: the key that reaches a person); a second failure then goes"
                        " to a person.",
                    ),
                    "asr_hints": F(
                        "text",
                        'Words and names this dialplan\'s callers say ("bill, SIM card, roaming, Acme"),'
                        " given to the speech recogniser with each utterance so it hears them"
                        ' ("SIM" rather than "sin"). Keep it short: at most 400 characters are used.',
                    ),
                    "act_threshold": F(
                        "number",
                        "The confidence an intent needs before its route does something that cannot be"
                        " taken back (a transfer, a hang-up, a POST), unless the intent says otherwise"
                        " (default 0.5; 0 turns the check off).",
                        minimum=0,
                    ),
                    "clarify_margin": F(
                        "number",
                        "At an intent gather, when the classifier's two likeliest intents (both routed)"
                        " are within this probability of each other, ask which was meant rather than"
                        " guess (default 0.1; 0 turns it off). A keyword match is never asked about.",
                    ),
                    "join_grace_ms": F(
                        "int",
                        "A turn the caller starts this soon after their previous one ended (the"
                        " IVR had just begun to answer) continues it: the two are heard as one turn"
                        " at the gather that heard the first part (default 1200; 0 turns it off).",
                        minimum=0,
                    ),
                }
            ),
            "Defaults.",
        ),
        "queues": F(
            Spec(
                {},
                "Human queues.",
                extra=Spec(
                    {
                        "skills": F("list:text", "Skills of this queue's agents."),
                        "description": F("text", "What the queue handles."),
                        "uri": F(
                            "sipuri",
                            "SIP address of the queue's agent phone or ACD (sip:...). With it a transfer"
                            " dials the agent, whispers the call's summary to the agent only, then bridges"
                            " the caller; without it the call is handed to the agent console.",
                        ),
                        "mode": F(
                            "text",
                            "bridge (default: the IVR stays in the call, records both sides, whispers"
                            " to the agent) or refer (blind SIP transfer: the caller's phone redials).",
                            choices=("bridge", "refer"),
                        ),
                        "ring_timeout_s": F(
                            "int", "Seconds an agent's phone may ring (default 20).", minimum=5
                        ),
                        "strategy": F(
                            "text",
                            "Without a uri, which agent rings: longest_idle (default), ring_all, skill_level.",
                            choices=("longest_idle", "ring_all", "skill_level"),
                        ),
                        "max_wait_s": F(
                            "int",
                            "Longest wait in the queue before the caller is told (default 300).",
                            minimum=10,
                        ),
                        "wrap_up_s": F(
                            "int",
                            "An agent's time after a call before the next rings (default 30).",
                            minimum=0,
                        ),
                        "max_missed": F(
                            "int",
                            "Rings missed in a row before the agent is set away (default 2).",
                            minimum=1,
                        ),
                        "unavailable": F(
                            "template",
                            "Said to the caller when the agent's phone is busy, does not answer or fails.",
                        ),
                    }
                ),
            ),
            "Human queues by name.",
            True,
        ),
        "intents": F(
            Spec(
                {},
                "Intents.",
                extra=Spec(
                    {
                        "examples": F("list:text", "A few ways a caller says it.", True),
                        "description": F("text", "For people."),
                        "ask_as": F(
                            "text",
                            "How the IVR names it when two intents are about as close and it asks which"
                            ' was meant: "Is that about {ask_as}, or {other\'s ask_as}?" (default: the name).',
                        ),
                        "act_threshold": F(
                            "number",
                            "The confidence this intent needs before its route does something that"
                            " cannot be taken back (a transfer, a hang-up, a POST); below it, or from a"
                            " fragment of one or two words, the IVR waits for the rest of the turn, then"
                            ' asks ("Sorry, was that about {ask_as}?"). Default: settings.act_threshold.',
                            minimum=0,
                        ),
                        "keywords": F(
                            "list:text",
                            "Words that settle it whatever topic the caller names ('complain', 'sue'):"
                            " 'complain about my bill' is a complaint, not a bill.",
                        ),
                    }
                ),
            ),
            "What callers may ask, by name, with example phrases ('none' = out of scope).",
        ),
        "knowledge": F(
            "list:kb",
            "Knowledge base for `answer`: questions -> answer.",
        ),
        "knowledge_files": F(
            "list:text",
            "YAML files (relative to the dialplan) whose `knowledge:` list is added to this one,"
            " e.g. what `ivr kb export --out` wrote.",
        ),
        "globals": F(GLOBALS, "Handlers that apply in every node."),
        "nodes": F("map:steps", "The call flow: node name -> list of steps.", True),
    },
    "An IVR dialplan.",
)

KB_ENTRY = Spec(
    {
        "id": F("text", "Entry id.", True),
        "questions": F("list:text", "Ways the question is asked.", True),
        "answer": F("template", "The answer.", True),
    },
    "A knowledge entry.",
)
