"""`ivr worker` and `ivr speech`: the processes `ivr serve` supervises, runnable alone."""

from __future__ import annotations

import argparse
import asyncio

from ivr.cli.common import UsageError, settings_from
from ivr.privacy.redact import install_log_filter


def cmd_worker(args: argparse.Namespace) -> int:
    import logging

    from ivr.app.worker import run_worker
    from ivr.telephony.endpoint import SipSettings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_filter()
    settings = settings_from(args)
    sip = SipSettings(
        host=args.host, port=args.sip_port, rtp_port=args.rtp_port, rtp_ports=200, log_level=args.sip_log
    )
    api_base = args.api_base or f"http://{settings.api_host}:{settings.api_port}"
    return asyncio.run(
        run_worker(settings, sip, args.dialplan or settings.dialplan, api_base, args.hotline or "")
    )


def cmd_speech(args: argparse.Namespace) -> int:
    import logging

    from ivr.call.services import service_settings
    from speech.asr import AsrError
    from speech.embed import IntentModelError
    from speech.service.protocol import Address
    from speech.service.server import run_service
    from speech.tts import TtsError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_filter()
    settings = settings_from(args)
    try:
        address = Address.parse(args.listen)
    except ValueError as e:
        raise UsageError(f"--listen {e}") from None
    try:
        run_service(service_settings(settings), address)
    except (AsrError, TtsError, IntentModelError) as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"cannot listen on {address}: {e.strerror or e}") from None
    return 0
