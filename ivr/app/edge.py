"""The numbers file's trunks as Kamailio has them, kept current while `ivr serve` runs.

A trunk's addresses are reread live: an edit of the numbers file that validates rewrites
Kamailio's address list and asks it to reload (`permissions.addressReload`); a broken edit is
logged with where it is wrong and the running list stays. Credentials, proxies, prefixes and
limits are in Kamailio's config: a change to them is logged as taking effect at the next start.
"""

from __future__ import annotations

import logging
from dataclasses import astuple
from pathlib import Path

from ivr.telephony import kamailio, trunk_config
from ivr.telephony.numbers import check_numbers, load_numbers
from ivr.telephony.trunks import Trunk, address_list

log = logging.getLogger("ivr.serve")


class TrunkWatch:
    def __init__(self, numbers_file: str, run_dir: Path) -> None:
        self.file = Path(numbers_file) if numbers_file else None
        self.run_dir = run_dir
        self.trunks: dict[str, Trunk] = load_numbers(self.file).trunks if self.file else {}
        """The trunks Kamailio's config was written with."""
        self.addresses = address_list(self.trunks)
        """The address list Kamailio has loaded."""
        self._stamp = self._mtime()

    def _mtime(self) -> float:
        try:
            return self.file.stat().st_mtime if self.file else 0.0
        except OSError:
            return 0.0

    def poll(self) -> None:
        """Called every half second by the supervisor: cheap unless the file changed."""
        stamp = self._mtime()
        if self.file is None or stamp == self._stamp:
            return
        self._stamp = stamp
        numbers, issues = check_numbers(self.file)
        if numbers is None:
            log.error(
                "%s: not taken, the trunks stay as they were:\n%s", self.file, "\n".join(map(str, issues))
            )
            return
        if not self.trunks:
            if numbers.trunks:
                log.warning("%s: trunks added: they take effect at the next start", self.file)
            return
        addresses = address_list(numbers.trunks)
        if addresses != self.addresses:
            trunk_config.write_address_list(self.run_dir, addresses)
            answered = kamailio.kamcmd(self.run_dir, "permissions.addressReload") is not None
            if answered:
                self.addresses = addresses
            log.info("trunk addresses reloaded: %s", "done" if answered else "kamailio did not answer")
        if _settings(numbers.trunks) != _settings(self.trunks):
            log.warning(
                "%s: trunk credentials, proxies, prefixes or limits changed: "
                "they take effect at the next start",
                self.file,
            )


def _settings(trunks: dict[str, Trunk]) -> dict[str, tuple]:
    """What of each trunk is in Kamailio's config (all but its addresses)."""
    return {n: (t.group, *astuple(t)[3:]) for n, t in trunks.items()}
