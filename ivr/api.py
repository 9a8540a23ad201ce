"""The HTTP API: service status, dialplan status and reload, and the demo billing backend.

The demo billing API (under /demo/billing) is what the shipped hotline dialplan looks
balances, data usage, outages and SIM blocks up in, so `ivr serve` works with nothing
else running. A real deployment points the dialplan's lookups at its own backend.
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import date, timedelta
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ivr.dialplan.manager import DialplanManager


class BlockRequest(BaseModel):
    number: str = Field(min_length=1, max_length=32)
    account: str = Field(default="", max_length=32)


def _seed(account: str) -> int:
    return int(hashlib.sha256(account.encode()).hexdigest()[:8], 16)


def demo_account(account: str) -> dict[str, Any]:
    if not account.isdigit() or len(account) != 6:
        raise HTTPException(404, f"no account {account!r} (demo accounts are 6 digits)")
    s = _seed(account)
    plan = (10, 20, 50)[s % 3]
    used = round((s % 97) / 100 * plan, 1)
    return {
        "account": account,
        "balance": round(10 + (s % 9000) / 100, 2),
        "due_date": (date(2026, 12, 1) + timedelta(days=s % 20)).isoformat(),
        "plan_gb": plan,
        "used_gb": used,
        "area": ("Camden", "Leeds North", "Bristol East", "Glasgow West")[s % 4],
    }


def create_app(manager: DialplanManager | None = None, status: Any = None) -> FastAPI:
    app = FastAPI(title="ivr-hotline", version="0.1.0")
    started = time.time()
    blocks: list[dict[str, str]] = []
    lock = threading.Lock()

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "uptime_s": round(time.time() - started, 1)}

    @app.get("/api/sip")
    def sip_status() -> dict[str, Any]:
        if status is None:
            raise HTTPException(404, "this process runs no SIP")
        return status()

    @app.get("/api/dialplan")
    def dialplan_status() -> dict[str, Any]:
        if manager is None:
            raise HTTPException(404, "no dialplan is loaded")
        return manager.status()

    @app.post("/api/dialplan/reload")
    def dialplan_reload() -> JSONResponse:
        if manager is None:
            raise HTTPException(404, "no dialplan is loaded")
        result = manager.reload()
        body = {"ok": result.ok, "changed": result.changed, **manager.status()}
        if not result.ok:
            body["errors"] = [str(i) for i in result.issues if i.severity == "error"]
        return JSONResponse(body, status_code=200 if result.ok else 422)

    @app.get("/demo/billing/accounts/{account}")
    def account(account: str) -> dict[str, Any]:
        return demo_account(account)

    @app.get("/demo/billing/accounts/{account}/balance")
    def balance(account: str) -> dict[str, Any]:
        a = demo_account(account)
        return {"account": account, "amount": a["balance"], "currency": "GBP", "due_date": a["due_date"]}

    @app.get("/demo/billing/accounts/{account}/usage")
    def usage(account: str) -> dict[str, Any]:
        a = demo_account(account)
        return {
            "account": account,
            "used_gb": a["used_gb"],
            "plan_gb": a["plan_gb"],
            "left_gb": round(a["plan_gb"] - a["used_gb"], 1),
        }

    @app.get("/demo/billing/outages")
    def outages(account: str = "") -> dict[str, Any]:
        if not account:
            return {
                "outage": False,
                "area": None,
                "message": "There are no known network problems right now. Restarting your phone often helps.",
            }
        a = demo_account(account)
        if a["area"] in ("Camden", "Bristol East"):
            return {
                "outage": True,
                "area": a["area"],
                "eta": "6 pm",
                "message": f"There is a known outage in {a['area']}. Engineers expect service back by 6 pm today.",
            }
        return {
            "outage": False,
            "area": a["area"],
            "message": f"There are no known problems in {a['area']}. Restarting your phone often helps.",
        }

    @app.post("/demo/billing/sims/block")
    def block(req: BlockRequest) -> dict[str, Any]:
        digits = "".join(ch for ch in req.number if ch.isdigit())
        if len(digits) < 10:
            raise HTTPException(422, "a mobile number has 10 or 11 digits")
        reference = "B" + hashlib.sha256(digits.encode()).hexdigest()[:6].upper()
        with lock:
            blocks.append({"number": digits, "account": req.account, "reference": reference})
        return {"blocked": True, "number": digits, "reference": reference}

    return app


class BackgroundServer:
    """Serve an app on 127.0.0.1 in a thread (replay and chat use it for lookups)."""

    def __init__(self, app: FastAPI, port: int = 0) -> None:
        import socket

        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", port))
        self.port = sock.getsockname()[1]
        self._sock = sock
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the embedded API did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()
