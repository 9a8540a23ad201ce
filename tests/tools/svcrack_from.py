"""Run sipvicious svcrack with its socket bound to one address (0.3.8 ignores its -b option),
so an attack can come from an address of its own: `svcrack_from.py ADDRESS svcrack-args...`."""

from __future__ import annotations

import socket
import sys


def main() -> None:
    address = sys.argv.pop(1)
    bind = socket.socket.bind
    socket.socket.bind = lambda sock, where: bind(sock, (address, where[1]))  # type: ignore[method-assign]
    from sipvicious.svcrack import main as svcrack

    sys.argv[0] = "sipvicious_svcrack"
    svcrack()


if __name__ == "__main__":
    main()
