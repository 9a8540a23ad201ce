"""The speech service's Prometheus metrics (aggregated with the workers' by `ivr serve`, which
runs every process with one PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ASR_QUEUE = Gauge(
    "ivr_asr_queue_depth",
    "Transcriptions waiting for a model lane (finals and partials).",
    ["priority"],
    multiprocess_mode="livemax",
)
ASR_DECODE = Histogram(
    "ivr_asr_decode_seconds",
    "Time one batch of transcriptions took on a model lane.",
    ["priority"],
    buckets=(0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0),
)
ASR_RESCORED = Counter(
    "ivr_asr_rescored_total",
    "Finals heard as a word the step expected, which the audio bore out over greedy decoding's.",
)
TTS_FIRST_AUDIO = Histogram(
    "ivr_tts_first_audio_seconds",
    "A synthesis request to its first sentence of audio (prompts from the cache are not counted).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0),
)
