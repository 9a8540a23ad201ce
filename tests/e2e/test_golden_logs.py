"""A refactoring changes nothing a caller hears: every golden call (tests/golden/calls.py)
gives the event log recorded before the structure was changed. Category: e2e."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.golden.calls import LOGS, differences, golden_calls, import_directory, run

pytestmark = [pytest.mark.e2e, pytest.mark.model]
CALLS = dict(golden_calls())


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("golden") / "data"
    import_directory(path)
    return path


@pytest.fixture(scope="module")
def replayed(data_dir, speech_address):
    """Every golden call replayed, two at a time (a replay waits on its own model jobs, so
    the same call gives the same log on a busy box): name -> future of its log."""
    pool = ThreadPoolExecutor(2)
    logs = {name: pool.submit(run, CALLS[name], data_dir, str(speech_address)) for name in sorted(CALLS)}
    yield logs
    pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_call_gives_its_golden_event_log(name, replayed):
    expected = (LOGS / f"{name}.jsonl").read_text(encoding="utf-8")
    got = replayed[name].result()
    assert not differences(expected, got), "\n".join(differences(expected, got)[:5])


def test_a_changed_log_is_told_apart():
    """The comparison itself: a changed word or an event six frames late is a difference."""
    log = (LOGS / "script-balance_known.jsonl").read_text(encoding="utf-8")
    assert differences(log, log) == []
    lines = log.splitlines()
    assert differences(log, "\n".join(lines[:-1])), "a missing event"
    assert differences(log, log.replace("Your balance is", "Your balance was")), "a changed word"
    import json

    late = [json.loads(x) for x in lines]
    late[3]["t_ms"] += 120
    assert differences(log, "\n".join(json.dumps(e) for e in late)), "an event six frames late"
    late[3]["t_ms"] -= 20
    assert not differences(log, "\n".join(json.dumps(e) for e in late)), "five frames of jitter"
