"""`ivr serve`: the hotline on one box (`ivr.app.serve`)."""

from __future__ import annotations

import argparse

from ivr.app.serve import serve
from ivr.cli.common import settings_from


def cmd_serve(args: argparse.Namespace) -> int:
    return serve(settings_from(args), args)
