"""Debian's Chromium driven by Playwright (its own browser download is not used), as the
console's users see it; every request the page makes is kept so a test can check that none
left 127.0.0.1. Screenshots go to IVR_SCREENSHOTS (the README's are taken this way)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = os.environ.get("IVR_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--metrics-recording-only", "--no-pings",
]  # fmt: skip
"""Without the background-networking flags Chromium reaches for Google's hosts at start."""


@pytest.fixture(scope="module")
def chromium():
    """One browser per test module (stopped before the next module's tests, which may run
    asyncio loops of their own in this thread)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


class Page:
    """One user's tab in a fresh browser profile (cookies of its own), with its requests."""

    def __init__(self, browser, base: str, width: int = 1280, height: int = 800, **context) -> None:  # type: ignore[no-untyped-def]
        self.base = base
        self.context = browser.new_context(
            viewport={"width": width, "height": height}, base_url=base, **context
        )
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.frames: list[tuple[float, str]] = []  # (epoch s, payload) of each WebSocket message received
        self.page.on("websocket", self._socket)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _socket(self, ws) -> None:  # type: ignore[no-untyped-def]
        import time

        self.requests.append(ws.url)
        ws.on("framereceived", lambda payload: self.frames.append((time.time(), str(payload)[:300])))

    def sign_in(self, user: str, password: str) -> None:
        self.page.goto("/console/")
        self.page.fill("input[name=user]", user)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")

    def foreign(self) -> list[str]:
        """Requests to anywhere but 127.0.0.1."""
        return [
            u
            for u in self.requests
            if urlparse(u).hostname not in ("127.0.0.1",) and not u.startswith("data:")
        ]

    def shot(self, name: str) -> None:
        out = os.environ.get("IVR_SCREENSHOTS")
        if out:
            Path(out).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(out) / f"{name}.png"), full_page=False)

    def close(self) -> None:
        self.context.close()


def have_browser() -> bool:
    return Path(CHROMIUM).exists() and shutil.which("node") is not None
