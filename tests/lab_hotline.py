"""The hotline on several hosts, for the tests and the bench: an edge, two media hosts, two
speech hosts, a PostgreSQL host and a callers' host, each a network namespace (`tests.netns`),
each running `ivr serve --role ...` as an operator would."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.netns import Lab, LabPostgres
from tests.sip_helpers import AGENT_PASSWORD, ROOT, ivr_exe, open_hotline, wait_until

SECRET = "lab-speech-secret-7f3a"
TALK = "+441000000001"
"""The number of the open-hours hotline (a conversation)."""
QUEUE = "+441000000002"
"""The number whose callers go straight to the billing queue."""

NUMBERS = """\
region: GB
dialplans:
  talk: {talk}
  queue: {queue}
numbers:
  "{talk_number}": {{dialplan: talk, name: Talk line}}
  "{queue_number}": {{dialplan: queue, name: Queue line}}
"""

QUEUE_PLAN = """\
name: lab queue
start: main
queues:
  billing:
    skills: [billing]
    ring_timeout_s: 10
    max_missed: 3
    wrap_up_s: 1
    max_wait_s: 300
nodes:
  main:
    - say: Thanks for calling. Let me find someone for you.
    - transfer: {queue: billing, reason: wants to dispute a roaming charge, tier: L2}
"""

HOSTS = ["edge", "media1", "media2", "speech1", "speech2", "store", "caller"]


class LabHotline:
    def __init__(self, tmp: Path, callback_port: int, media_workers: int = 2) -> None:
        self.tmp = tmp
        self.lab = Lab(HOSTS)
        self.a = self.lab.address
        self.pg: LabPostgres | None = None
        try:
            self.pg = LabPostgres(self.lab, "store")
            self._start(callback_port, media_workers)
        except BaseException:
            self.down()
            raise

    # -- bring-up ---------------------------------------------------------------------------
    def env(self, host: str) -> dict[str, str]:
        assert self.pg is not None
        return {
            "IVR_STORE_URL": self.pg.url, "IVR_SPEECH_SECRET": SECRET, "IVR_WS_PORT": "0", "HF_HUB_OFFLINE": "1",
            "IVR_HOST_NAME": host, "IVR_SIP_HOST": self.a[host], "IVR_NUMBERS": str(self.tmp / "numbers.yaml"),
        }  # fmt: skip

    def _start(self, callback_port: int, media_workers: int) -> None:
        (self.tmp / "queue.yaml").write_text(QUEUE_PLAN)
        talk = open_hotline(self.tmp)
        (self.tmp / "numbers.yaml").write_text(
            NUMBERS.format(talk=talk, queue=self.tmp / "queue.yaml", talk_number=TALK, queue_number=QUEUE)
        )
        self.python(
            f"s = Store({self.url!r}); s.agents.add('ann', {AGENT_PASSWORD!r}, ['billing'], realm={self.a['edge']!r}); "
            "s.users.add('admin', 'admin', 'lab-admin-password'); s.close()"
        )
        for name in ("speech1", "speech2"):
            self.start_speech(name)
        self.serve("edge", "edge", {"IVR_API_HOST": self.a["edge"],
                                    "IVR_CALLBACK_URI": f"sip:{{number}}@{self.a['caller']}:{callback_port}"})  # fmt: skip
        for name in ("media1", "media2"):
            self.start_media(name, media_workers, callback_port)
        wait_until(lambda: "ivr serve: dialplan" in self.log("edge"), 240, "the edge", interval_s=0.5)
        wait_until(lambda: len(self.targets()) == 2 * media_workers, 60, "both media hosts in the dispatcher")

    @property
    def url(self) -> str:
        assert self.pg is not None
        return self.pg.url

    def serve(
        self, host: str, role: str, env: dict[str, str] | None = None, *args: str
    ) -> subprocess.Popen[bytes]:
        return self.lab.popen(
            host, [*ivr_exe(), "serve", "--role", role, "--data-dir", str(self.tmp / host),
                   "--dialplan", str(ROOT / "dialplans" / "hotline.yaml"), *args],
            self.tmp / f"{host}.log", {**self.env(host), **(env or {})},
        )  # fmt: skip

    def start_speech(self, name: str) -> None:
        self.serve(name, "speech", {"IVR_SPEECH_LISTEN": f"{self.a[name]}:7100", "IVR_ASR_WORKERS": "1"})

    def start_media(self, name: str, workers: int, callback_port: int) -> None:
        self.serve(
            name, "media",
            {"IVR_EDGE_SIP": f"{self.a['edge']}:5060", "IVR_API_URL": f"https://{self.a['edge']}:8080",
             "IVR_API_CA": str(self.tmp / "edge" / "tls" / "cert.pem"),
             "IVR_CALLBACK_URI": f"sip:{{number}}@{self.a['caller']}:{callback_port}"},
            "--sip-workers", str(workers), "--rtp-port", "40000",
        )  # fmt: skip

    def log(self, host: str) -> str:
        path = self.tmp / f"{host}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def targets(self) -> list[str]:
        """The edge's dispatcher set now (the file Kamailio reloads)."""
        path = self.tmp / "edge" / "run" / "dispatcher.list"
        return path.read_text().split()[1::2] if path.exists() else []

    # -- the store and the CLI, from inside the lab -----------------------------------------
    def python(self, code: str) -> str:
        done = self.lab.run(
            "store", [sys.executable, "-c", "from ivr.records import Store\n" + code],
            env={"PYTHONPATH": str(ROOT)}, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def sql(self, query: str) -> list[dict[str, Any]]:
        """Rows of a read-only query on the lab's store."""
        out = self.python(
            "import json\nfrom sqlalchemy import create_engine, text\n"
            f"e = create_engine({self.url!r})\n"
            f"with e.connect() as c: print(json.dumps([dict(r._mapping) for r in c.execute(text({query!r}))]))"
        )
        return json.loads(out)

    def ivr(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.lab.run("store", [*ivr_exe(), *args], env={"IVR_STORE_URL": self.url}, timeout=60)

    def hosts(self) -> dict[str, dict[str, Any]]:
        done = self.ivr("hosts", "--json")
        assert done.returncode == 0, done.stderr
        return {h["name"]: h for h in json.loads(done.stdout)["hosts"]}

    def wait_sql(self, query: str, check: Any, timeout_s: float, what: str) -> list[dict[str, Any]]:
        box: list[list[dict[str, Any]]] = []

        def ok() -> bool:
            box[:] = [self.sql(query)]
            return bool(check(box[0]))

        try:
            wait_until(ok, timeout_s, what, interval_s=0.5)
        except AssertionError as e:
            raise AssertionError(f"{e}; the last rows: {box[0] if box else None}") from None
        return box[0]

    def down(self) -> None:
        if self.pg is not None:
            self.pg.remove()
        self.lab.down()


def seconds_since(t0: float) -> float:
    return round(time.monotonic() - t0, 2)
