"""Hearing callers in noise: word errors, split turns and intents per line condition, and what
noise alone makes the IVR do, before (webrtcvad + noise-floor gate, every decode a turn) and
after (Silero VAD, the caller's level as reference, noise judged) in one sitting.

Every item goes through the call's real speech pipeline (VAD, speculative finals, adaptive
endpointing, whisper through the speech service) on a line made by `speech/line.py`: noise at
an SNR (active speech level over noise level), G.711 mu-law, lost packets concealed.

- Per condition: WER of the accepted finals joined; "split" = more than one accepted final for
  one sentence; "lost" = no accepted final; intent = the piper-spoken requests routed right.
- Noise only: 60 s of each noise through a hotline call (a fixed Tuesday morning) at a level
  under a caller's: finals acted on, barge-ins, intents, per minute.
- CPU: the voice detector's cost per call-second.

    .venv/bin/python bench/noise.py --set dev      # tune here
    .venv/bin/python bench/noise.py --set check    # other talkers, other noise: report this
Needs ../shared/data (the speech and noise are not shipped).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import replace
from datetime import datetime

import numpy as np
from common import ROOT
from noise_data import RATE, Item, available, noises, read_speech, spoken_requests
from spoken import joined, turn

from ivr.call.build import DialplanVersion, build_call, dialplan_app
from ivr.call.services import open_services
from ivr.dialplan import load_dialplan
from ivr.dialplan.turns import JOIN_GRACE_MS
from ivr.dialplan.understanding import Understanding
from ivr.events import EventType
from ivr.replay import ReplayTransport
from ivr.settings import Settings
from speech.audio import AudioFrame, to_pcm16
from speech.heard import HearingSettings
from speech.line import phone_line
from speech.vad import Segmenter, VadSettings
from speech.wer import word_errors

FRAME = RATE * 20 // 1000
BEFORE_VAD = VadSettings(
    detector="webrtc", foreground_db=0.0, bed_gate_db=0.0, barge_margin_db=0.0, barge_level_db=-200.0
)  # webrtcvad + the noise-floor gate, as the hotline was before #28
CALLER_DB = -23.0  # a caller's active speech level on the line (nominal telephone speech)
AT = datetime.fromisoformat("2026-11-24T10:00+00:00")


def modes(after_only: bool = False) -> dict[str, tuple[VadSettings, HearingSettings]]:
    after = Settings()
    out = {"before": (BEFORE_VAD, HearingSettings(enabled=False)), "after": (after.vad, after.hearing)}
    return {"after": out["after"]} if after_only else out


def conditions(loss: float) -> list[tuple[str, str | None, float | None, float]]:
    """(label, noise kind, SNR, loss)."""
    out: list[tuple[str, str | None, float | None, float]] = [("clean", None, None, 0.0)]
    out.append((f"clean, {loss:.0%} loss", None, None, loss))
    for kind in ("babble", "coloured"):
        out += [(f"{kind} {snr} dB", kind, snr, loss) for snr in (20, 10, 5, 0)]
    out += [(f"recorded {snr} dB", "recorded", snr, loss) for snr in (10, 5)]
    return out


HINTS = str(load_dialplan(ROOT / "dialplans" / "hotline.yaml").settings.get("asr_hints") or "")


async def finals(services, audio: np.ndarray, vad: VadSettings, hearing: HearingSettings) -> list[dict]:
    """The accepted finals of float `audio`, decoded with the hotline's hints as its calls are."""
    return await turn(services, np.frombuffer(to_pcm16(audio), dtype="<i2"), vad, HINTS, hearing)


async def condition_row(services, matcher, items: list[Item], line, vad, hearing) -> dict[str, float]:
    errors = words = split = lost = intents_ok = requests = 0
    for i, item in enumerate(items):
        got = await finals(services, line(item.audio, i), vad, hearing)
        text = " ".join(f["text"] for f in got)
        e, n = word_errors(item.text, text)
        errors, words = errors + e, words + n
        split += len(got) > 1
        lost += not got
        if item.intent:
            requests += 1
            turn = joined(got, JOIN_GRACE_MS) if got else ""
            intents_ok += bool(turn) and (await asyncio.to_thread(matcher.match, turn)).name == item.intent
    n_items = len(items)
    return {
        "wer": errors / max(1, words),
        "split": split / n_items,
        "lost": lost / n_items,
        "intent": intents_ok / max(1, requests),
    }


async def noise_only(
    services, version, noise: np.ndarray, level_db: float, settings: Settings
) -> dict[str, int]:
    """A minute of noise alone on a hotline call: what the IVR does with it."""
    rng = np.random.default_rng(5)
    start = int(rng.integers(0, max(1, len(noise) - 60 * RATE)))
    bed = np.resize(noise[start:], 60 * RATE)
    audio = phone_line(
        np.zeros(60 * RATE, np.float32), RATE, bed, -level_db, 0.02, seed=5, speech_level_db=0.0
    )
    events: list = []
    transport = ReplayTransport("noise-only", audio, RATE)
    app = dialplan_app(version, None, AT, "http://127.0.0.1:9")
    session = build_call(transport, services, settings, events.append, app=app, deterministic=True)
    await session.run()
    kinds = [e.type for e in events]
    return {
        "finals": sum(1 for e in events if e.type is EventType.FINAL_TRANSCRIPT and e.data["text"].strip()),
        "ignored": sum(1 for e in events if e.type is EventType.FINAL_TRANSCRIPT and e.data.get("ignored")),
        "barge_ins": kinds.count(EventType.BARGE_IN),
        "intents": sum(
            1 for e in events if e.type is EventType.INTENT and e.data["name"] not in ("", "none")
        ),
    }


def vad_cpu(vad: VadSettings, seconds: int = 60) -> float:
    """CPU seconds per call-second of the segmenter alone (the per-frame work in a worker)."""
    rng = np.random.default_rng(1)
    pcm = (rng.standard_normal(seconds * RATE) * 2000).astype("<i2")
    seg = Segmenter(RATE, vad)
    t0 = time.process_time()
    for i in range(0, len(pcm) - FRAME + 1, FRAME):
        seg.process(AudioFrame(pcm[i : i + FRAME].tobytes(), RATE, i * 1000 // RATE))
    return (time.process_time() - t0) / seconds


def services_names(settings: Settings) -> str:
    return "whisper base" if settings.asr.final_model == "base" else settings.asr.final_model or "tiny.en"


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=("dev", "check"), default="dev")
    ap.add_argument("--requests", type=int, default=16, help="piper-spoken requests (intents) per condition")
    ap.add_argument("--limit", type=int, default=0, help="at most this many read sentences (spread)")
    ap.add_argument("--loss", type=float, default=0.02, help="packet loss of the noisy conditions")
    ap.add_argument("--only", default="", help="run only conditions whose label contains this")
    ap.add_argument("--after-only", action="store_true", help="today's hearing only (compare models)")
    args = ap.parse_args()
    if not available():
        raise SystemExit("bench/noise.py needs ../shared/data (speech and noise recordings)")
    settings = replace(Settings.from_env(), greeting="")
    t0 = time.perf_counter()
    ns = noises(args.set)
    read = read_speech(args.set)
    if args.limit:  # spread over the talkers and emotions
        read = [read[round(i * len(read) / args.limit)] for i in range(min(args.limit, len(read)))]
    async with open_services(settings) as services:
        requests = await spoken_requests(services.speech, args.set, args.requests)
        dp = load_dialplan(ROOT / "dialplans" / "hotline.yaml")
        understanding = await asyncio.to_thread(Understanding.build, dp, services.embedder)
        matcher = understanding.matcher
        items = read + requests
        print(
            f"Noise benchmark, set {args.set}: {len(read)} read sentences + {len(requests)} spoken requests;"
            f" finals by {services_names(settings)}"
        )
        print(f"  noise: {ns.names['babble']}; {ns.names['coloured']}; recorded {ns.names['recorded']}")
        print(f"  {'condition':22s} {'mode':7s} {'WER':>6s} {'split':>6s} {'lost':>6s} {'intent':>7s}")
        for label, kind, snr, loss in conditions(args.loss):
            if args.only and args.only not in label:
                continue
            noise = None if kind is None else getattr(ns, kind)

            def line(x: np.ndarray, seed: int, noise=noise, snr=snr, loss=loss) -> np.ndarray:
                return phone_line(x, RATE, noise, snr or 0.0, loss, seed=seed)

            for mode, (vad, hearing) in modes(args.after_only).items():
                row = await condition_row(services, matcher, items, line, vad, hearing)
                print(
                    f"  {label:22s} {mode:7s} {row['wer']:6.1%} {row['split']:6.1%} {row['lost']:6.1%}"
                    f" {row['intent']:7.1%}",
                    flush=True,
                )
        version = DialplanVersion(dp, understanding)
        print("  noise only, 60 s on a hotline call (2% loss): finals acted on / ignored, barge-ins, intents")
        for label, kind, under in (("chatter 15 dB under", "babble", 15), ("chatter 10 dB under", "babble", 10),
                                   (f"{ns.names['coloured']} 10 dB under", "coloured", 10),
                                   ("recorded 10 dB under", "recorded", 10)):  # fmt: skip
            for mode, (vad, hearing) in modes(args.after_only).items():
                got = await noise_only(
                    services,
                    version,
                    getattr(ns, kind),
                    CALLER_DB - under,
                    replace(settings, vad=vad, hearing=hearing),
                )
                print(
                    f"  {label:26s} {mode:7s} finals {got['finals']:2d} / {got['ignored']:2d}, barge-ins"
                    f" {got['barge_ins']:2d}, intents {got['intents']:2d}",
                    flush=True,
                )
    for mode, (vad, _) in modes(args.after_only).items():
        print(f"  segmenter CPU, {mode:6s}: {vad_cpu(vad) * 1000:.1f} ms per call-second")
    print(f"  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    asyncio.run(main())
