"""Several hosts on one machine, for the tests: network namespaces on a bridge.

The bridge lives in a namespace of its own ("hub"); each host is a namespace with one veth
into it and an address in 10.77.0.0/24. Nothing is connected to the machine's own namespace,
so no packet can leave the lab. Processes run in a host with `ip netns exec`; a host "dies"
when every process in its namespace is killed (-9). `down()` removes it all.

The store is a PostgreSQL of the lab's own, in its own host, listening on its address.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path

from tests.sip_helpers import wait_until

SUBNET = "10.77.0"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


class Lab:
    def __init__(self, names: list[str]) -> None:
        self.tag = "ivr" + uuid.uuid4().hex[:5]
        self.hub = f"{self.tag}-hub"
        self.address = {name: f"{SUBNET}.{i + 1}" for i, name in enumerate(names)}
        self.procs: list[subprocess.Popen[bytes]] = []
        _ip("netns", "add", self.hub)
        try:
            _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.hub, "link", "set", "br0", "up")
            for i, name in enumerate(names):
                ns = self.ns(name)
                _ip("netns", "add", ns)
                _ip("-n", ns, "link", "set", "lo", "up")
                _ip(
                    "-n",
                    self.hub,
                    "link",
                    "add",
                    f"p{i}",
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "eth0",
                    "netns",
                    ns,
                )
                _ip("-n", self.hub, "link", "set", f"p{i}", "master", "br0", "up")
                _ip("-n", ns, "addr", "add", f"{self.address[name]}/24", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "up")
        except BaseException:
            self.down()
            raise

    def ns(self, name: str) -> str:
        return f"{self.tag}-{name}"

    def popen(self, host: str, cmd: list[str], log: Path, env: dict[str, str] | None = None,
              user: str = "") -> subprocess.Popen[bytes]:  # fmt: skip
        """A process in `host`, in a session of its own (its group is the host's to kill)."""
        as_user = ["runuser", "-u", user, "--"] if user else []
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(host), *as_user, *cmd],
            stdout=open(log, "ab"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def run(self, host: str, cmd: list[str], env: dict[str, str] | None = None, timeout: float = 60,
            user: str = "") -> subprocess.CompletedProcess[str]:  # fmt: skip
        as_user = ["runuser", "-u", user, "--"] if user else []
        return subprocess.run(
            ["ip", "netns", "exec", self.ns(host), *as_user, *cmd],
            capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
        )  # fmt: skip

    def pids(self, host: str) -> list[int]:
        out = subprocess.run(["ip", "netns", "pids", self.ns(host)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def kill_host(self, host: str) -> None:
        """The machine dies: every process in its namespace gets SIGKILL at once."""

        def gone() -> bool:  # children forked meanwhile are caught by the next round
            for pid in self.pids(host):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return not self.pids(host)

        wait_until(gone, 10, f"every process of {host} killed", interval_s=0.05)

    def down(self) -> None:
        names = [n for n in getattr(self, "address", {})]
        for name in names:
            self.kill_host(name)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for ns in [self.ns(n) for n in names] + [self.hub]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


class LabPostgres:
    """A PostgreSQL cluster of the lab's own in `host`, on its address (trusting the lab's
    subnet only); `stop()`/`start()` for an outage."""

    def __init__(self, lab: Lab, host: str) -> None:
        folder = Path(tempfile.mkdtemp(prefix="ivr-labpg-"))  # not under pytest's root-only folders
        self.lab, self.host, self.dir = lab, host, folder
        self.bin = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1])
        shutil.chown(folder, "postgres")
        self.data = folder / "data"
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
             "-U", "postgres", "--no-sync"], check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        with open(self.data / "pg_hba.conf", "a") as f:
            f.write(f"host all all {SUBNET}.0/24 trust\n")
        self.url = f"postgresql+psycopg://postgres@{lab.address[host]}:5432/postgres"
        self.start()

    def start(self) -> None:
        opts = (f"-c listen_addresses={self.lab.address[self.host]} -c unix_socket_directories={self.dir} "
                "-c fsync=off -c max_connections=300")  # fmt: skip
        done = self.lab.run(
            self.host, [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w",
                        "-o", opts, "start"], user="postgres", timeout=60,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL did not start: {done.stderr}{(self.dir / 'server.log').read_text()}"
            )

    def stop(self) -> None:
        self.lab.run(self.host, [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"],
                     user="postgres", timeout=60)  # fmt: skip

    def remove(self) -> None:
        self.lab.run(self.host, [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                     user="postgres", timeout=60)  # fmt: skip
        shutil.rmtree(self.dir, ignore_errors=True)
