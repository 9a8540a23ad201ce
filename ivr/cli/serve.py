"""`ivr serve`: the hotline on one box (`ivr.app.serve`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ivr.analytics.multiprocess import prepare_multiprocess
from ivr.cli.common import UsageError, settings_from


def cmd_serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    # one metrics folder for serve and its children, set up before prometheus_client is
    # imported: it picks in-memory or file-backed values when it is imported
    metrics = Path(settings.data_dir).resolve() / "run" / "metrics"
    try:
        prepare_multiprocess(metrics)
    except OSError as e:
        raise UsageError(f"--data-dir {settings.data_dir}: cannot use it ({e.strerror or e})") from None
    from ivr.app.serve import serve  # deferred: after the metrics folder (see above)

    return serve(settings, args)
