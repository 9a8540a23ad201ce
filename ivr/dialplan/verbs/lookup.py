"""`lookup`: an HTTP GET or POST to a backend; the JSON lands in `vars.NAME`, a failure
goes to `on_error`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ivr.dialplan.verbs import verb
from ivr.events import EventType

if TYPE_CHECKING:
    from ivr.dialplan.runner import DialplanRunner


@verb("lookup")
async def lookup(r: DialplanRunner, a: Mapping[str, Any]) -> str | None:
    url = r.render(a["url"])
    params = {k: r.render(v) for k, v in (a.get("params") or {}).items()}
    body = {k: r.render(v) for k, v in (a.get("body") or {}).items()}
    method = a.get("method", "GET")
    kwargs: dict[str, Any] = {"params": params} if params else {}
    if method == "POST":
        kwargs["json"] = body
    if method != "GET":
        r.turns.commit()  # a turn joined after this would re-run it: a payment taken twice
    try:
        response = await r.conv.http(method, url, int(a.get("timeout_ms", 2000)), **kwargs)
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"HTTP {response.status_code}")
        r.state.vars[a["var"]] = response.json()
    except Exception as e:  # any failure of the backend takes the error branch
        r.conv.emit(EventType.ERROR, message=f"lookup {url}: {e}", stage="lookup")
        return str(a["on_error"])
    return None
