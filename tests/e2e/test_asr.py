"""Streaming ASR. Category: unit (policy) and model (real whisper on real speech)."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import soundfile as sf

from speech.asr import Decoded
from speech.audio import decode_file, resample
from speech.text import compression_ratio, repeated_tail
from speech.utterance import LocalAgreement
from speech.wer import wer
from tests.conftest import FIXTURES, reference_transcripts


# -- the streaming policy, no model ----------------------------------------------------
def _agreement() -> LocalAgreement:
    return LocalAgreement()


def _hyp(tokens: list[int]) -> Decoded:
    """A hypothesis as the speech service sends it: even ids begin a word, odd ids continue
    one; word k of the text is `w<first token>`."""
    words = []
    for i, t in enumerate(tokens):
        if t % 2 == 0 or i == 0:
            words.append((i, f" w{t}"))
        else:
            words[-1] = (words[-1][0], words[-1][1] + f"+{t}")
    return Decoded(tuple(tokens), "".join(w for _, w in words).strip(), 0.0, 0.0, tuple(words))


@pytest.mark.unit
def test_local_agreement_commits_what_two_hypotheses_share():
    la = _agreement()
    assert la.update(_hyp([10, 12, 14, 16])) == ()  # one hypothesis proves nothing
    assert la.update(_hyp([10, 12, 14, 18, 20])) == (10, 12, 14)
    assert la.committed_text == "w10 w12 w14"
    # a later disagreement never takes back committed words
    assert la.update(_hyp([10, 12, 14, 40])) == (10, 12, 14)
    assert la.update(_hyp([10, 12, 14, 40, 42])) == (10, 12, 14, 40)
    assert la.committed_text == "w10 w12 w14 w40"


@pytest.mark.unit
def test_local_agreement_cuts_at_word_boundaries():
    la = _agreement()
    la.update(_hyp([10, 12, 13, 16]))
    # [10, 12, 13] agree, but 13 continues the word 12 began and the next tokens differ:
    # only whole words whose successor begins a new word in both hypotheses are committed
    assert la.update(_hyp([10, 12, 13, 15])) == (10,)
    assert la.committed_text == "w10"


@pytest.mark.unit
def test_echoed_and_restarted_endings_are_dropped():
    from speech.text import drop_echoed_ending

    assert (
        drop_echoed_ending("And so my fellow Americans. Ask not. Ask not.")
        == "And so my fellow Americans. Ask not."
    )
    assert drop_echoed_ending("And so am I fellow America. And so am I") == "And so am I fellow America."
    assert (
        drop_echoed_ending("ask what you can do for your country") == "ask what you can do for your country"
    )
    assert drop_echoed_ending("no no") == "no no"  # one repeated word is speech
    # a sentence finished, then begun again and cut off (whisper base after the audio ends)
    assert drop_echoed_ending("Dogs are sitting by the door. Dogs") == "Dogs are sitting by the door."
    assert drop_echoed_ending("Kids are talking. Kids are") == "Kids are talking."
    assert drop_echoed_ending("Dogs sit. Dogs sit. Dogs") == "Dogs sit."
    # ... but a new sentence that only shares a word with the first is the caller's
    assert drop_echoed_ending("My bill. Also my data") == "My bill. Also my data"
    assert drop_echoed_ending("My bill is wrong. My") == "My bill is wrong."
    assert drop_echoed_ending("Balance. Data usage") == "Balance. Data usage"


@pytest.mark.unit
def test_repetition_loops_are_recognised():
    assert repeated_tail("Ask not. Ask not. Ask not. Ask not.") == 2
    assert repeated_tail("and so and so and so and") == 2
    assert repeated_tail("ask what you can do for your country") == -1
    assert compression_ratio("and so my " * 30) > 2.4
    assert compression_ratio("ask not what your country can do for you") < 2.4


# -- the real model on real speech -----------------------------------------------------
def replay_json(ivr_cmd, path, *extra):
    proc = subprocess.run(
        [*ivr_cmd, "replay", str(path), "--json", "--greeting", "", *extra],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def finals(events):
    return " ".join(e["text"] for e in events if e["type"] == "final_transcript")


@pytest.mark.model
@pytest.mark.e2e
def test_jfk_transcript_at_native_rate(ivr_cmd):
    events = replay_json(ivr_cmd, FIXTURES / "jfk.flac")
    ref = reference_transcripts()["jfk.flac"]
    assert wer(ref, finals(events)) <= 0.10, finals(events)
    assert all(e["call"] == "jfk.flac" for e in events)


@pytest.mark.model
@pytest.mark.e2e
def test_jfk_transcript_over_8khz_mulaw(ivr_cmd, tmp_path):
    samples, rate = decode_file(FIXTURES / "jfk.flac")
    phone = tmp_path / "jfk_phone.wav"
    sf.write(phone, resample(samples, rate, 8000), 8000, subtype="ULAW")
    assert sf.info(phone).subtype == "ULAW"
    events = replay_json(ivr_cmd, phone)
    assert next(e for e in events if e["type"] == "call_start")["sample_rate"] == 8000
    ref = reference_transcripts()["jfk.flac"]
    assert wer(ref, finals(events)) <= 0.10, finals(events)


@pytest.mark.model
@pytest.mark.e2e
def test_partials_stream_while_the_caller_speaks(ivr_cmd):
    events = replay_json(ivr_cmd, FIXTURES / "cmu_arctic_us_aew_a0002.wav")
    start = next(e for e in events if e["type"] == "speech_start")
    end = next(e for e in events if e["type"] == "speech_end")
    partials = [e for e in events if e["type"] == "partial_transcript"]
    speech_ms = end["t_ms"] - start["t_ms"]
    assert len(partials) >= speech_ms // 600  # at least one per ~0.5 s of speech
    assert all(start["t_ms"] <= p["t_ms"] <= end["t_ms"] for p in partials)
    # partials grow towards the final text, and the committed words are a prefix of it
    final = next(e for e in events if e["type"] == "final_transcript")["text"]
    assert wer(final, partials[-1]["text"]) <= 0.25
    stable = partials[-1]["stable"].lower().strip(" .,")
    assert final.lower().startswith(stable[: max(0, len(stable) - 1)])


@pytest.mark.model
def test_every_fixture_is_heard(engines):
    from speech.utterance import transcribe_utterance

    refs = reference_transcripts()
    for name, ref in refs.items():
        samples, rate = decode_file(FIXTURES / name)
        text = transcribe_utterance(engines.asr, resample(samples, rate, 16000))
        assert wer(ref, text) <= 0.25, (name, text)


@pytest.mark.model
def test_hints_let_the_recogniser_hear_the_hotlines_words(engines):
    """piper's "this month's bill" is heard as "this month spill" by tiny.en at 8 kHz; with the
    hotline's `asr_hints` (sentences its callers say) it is "bill". Hints never reach silence."""
    hints = "Acme Mobile, how can I help? What is my bill? My SIM card is lost."
    voice = engines.tts.synthesize("how much will this month's bill be", 8000)
    x = (
        np.frombuffer(voice, dtype="<i2").astype(np.float32) / 32768
        if isinstance(voice, bytes)
        else np.asarray(voice, np.float32)
    )
    audio = resample(np.concatenate([x, np.zeros(1600, np.float32)]), 8000, 16000)
    assert "bill" in engines.asr.decode(audio, (), hints).text.lower()
    assert engines.asr.decode(np.zeros(16000, np.float32), (), hints).text == ""
    assert len(engines.asr.prompt_for(hints * 20)) < 150  # cut to MAX_HINTS_CHARS (400), not refused


@pytest.mark.model
def test_silence_and_noise_give_no_words(engines):
    rng = np.random.default_rng(3)
    assert engines.asr.decode(np.zeros(16000, np.float32)).text == ""
    noise = (rng.standard_normal(16000) * 0.01).astype(np.float32)
    assert len(engines.asr.decode(noise).text.split()) <= 1


@pytest.mark.unit
def test_a_finished_sentence_reads_complete_and_a_trailing_word_does_not():
    from speech.text import looks_complete

    for text in ("What's my balance?", "Yes.", "No thanks.", "I lost my SIM card!"):
        assert looks_complete(text), text
    for text in (
        "",
        "I want to pay my.",
        "I'd like to, um.",
        "and so",
        "Well...",
        "Check the",
        "Hi.",
        "Hi. Hi.",
    ):
        assert not looks_complete(text), text


@pytest.mark.unit
def test_a_transcript_that_stops_mid_thought_reads_unfinished():
    from speech.text import looks_unfinished

    for text in (
        "I want to complain about my bill,",
        "Yes,",
        "So",
        "and because",
        "I was going to -",
        "Well...",
    ):
        assert looks_unfinished(text), text
    for text in ("", "What's my balance?", "Yes.", "No thanks.", "I lost my SIM card!", "My bill is wrong."):
        assert not looks_unfinished(text), text


def _turn_wav(engines, path, parts: list[tuple[str, float]]):
    """Piper speech at 8 kHz: [(text, seconds of silence after)]."""
    chunks = [np.zeros(4000, np.float32)]
    for text, pause_s in parts:
        chunks += [engines.tts.synthesize(text, 8000), np.zeros(int(pause_s * 8000), np.float32)]
    sf.write(path, np.concatenate(chunks), 8000, subtype="PCM_16")
    return path


@pytest.mark.model
@pytest.mark.e2e
def test_a_finished_sentence_ends_sooner_and_a_paused_one_is_not_cut(ivr_cmd, engines, tmp_path):
    # adaptive endpointing: "complete" after a short pause; mid-sentence pauses still wait
    # (piper ends "my" with ~0.3 s of fading breath: with the 0.08 s gap, a ~0.35 s pause)
    done = replay_json(ivr_cmd, _turn_wav(engines, tmp_path / "done.wav", [("What's my balance?", 1.5)]))
    (end,) = [e for e in done if e["type"] == "speech_end"]
    assert end["reason"] == "complete", end
    assert "balance" in finals(done).lower()
    paused = replay_json(
        ivr_cmd,
        _turn_wav(engines, tmp_path / "paused.wav", [("I want to pay my", 0.08), ("bill please.", 1.5)]),
    )
    ends = [e for e in paused if e["type"] == "speech_end"]
    assert len(ends) == 1, ends
    assert "pay my bill" in finals(paused).lower(), finals(paused)


@pytest.mark.unit
def test_repeated_digits_are_a_number_not_a_loop():
    from speech.text import _trim_loop, drop_echoed_ending

    assert repeated_tail("1 0 0 0 0 2") == -1
    assert _trim_loop("one zero zero zero zero two") == "one zero zero zero zero two"
    assert drop_echoed_ending("my PIN is 1 2 1 2") == "my PIN is 1 2 1 2"
    assert repeated_tail("ask not. ask not. ask not.") == 2  # words still loop
