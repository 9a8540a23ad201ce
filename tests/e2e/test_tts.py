"""Piper TTS: streamed by sentence, cached, heard back by whisper. Category: model."""

from __future__ import annotations

import numpy as np
import pytest

from speech.audio import resample
from speech.utterance import transcribe_utterance
from speech.wer import wer

pytestmark = pytest.mark.model


def test_tts_to_asr_round_trip_at_phone_rate(engines):
    sentence = "Your balance is forty two dollars. Is there anything else I can help you with?"
    audio = engines.tts.synthesize(sentence, 8000)
    assert 3.0 < len(audio) / 8000 < 9.0
    heard = transcribe_utterance(engines.asr, resample(audio, 8000, 16000))
    assert wer(sentence.replace("forty two", "42"), heard) <= 0.15 or wer(sentence, heard) <= 0.15, heard


def test_streams_one_chunk_per_sentence(engines):
    chunks = list(engines.tts.stream("First sentence here. And a second one. A third.", 16000))
    assert len(chunks) == 3
    assert all(c.dtype == np.float32 and len(c) > 1600 for c in chunks)


def test_a_repeated_prompt_comes_from_the_cache(engines):
    text = "Press one for billing, or two for technical support."
    hits = engines.tts.hits
    first = engines.tts.synthesize(text, 8000)
    misses = engines.tts.misses
    again = engines.tts.synthesize(text, 8000)
    assert engines.tts.misses == misses  # nothing synthesised again
    assert engines.tts.hits == hits + 1
    assert np.array_equal(first, again)
    # a different rate is a different prompt
    assert len(engines.tts.synthesize(text, 16000)) == pytest.approx(2 * len(first), rel=0.1)


def test_empty_text_says_nothing(engines):
    assert engines.tts.synthesize("   ", 8000).size == 0


def test_prompts_start_without_piper_s_leading_silence(engines):
    from speech.tts import trim_head

    audio = engines.tts.synthesize("Your balance is", 8000)
    loud = np.nonzero(np.abs(audio) > 0.01)[0]  # -40 dBFS: clearly audible on a phone line
    assert loud[0] < 8000 * 25 // 1000  # heard within 25 ms (piper alone: ~40-60 ms of nothing)
    silence_then_tone = np.concatenate([np.zeros(800, np.float32), np.full(80, 0.2, np.float32)])
    trimmed = trim_head(silence_then_tone, 8000)
    assert len(trimmed) == 80 + 80  # 10 ms kept before the sound, nothing of the sound lost
    assert trim_head(np.zeros(100, np.float32), 8000).size == 100  # all silence: left alone


def test_a_lead_ends_where_its_sound_ends():
    from speech.tts import trim_tail

    tone_then_silence = np.concatenate([np.full(80, 0.2, np.float32), np.zeros(1600, np.float32)])
    assert len(trim_tail(tone_then_silence, 8000)) == 80 + 320  # 40 ms kept after the sound
    assert trim_tail(np.zeros(100, np.float32), 8000).size == 0
