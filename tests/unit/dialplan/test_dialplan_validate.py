"""Dialplan format and validation: good files load, bad files fail with a named error at
file:line:col. Category: unit (no model)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ivr.cli import main
from ivr.dialplan import check_dialplan, load_dialplan
from ivr.dialplan.check import DialplanError
from ivr.dialplan.digits import spoken_digits
from ivr.dialplan.expr import ExprError, compile_condition, evaluate, render, template_paths
from ivr.dialplan.spoken import spoken_number, yes_or_no

pytestmark = pytest.mark.unit
HERE = Path(__file__).resolve().parents[3] / "tests" / "dialplans"
LOCATION = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): .+ \[(?P<code>[A-Z_]+)\]$")

EXPECTED = {
    "unknown_verb.yaml": ("E_UNKNOWN_VERB", 5),
    "unknown_field.yaml": ("E_UNKNOWN_FIELD", 5),
    "wrong_type.yaml": ("E_TYPE", 5),
    "missing_goto_target.yaml": ("E_GOTO_TARGET", 5),
    "unknown_queue.yaml": ("E_UNKNOWN_QUEUE", 5),
    "missing_prompt_file.yaml": ("E_PROMPT_FILE", 5),
    "bad_template_var.yaml": ("E_TEMPLATE_VAR", 5),
    "bad_regex.yaml": ("E_REGEX", 5),
    "bad_url.yaml": ("E_URL", 5),
    "bad_sip_uri.yaml": ("E_SIP_URI", 4),
    "queue_mode_without_uri.yaml": ("E_NEEDS_URI", 4),
    "bad_condition.yaml": ("E_CONDITION", 5),
    "yaml_syntax.yaml": ("E_YAML", 3),
    "unknown_intent.yaml": ("E_UNKNOWN_INTENT", 7),
    "hold_without_seconds.yaml": ("E_MISSING_FIELD", 5),
}


@pytest.mark.parametrize("path", sorted((HERE / "good").glob("*.yaml")), ids=lambda p: p.name)
def test_good_dialplans_load(path, capsys):
    assert main(["validate", str(path)]) == 0
    assert "ok (" in capsys.readouterr().err
    assert load_dialplan(path).nodes


def test_every_bad_file_is_covered():
    assert sorted(p.name for p in (HERE / "bad").glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_dialplans_fail_with_a_named_error(name, capsys):
    path = HERE / "bad" / name
    assert main(["validate", str(path)]) == 1
    lines = [x for x in capsys.readouterr().out.splitlines() if x]
    code, line = EXPECTED[name]
    found = [LOCATION.match(x) for x in lines]
    assert all(found), lines
    assert any(m["code"] == code and int(m["line"]) == line and m["file"] == str(path) for m in found), lines
    with pytest.raises(DialplanError):
        load_dialplan(path)


def test_all_errors_are_reported_at_once(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text(
        "start: main\nqueues: {general: {}}\nnodes:\n  main:\n"
        "    - sya: hi\n    - goto: nowhere\n    - transfer: {queue: sales}\n"
        "    - say: 'Hi {caller.nmae}'\n"
    )
    _, issues = check_dialplan(path)
    codes = sorted(i.code for i in issues if i.severity == "error")
    assert codes == ["E_GOTO_TARGET", "E_TEMPLATE_VAR", "E_UNKNOWN_QUEUE", "E_UNKNOWN_VERB"]
    assert [i.line for i in sorted(issues, key=lambda i: i.line)] == [5, 6, 7, 8]


def test_unreachable_nodes_warn_but_load(tmp_path, capsys):
    path = tmp_path / "orphan.yaml"
    path.write_text("start: main\nqueues: {q: {}}\nnodes:\n  main: [{hangup: bye}]\n  orphan: [{say: hi}]\n")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "warning: node 'orphan' is never reached [W_UNREACHABLE]" in out
    assert "orphan.yaml:5:3" in out


def test_yes_and_no_keys_stay_words(tmp_path):
    """YAML 1.1 reads `yes:` as True; an admin's yes/no gather must still work."""
    path = tmp_path / "yn.yaml"
    path.write_text(
        "start: main\nqueues: {q: {}}\nnodes:\n  main:\n"
        "    - gather: {input: yes_no, yes: a, no: b}\n  a: [{hangup: yes}]\n  b: [{hangup: no}]\n"
    )
    dp = load_dialplan(path)
    assert dp.nodes["main"][0].args["yes"] == "a"
    assert dp.nodes["a"][0].args["say"] == "yes"


def test_business_hours_need_an_after_hours_node(tmp_path):
    path = tmp_path / "h.yaml"
    path.write_text(
        "start: main\nqueues: {q: {}}\nbusiness_hours: {mon-fri: '09:00-17:00'}\nnodes: {main: [{hangup: bye}]}\n"
    )
    _, issues = check_dialplan(path)
    assert any("after_hours" in i.message for i in issues)
    path.write_text("start: main\nqueues: {q: {}}\ntimezone: Mars/Olympus\nnodes: {main: [{hangup: bye}]}\n")
    _, issues = check_dialplan(path)
    assert [i.code for i in issues] == ["E_TIMEZONE"]


def test_schema_is_published(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    verbs = {next(iter(s["properties"])) for s in schema["$defs"]["step"]["oneOf"]}
    assert verbs == {
        "say",
        "hold",
        "play",
        "menu",
        "gather",
        "answer",
        "lookup",
        "set",
        "branch",
        "transfer",
        "hangup",
        "goto",
    }
    assert {"start", "queues", "nodes"} <= set(schema["required"])
    assert schema["additionalProperties"] is False


def test_templates_and_conditions():
    ctx = {"caller": {"name": "Ann", "tier": "vip"}, "vars": {"bill": {"amount": 12.5}}, "call": {"hour": 14}}
    assert render("Hi {caller.name}, you owe {vars.bill.amount} {{GBP}}", ctx) == "Hi Ann, you owe 12.5 {GBP}"
    assert render("{vars.missing.x}!", ctx) == "!"
    assert template_paths("{ caller.name } {{x}}") == ["caller.name"]
    with pytest.raises(ExprError):
        template_paths("{caller name}")
    tree, paths = compile_condition("caller.tier == 'vip' and call.hour >= 12")
    assert evaluate(tree, ctx) and paths == ["caller.tier", "call.hour"]
    assert not evaluate(compile_condition("vars.nothing > 3")[0], ctx)
    assert evaluate(compile_condition("caller.tier in ['vip', 'gold']")[0], ctx)
    for bad in ("open('x')", "caller.tier[0]", "lambda: 1", "x if y else z"):
        with pytest.raises(ExprError):
            compile_condition(bad)


def test_spoken_inputs():
    assert spoken_digits("one zero zero zero zero two") == "100002"
    assert spoken_digits("It's 100 002.") == "100002"
    assert spoken_digits("double seven oh nine") == "7709"
    assert spoken_number("twenty three") == 23
    assert spoken_number("one hundred and five") == 105
    assert spoken_number("nothing") is None
    assert yes_or_no("Yes, please.") is True
    assert yes_or_no("No thanks") is False
    assert yes_or_no("maybe") is None


def test_reload_against_something_that_is_not_the_ivr(capsys):
    import socket
    import threading

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)

        def answer() -> None:
            conn, _ = srv.accept()
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            conn.close()

        threading.Thread(target=answer, daemon=True).start()
        assert main(["reload", "--url", f"http://127.0.0.1:{srv.getsockname()[1]}", "--token", "t"]) == 2
    assert "not as an ivr service" in capsys.readouterr().err


def test_knowledge_files_add_entries_and_a_broken_one_is_named_by_its_own_line(tmp_path):
    path = tmp_path / "kb_plan.yaml"
    path.write_text(
        "start: main\nqueues: {q: {}}\nknowledge_files: [kb.yaml]\nknowledge:\n"
        "  - {id: a, questions: [q a], answer: answer a}\nnodes:\n  main:\n"
        "    - gather: {input: intent, knowledge: main, routes: {}, next: main}\n"
    )
    kb = tmp_path / "kb.yaml"
    kb.write_text(
        "# what ivr kb export wrote\nknowledge:\n  - id: paper_bill\n    questions: [can I get a paper bill]\n    answer: Yes.\n"
    )
    assert [e["id"] for e in load_dialplan(path).knowledge] == ["a", "paper_bill"]
    kb.write_text("knowledge:\n  - id: paper_bill\n    answer: Yes.\n")
    _, issues = check_dialplan(path)
    (issue,) = [i for i in issues if i.severity == "error"]
    assert issue.file.endswith("kb.yaml") and issue.line == 2 and issue.code == "E_MISSING_FIELD"
    kb.unlink()
    _, issues = check_dialplan(path)
    assert any(i.code == "E_READ" and i.line == 3 and "kb.yaml" in i.message for i in issues)


def test_knowledge_applies_to_intent_gathers_only(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text(
        "start: main\nqueues: {q: {}}\nnodes:\n  main:\n    - gather: {input: yes_no, yes: main, no: main, knowledge: main}\n"
    )
    _, issues = check_dialplan(path)
    assert any(i.code == "E_GATHER" and "knowledge applies to input=intent only" in i.message for i in issues)


def test_intent_keywords_load_and_decide_over_the_topic(tmp_path):
    from ivr.nlu.intents import KEYWORD_CONFIDENCE, IntentMatcher

    path = tmp_path / "kw.yaml"
    path.write_text(
        "start: main\nqueues: {q: {}}\nintents:\n  complaint:\n    keywords: [complain, sue]\n    examples: [I am unhappy]\n"
        "  pay_bill:\n    examples: [pay my bill]\nnodes:\n  main: [{hangup: bye}]\n"
    )
    dp = load_dialplan(path)
    assert dp.keywords == {"complaint": ["complain", "sue"]}

    class Fixed:  # a text naming the bill is nearest pay_bill: only the keyword can say complaint
        def embed(self, texts):  # type: ignore[no-untyped-def]
            import numpy as np

            return np.array([[1.0, 0.0] if "bill" in t else [0.0, 1.0] for t in texts], np.float32)

    m = IntentMatcher(Fixed(), dp.intents, 0.5, dp.keywords)
    assert m.match("I want to complain about my bill").name == "complaint"
    assert m.match("I complained twice").confidence >= KEYWORD_CONFIDENCE
    assert m.match("pursue my bill").name == "pay_bill"  # a word inside another is no keyword


def test_ask_as_and_clarify_margin_load_and_bad_ones_are_refused_with_the_line(tmp_path):
    path = tmp_path / "ask.yaml"
    path.write_text(
        "start: main\nqueues: {q: {}}\nsettings: {clarify_margin: 0.2}\nintents:\n  pay_bill:\n"
        "    ask_as: paying your bill\n    examples: [pay my bill]\n  check_balance:\n    examples: [my balance]\n"
        "nodes:\n  main: [{hangup: bye}]\n"
    )
    dp = load_dialplan(path)
    assert dp.ask_as == {"pay_bill": "paying your bill"} and dp.settings["clarify_margin"] == 0.2
    path.write_text(path.read_text().replace("clarify_margin: 0.2", "clarify_margin: lots"))
    _, issues = check_dialplan(path)
    assert any(i.line == 3 and "clarify_margin" in i.message for i in issues), issues
    path.write_text(
        path.read_text()
        .replace("clarify_margin: lots", "clarify_margin: 0.1")
        .replace("ask_as: paying your bill", "ask_as: [a, b]")
    )
    _, issues = check_dialplan(path)
    assert any(i.line == 6 and "ask_as" in i.message for i in issues), issues


def test_yes_or_no_is_read_as_an_answer_to_the_question():
    assert yes_or_no("that's not right") is False and yes_or_no("no, that's wrong") is False
    assert yes_or_no("it isn't correct") is False
    assert yes_or_no("that's it") is False  # to "anything else?": that's everything
    assert yes_or_no("that's it", readback=True) is True  # to "is that right?": it is
    assert (
        yes_or_no("yes that's right", readback=True) is True and yes_or_no("exactly", readback=True) is True
    )
    assert yes_or_no("not bad, thanks, that's all") is False


def test_corrects_applies_to_yes_no_only(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "start: main\nqueues: {q: {}}\nnodes:\n  main:\n    - gather: {input: digits, var: a, corrects: a}\n"
    )
    _, issues = check_dialplan(path)
    assert any(
        i.code == "E_GATHER" and i.line == 5 and "corrects applies to input=yes_no" in i.message
        for i in issues
    ), issues


def test_every_verb_an_admin_may_write_has_a_module_that_runs_it():
    """The schema an admin edits against and the verbs the runner knows are the same set: a verb
    in the spec without a module would load and then fail in a live call."""
    from ivr.dialplan.spec import VERBS
    from ivr.dialplan.verbs import REGISTRY

    assert set(REGISTRY) == set(VERBS)


def test_the_noisy_line_prompt_names_the_agent_key_and_is_checked(tmp_path):
    path = tmp_path / "noisy.yaml"
    body = "start: main\nqueues: {general: {}}\nnodes:\n  main:\n    - say: hi\n"
    path.write_text(
        "settings:\n  noisy_line_prompt: 'Loud there. Press {call.agent_key} for a person.'\n" + body
    )
    _, issues = check_dialplan(path)
    assert [i for i in issues if i.severity == "error"] == []
    path.write_text("settings:\n  noisy_line_prompt: 'Press {digit}.'\n" + body)
    _, issues = check_dialplan(path)
    assert [(i.code, i.line) for i in issues if i.severity == "error"] == [("E_TEMPLATE_VAR", 2)]
