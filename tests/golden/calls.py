"""The golden calls: every scripted caller in tests/scripts/ and every replay fixture in
audio_fixtures/, run by `ivr replay` against the hotline dialplan at a fixed time, with the
directory of dialplans/callers.csv. Their event logs are kept under tests/golden/logs/; a
refactoring must leave them identical (tests/e2e/test_golden_logs.py).

Write them anew (only when a change of behaviour is meant):
    .venv/bin/python -m tests.golden.calls --write
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.sip_helpers import ivr_exe

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "tests" / "scripts"
FIXTURES = ROOT / "audio_fixtures"
LOGS = Path(__file__).resolve().parent / "logs"
HOTLINE = ROOT / "dialplans" / "hotline.yaml"
AT = "2026-11-24T10:00+00:00"  # a Tuesday morning: the hotline is open
FIXTURE_CALLER = "+447700900003"


def golden_calls() -> Iterator[tuple[str, list[str]]]:
    """(name, the `ivr replay` arguments) of every golden call."""
    for script in sorted(SCRIPTS.glob("*.yaml")):
        yield f"script-{script.stem}", ["--script", str(script)]
    for audio in sorted(p for p in FIXTURES.iterdir() if p.suffix in (".wav", ".flac")):
        yield f"replay-{audio.stem}", [str(audio), "--caller", FIXTURE_CALLER]


def import_directory(data_dir: Path) -> None:
    cmd = [
        *ivr_exe(),
        "directory",
        "import",
        str(ROOT / "dialplans" / "callers.csv"),
        "--data-dir",
        str(data_dir),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def run(args: list[str], data_dir: Path, speech: str) -> str:
    """The call's event log (JSON lines) as `ivr replay --json` prints it."""
    cmd = [
        *ivr_exe(),
        "replay",
        "--dialplan",
        str(HOTLINE),
        "--at",
        AT,
        "--json",
        "--data-dir",
        str(data_dir),
        *args,
    ]
    env = {**os.environ, "IVR_SPEECH": speech, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return "".join(map(_without_cues, proc.stdout.replace(f"{ROOT}/", "").splitlines(keepends=True)))


def _without_cues(line: str) -> str:
    """The log without the radar's `cues` (what its heads read: hundreds of encoder numbers
    whose third decimal moves between CPUs; the scores they give are in the log and compared)."""
    if '"cues"' not in line:
        return line
    e = json.loads(line)
    e.pop("cues", None)
    return json.dumps(e, ensure_ascii=False) + "\n"


FRAME_MS = 20
JITTER_MS = 5 * FRAME_MS
SCORE_JITTER = 0.02
"""A score (anger, valence, an intent's confidence) may move in its second decimal: the same
text embedded in another batch of the speech service's comes out a little different
(measured: a valence of 0.013 against 0.004)."""
UNSTABLE = ("partial_transcript",)
"""Not compared: a partial's words depend on where the audio stood at its decode, so a frame
of jitter changes them; the finals, intents and prompts they lead to are compared."""


def differences(expected: str, got: str) -> list[str]:
    """Where two event logs differ. Everything must be equal but a time in ms (`t_ms`,
    `duration_ms`, ...), which may move by five 20 ms frames. A prompt whose whole text the
    shared speech service has cached plays as one piece; one it has not plays as its cached lead
    (its tail trimmed) and the rest synthesised: a few tens of ms longer or shorter. A scripted
    caller answers when the prompt has ended, so in a long call the shifts add up, and they
    depend on which calls the service spoke for before (the same call run alone three times
    agrees with itself to the frame; between the harness's order and pytest's, 3 of 33 calls
    moved by 40-60 ms). The words, intents, nodes and prompts must be the same."""
    a = [e for e in map(json.loads, expected.splitlines()) if e["type"] not in UNSTABLE]
    b = [e for e in map(json.loads, got.splitlines()) if e["type"] not in UNSTABLE]
    out = []
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if not _same(x, y):
            out.append(f"event {i}: expected {x}, got {y}")
    if len(a) != len(b):
        out.append(f"{len(a)} events expected, {len(b)} got")
    return out


def _same(x: dict, y: dict) -> bool:
    if x.keys() != y.keys():
        return False
    for k, v in x.items():
        w = y[k]
        if k.endswith("_ms") and isinstance(v, int) and isinstance(w, int):
            if abs(v - w) > JITTER_MS:
                return False
        elif isinstance(v, float) and isinstance(w, float):
            if abs(v - w) > SCORE_JITTER:
                return False
        elif v != w:
            return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="write the logs under tests/golden/logs/")
    args = parser.parse_args()
    import tempfile

    from speech.service.local import LocalService
    from speech.service.models import ServiceSettings

    LOGS.mkdir(exist_ok=True)
    changed = 0
    with tempfile.TemporaryDirectory() as tmp, LocalService(ServiceSettings()) as local:
        data = Path(tmp) / "data"
        import_directory(data)
        for name, call_args in sorted(golden_calls()):  # pytest's order: the service caches alike
            log = run(call_args, data, str(local.address))
            path = LOGS / f"{name}.jsonl"
            same = path.exists() and not differences(path.read_text(encoding="utf-8"), log)
            changed += not same
            print(f"{name}: {'same' if same else 'changed'} ({len(log.splitlines())} events)")
            if args.write:
                path.write_text(log, encoding="utf-8")
    return 1 if changed and not args.write else 0


if __name__ == "__main__":
    sys.exit(main())
