"""Fixtures of the end-to-end dialplan tests: the real sentence embedder, the shipped hotline
understood with it, and the demo billing API (a module that needs another hotline defines its
own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.api import BackgroundServer, create_app
from ivr.dialplan import load_dialplan
from ivr.dialplan.understanding import Understanding

HOTLINE = Path(__file__).resolve().parents[2] / "dialplans" / "hotline.yaml"


@pytest.fixture(scope="module")
def embedder(engines):
    return engines.embedder  # the model itself: these calls are typed, not heard


@pytest.fixture(scope="module")
def hotline(embedder):
    dp = load_dialplan(HOTLINE)
    return dp, Understanding.build(dp, embedder)


@pytest.fixture(scope="module")
def api():
    with BackgroundServer(create_app()) as server:
        yield server.base_url
