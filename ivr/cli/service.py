"""`ivr speech`: the speech service, the machine's models served to the workers."""

from __future__ import annotations

import argparse
import ipaddress
import logging

from ivr.cli.common import UsageError, settings_from
from ivr.privacy.redact import install_log_filter
from speech.asr import AsrError
from speech.embed import IntentModelError
from speech.service.protocol import Address
from speech.service.server import run_service
from speech.tts import TtsError


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def cmd_speech(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_filter()
    settings = settings_from(args)
    try:
        address = Address.parse(args.listen, settings.speech_secret)
    except ValueError as e:
        raise UsageError(f"--listen {e}") from None
    if address.host and not address.secret and not _loopback(address.host):
        raise UsageError(
            f"--listen {address}: a speech service on the network needs IVR_SPEECH_SECRET "
            "(every client must prove it)"
        )
    try:
        run_service(settings.speech_service(), address)
    except (AsrError, TtsError, IntentModelError) as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"cannot listen on {address}: {e.strerror or e}") from None
    return 0
