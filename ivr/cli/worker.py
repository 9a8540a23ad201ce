"""`ivr worker`: one SIP worker process, as `ivr serve` runs several behind Kamailio."""

from __future__ import annotations

import argparse
import asyncio
import logging

from ivr.app.worker import run_worker
from ivr.cli.common import settings_from
from ivr.privacy.redact import install_log_filter
from ivr.telephony.endpoint import SipSettings


def cmd_worker(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_filter()
    settings = settings_from(args)
    sip = SipSettings(
        host=args.host, port=args.sip_port, rtp_port=args.rtp_port, rtp_ports=200, log_level=args.sip_log,
        srtp=settings.srtp or "off",
    )  # fmt: skip
    api_base = args.api_base or f"http://{settings.api_host}:{settings.api_port}"
    return asyncio.run(
        run_worker(
            settings,
            sip,
            args.dialplan or settings.dialplan,
            api_base,
            args.hotline or "",
            args.numbers or settings.numbers,
        )  # fmt: skip
    )
