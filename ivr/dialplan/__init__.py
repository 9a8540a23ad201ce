"""YAML dialplans: format, validation, and the runner that executes them in a call."""

from ivr.dialplan.check import Dialplan, DialplanError, check_dialplan, load_dialplan
from ivr.dialplan.checker import Issue

__all__ = ["Dialplan", "DialplanError", "Issue", "check_dialplan", "load_dialplan"]
