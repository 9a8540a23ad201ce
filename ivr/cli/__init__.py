"""The `ivr` command: the parser (`parser.py`) and the dispatch; each sub-command group has a
module, imported when its command runs."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
from collections.abc import Sequence

from ivr.cli.common import UsageError, fail
from ivr.cli.parser import RADAR_ACTIONS, build_parser

COMMANDS = {
    "replay": "ivr.cli.calls:cmd_replay",
    "chat": "ivr.cli.calls:cmd_chat",
    "validate": "ivr.cli.admin:cmd_validate",
    "schema": "ivr.cli.admin:cmd_schema",
    "directory": "ivr.cli.admin:cmd_directory",
    "reload": "ivr.cli.admin:cmd_reload",
    "radar": "ivr.cli.radar:cmd_radar",
    "calls": "ivr.cli.records:cmd_calls",
    "agents": "ivr.cli.records:cmd_agents",
    "users": "ivr.cli.records:cmd_users",
    "intents": "ivr.cli.intents:cmd_intents",
    "qa": "ivr.cli.learning:cmd_qa",
    "kb": "ivr.cli.learning:cmd_kb",
    "report": "ivr.cli.learning:cmd_report",
    "numbers": "ivr.cli.numbers:cmd_numbers",
    "hosts": "ivr.cli.hosts:cmd_hosts",
    "drain": "ivr.cli.hosts:cmd_drain",
    "call": "ivr.cli.testcall:cmd_call",
    "serve": "ivr.cli.serve:cmd_serve",
    "worker": "ivr.cli.worker:cmd_worker",
    "speech": "ivr.cli.service:cmd_speech",
}
"""Each command's function, by module: a command loads what it runs and nothing else (`ivr
speech` never loads pjsua2 or the API; `ivr --help` answers in ~0.1 s)."""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if (
        argv[:1] == ["radar"]
        and len(argv) > 1
        and argv[1] not in RADAR_ACTIONS
        and argv[1] not in ("-h", "--help")
    ):
        argv.insert(1, "score")  # `ivr radar FILE...` scores, as it always did
    args = build_parser().parse_args(argv)
    module, name = COMMANDS[args.command].split(":")
    try:
        command = getattr(importlib.import_module(module), name)  # the one deferred import: see COMMANDS
        if inspect.iscoroutinefunction(command):
            return int(asyncio.run(command(args)))
        return int(command(args))
    except UsageError as e:
        fail(str(e))
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
