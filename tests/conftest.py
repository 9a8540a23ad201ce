"""Shared fixtures: the real models are loaded once per test session."""

from __future__ import annotations

import contextlib
import csv
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "audio_fixtures"
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a test must never reach a model hub


def reference_transcripts() -> dict[str, str]:
    with open(FIXTURES / "transcripts.tsv", encoding="utf-8") as f:
        return {row["file"]: row["transcript"] for row in csv.DictReader(f, delimiter="\t")}


PG_URL = os.environ.get("IVR_TEST_PG_URL", "")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A fresh, empty store: a SQLite file, then a database of the test's own on the throwaway
    PostgreSQL cluster `make test` starts (scripts/with-postgres.sh)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ivr.sqlite3'}"
        return
    if not PG_URL:
        if os.environ.get("IVR_REQUIRE_PG"):
            pytest.fail("IVR_REQUIRE_PG is set but IVR_TEST_PG_URL is not")
        pytest.skip("no PostgreSQL here: `make test` runs these under scripts/with-postgres.sh")
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"ivr_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def store(store_url):
    from ivr.records import Store

    s = Store(store_url)
    yield s
    s.close()


@pytest.fixture(scope="session")
def engines():
    """The real models, loaded once (`.asr`, `.tts`, `.embedder`): for tests of a model itself."""
    from speech.service.models import Models, ServiceSettings

    return Models(ServiceSettings())


@pytest.fixture(scope="session")
def speech_address(engines):
    """A real speech service (the same one `ivr speech` runs) on a private socket, serving the
    session's models; calls in tests reach it through the client, as a worker does."""
    from speech.service.local import LocalService

    with LocalService(models=engines) as local:
        yield local.address


@contextlib.asynccontextmanager
async def call_services(address, radar_model=None):
    """A worker's services (the speech client, the radar), inside the test's event loop."""
    from ivr.call.services import APOLOGY, CallServices
    from speech.service.client import SpeechClient

    client = SpeechClient(address)
    await client.connect(timeout_s=30)
    await client.pin(APOLOGY, 8000)
    try:
        yield CallServices(client, radar_model)
    finally:
        await client.close()


@pytest.fixture(scope="session")
def ivr_cmd() -> list[str]:
    """The installed console script, run as a user runs it."""
    exe = Path(sys.executable).with_name("ivr")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ivr.cli"]


def tone(freq_hz: float, seconds: float, rate: int, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def voiced(seconds: float, rate: int, f0: float = 140.0, level: float = 0.3) -> np.ndarray:
    """A speech-like voiced signal: harmonics of f0 with a formant-ish envelope and 4 Hz syllables."""
    t = np.arange(int(seconds * rate)) / rate
    sig = np.zeros_like(t)
    for k in range(1, 25):
        f = k * f0
        if f >= rate / 2:
            break
        weight = np.exp(-(((f - 500) / 400) ** 2)) + 0.6 * np.exp(-(((f - 1500) / 500) ** 2)) + 0.05
        sig += weight * np.sin(2 * np.pi * f * t)
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t)
    sig = sig * envelope
    return (level * sig / np.max(np.abs(sig))).astype(np.float32)


from tests.browser import chromium  # noqa: E402, F401  (one Playwright per module)

LANES = {"unit", "model", "e2e", "browser"}


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """Every test names its lane (`make test-fast` runs `unit`): an unmarked one is an error."""
    unmarked = [it.nodeid for it in items if not LANES & {m.name for m in it.iter_markers()}]
    if unmarked:
        raise pytest.UsageError(
            f"tests with no lane marker ({', '.join(sorted(LANES))}): {', '.join(unmarked[:5])}"
        )
