"""A final rescored towards the words the step expects, with the real recogniser: a misheard
word is put right when the audio bears the expected word out, and never otherwise."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from speech.audio import resample, to_pcm16
from speech.rescore import rescore, vocabulary
from speech.service.client import SpeechClient
from speech.service.replies import SpeechError

pytestmark = pytest.mark.model

HINTS = "Acme Mobile, how can I help? What is my bill? Can I use roaming abroad?"
EXPECTED = vocabulary(
    [
        "what's my balance",
        "how much do I owe",
        "how much is roaming in France",
        "how much data have I used",
        "I want to cancel my contract",
    ]
)


def _audio(engines, text: str) -> np.ndarray:
    """`text` said by piper on a phone line (8 kHz), as the recogniser gets it (16 kHz)."""
    return resample(engines.tts.synthesize(text, 8000).astype(np.float32), 8000, 16000)


@pytest.mark.parametrize(
    ("said", "misheard"),
    [
        ("Can you tell me my balance?", "Can you tell me my ballot?"),
        ("OK so, can I use my mobile in France?", "Okay, so can I use my mobile in front?"),
    ],
)
def test_a_misheard_expected_word_is_put_right(engines, said, misheard):
    audio = _audio(engines, said)
    got = rescore(misheard, EXPECTED, lambda texts: engines.asr.log_probs(audio, texts))
    assert got is not None and got.rstrip("?.").lower().endswith(said.split()[-1].rstrip("?.").lower())


@pytest.mark.parametrize(
    "said",
    ["I want to talk to my bank.", "Can I book a table for four?", "My daughter lost her ballet shoes."],
)
def test_words_the_caller_said_are_kept(engines, said):
    audio = _audio(engines, said)
    heard = engines.asr.decode(audio, hints=HINTS).text
    assert rescore(heard, EXPECTED, lambda texts: engines.asr.log_probs(audio, texts)) is None


def test_the_service_rescores_a_final_with_expected_words_and_refuses_bad_ones(engines, speech_address):
    pcm = to_pcm16(engines.tts.synthesize("How much data have I used?", 8000))

    async def go():
        client = SpeechClient(speech_address)
        await client.connect(timeout_s=30)
        try:
            plain = await client.transcribe(pcm, 8000, hints=HINTS, expect=sorted(EXPECTED.values()))
            with pytest.raises(SpeechError, match="expect"):
                await client.transcribe(pcm, 8000, expect=["two words"])
            again = await client.transcribe(pcm, 8000, hints=HINTS)  # the service lives on
            return plain, again
        finally:
            await client.close()

    plain, again = asyncio.run(go())
    assert "data" in plain.text.lower() and plain.heard_as == ""  # heard right: nothing changed
    assert again.text == plain.text
