"""The demo billing backend (under /demo/billing): what the shipped hotline dialplan looks
balances, data usage, outages and SIM blocks up in, so `ivr serve` works with nothing else
running. A real deployment points the dialplan's lookups at its own backend. It is not
under /api and needs no token (it stands for another company's system)."""

from __future__ import annotations

import hashlib
import threading
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field


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


def demo_router() -> APIRouter:
    router = APIRouter(tags=["demo billing"])
    blocks: list[dict[str, str]] = []
    lock = threading.Lock()

    @router.get("/demo/billing/accounts/{account}")
    def account(account: str) -> dict[str, Any]:
        return demo_account(account)

    @router.get("/demo/billing/accounts/{account}/balance")
    def balance(account: str) -> dict[str, Any]:
        a = demo_account(account)
        return {"account": account, "amount": a["balance"], "currency": "GBP", "due_date": a["due_date"]}

    @router.get("/demo/billing/accounts/{account}/usage")
    def usage(account: str) -> dict[str, Any]:
        a = demo_account(account)
        return {
            "account": account,
            "used_gb": a["used_gb"],
            "plan_gb": a["plan_gb"],
            "left_gb": round(a["plan_gb"] - a["used_gb"], 1),
        }

    @router.get("/demo/billing/outages")
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

    @router.post("/demo/billing/sims/block")
    def block(req: BlockRequest) -> dict[str, Any]:
        digits = "".join(ch for ch in req.number if ch.isdigit())
        if len(digits) < 10:
            raise HTTPException(422, "a mobile number has 10 or 11 digits")
        reference = "B" + hashlib.sha256(digits.encode()).hexdigest()[:6].upper()
        with lock:
            blocks.append({"number": digits, "account": req.account, "reference": reference})
        return {"blocked": True, "number": digits, "reference": reference}

    return router
