"""`ivr serve`: the hotline service on its embedded defaults.

Runs the HTTP API (service and dialplan status, reload, the demo billing backend) and
watches the dialplan file, reloading it when it changes. The SIP side joins it with the
SIP issue.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import replace

from ivr.settings import Settings


def serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from ivr.api import create_app
    from ivr.dialplan import DialplanError
    from ivr.dialplan.manager import DialplanManager
    from ivr.intents import Embedder

    if args.dialplan:
        settings = replace(settings, dialplan=args.dialplan)
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        manager = DialplanManager(settings.dialplan, Embedder())
    except DialplanError as e:
        print(f"ivr: error: {settings.dialplan}: the dialplan has errors:\n{e}", file=sys.stderr)
        return 2
    app = create_app(manager)

    @app.on_event("startup")
    async def _watch() -> None:
        app.state.watcher = asyncio.create_task(manager.watch())

    print(
        f"ivr serve: dialplan {settings.dialplan} ({manager.active.dialplan.name}), API on http://{host}:{port}",
        file=sys.stderr,
    )
    uvicorn.run(app, host=host, port=port, log_level="info")
    return 0
