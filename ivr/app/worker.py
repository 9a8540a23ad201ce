"""`ivr worker`: one process that answers up to 4 SIP calls with the hotline dialplan.

A thin process: pjsua2, the call sessions (VAD, endpointing, the emotion radar, the
dialplan runner), and a client of the machine's speech service (IVR_SPEECH), which holds
the models. Alone (no IVR_SPEECH) it starts a speech service in its own process.

Calls are built by `ivr.call.build` as a replay's are. Each call is recorded to a stereo
WAV (caller left, IVR right) and its events written as JSON lines as they happen, under
DATA_DIR/calls/. The dialplan is hot-reloaded; a call keeps the version it started with.

A worker told to stop (SIGTERM, SIGINT, or its parent's death through PDEATHSIG) stops in
every phase: while it starts (the speech service slow or gone, prompts being synthesised)
its start-up is cancelled; with calls up they are ended and recorded as interrupted. A
stop that does not finish in `STOP_GRACE_S` ends the process all the same.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from ivr.acd.briefing import past_calls
from ivr.acd.callback import CallbackDialer, callback_app
from ivr.acd.engine import Acd
from ivr.acd.waiting import QueueHandoff
from ivr.analytics import metrics
from ivr.app import tls
from ivr.app.children import EXIT_PORT_TAKEN
from ivr.app.lines import Lines
from ivr.app.speech_hosts import store_speech_members
from ivr.call.build import DialplanVersion, build_call, call_record, dialplan_app
from ivr.call.services import CallServices, open_services
from ivr.call.session import App, CallSession
from ivr.dialplan import DialplanError
from ivr.dialplan.dialplans import Dialplans
from ivr.dialplan.prompts import static_prompts
from ivr.kb.live import LiveKnowledge
from ivr.radar.live import LiveRadar
from ivr.records import Store, StoreError, normalize_number
from ivr.settings import SPEECH_HOSTS, Settings
from ivr.telephony.commands import Send
from ivr.telephony.endpoint import Refused, SipEndpoint, SipSettings, SipStartError
from ivr.telephony.handoff import PhoneHandoff
from ivr.telephony.numbers import NumbersError
from ivr.telephony.transport import SipCallTransport
from prosody.radar import RadarModel
from speech.service.replies import SpeechUnavailable

log = logging.getLogger("ivr.worker")

DIRECTORY_WAIT_S = 2.0
"""How long a call's start waits for the directory to say who the caller is."""
STOP_GRACE_S = 20.0
"""A stop that has not ended the process by then (a model request or a store write that
hangs in a thread) ends it with `os._exit`: a worker told to stop never lingers."""


class Worker:
    """The process's SIP endpoint, services and calls, from start-up to stop."""

    def __init__(
        self,
        settings: Settings,
        sip: SipSettings,
        dialplan: str,
        api_base: str,
        hotline: str = "",
        numbers: str = "",
    ) -> None:
        """`hotline`: the Kamailio agents register to (HOST:PORT), through which they are dialled;
        `numbers`: a numbers file (each number its dialplan; others refused), else `dialplan` answers all."""
        self.settings, self.sip, self.dialplan_path, self.api_base = settings, sip, dialplan, api_base
        self.numbers_path = numbers
        self.lines = Lines(numbers)
        self.hotline = hotline or f"{settings.sip_host}:{settings.sip_port}"
        self.calls_dir = Path(settings.data_dir) / "calls"
        self.tasks: set[asyncio.Task[Any]] = set()
        self.stop = asyncio.Event()
        self.ready = False
        self.endpoint: SipEndpoint | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._callbacks = 0

    # -- the process ------------------------------------------------------------------
    async def run(self) -> int:
        """Start, take calls until told to stop, stop. The exit code: 0, 2 (cannot start),
        `EXIT_PORT_TAKEN`."""
        self.loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        assert main is not None

        def on_signal() -> None:
            self.stop.set()
            _exit_after(STOP_GRACE_S)
            if not self.ready:  # still starting: the start-up itself is cancelled
                main.cancel()

        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, on_signal)
        self.calls_dir.mkdir(parents=True, exist_ok=True)
        # the SIP port first: a port another program holds is reported at once (with the port
        # and the reason), before any time is spent on the dialplan and its prompts
        self.endpoint = SipEndpoint(self.sip, self._incoming)
        try:
            self.endpoint.start()
        except SipStartError as e:
            return self._failed(str(e), EXIT_PORT_TAKEN if e.port_taken else 2)
        try:
            members = (
                store_speech_members(self.settings.store, self.settings.speech_secret)
                if self.settings.speech == SPEECH_HOSTS
                else None
            )
            async with open_services(self.settings, (self.sip.sample_rate,), members) as services:
                return await self._serve(services)
        except SpeechUnavailable as e:  # `ivr serve` starts the worker again
            log.error("%s", e)
            return 2
        except DialplanError as e:
            return self._failed(f"{self.dialplan_path}: the dialplan has errors:\n{e}", 2)
        except asyncio.CancelledError:
            if not self.stop.is_set():
                raise
            log.info("stopped while starting")
            return 0
        finally:
            self.endpoint.stop()

    def _failed(self, error: str, code: int) -> int:
        log.error("%s", error)
        print(
            json.dumps({"worker": "failed", "sip": f"{self.sip.host}:{self.sip.port}", "error": error}),
            flush=True,
        )
        return code

    async def _serve(self, services: CallServices) -> int:
        if self.numbers_path:
            try:
                numbers = self.lines.load()
            except (NumbersError, OSError) as e:
                return self._failed(f"{self.numbers_path}: the numbers file cannot be used:\n{e}", 2)
            files = dict(numbers.dialplans)
        else:
            files = {"main": Path(self.dialplan_path)}
        dialplans = await asyncio.to_thread(Dialplans, files, services.embedder)
        try:
            store = await asyncio.to_thread(
                Store, self.settings.store, True, Path(self.settings.data_dir) / "run"
            )
        except StoreError as e:
            return self._failed(str(e), 2)
        try:
            store.writer.observe = metrics.STORE_COMMIT.observe
            dialplans.use_live_knowledge(LiveKnowledge(store.kb, services.embedder))
            self.dialplans, self.store, self.services = dialplans, store, services
            # the queue reads the rules of the dialplans loaded now; a call carries its own version's
            self.acd = Acd(store.engine, dialplans.queue_rules)
            services.agent_uri = f"sip:{{name}}@{self.hotline}"
            services.phone = PhoneHandoff(outside=f"sip:{{number}}@{self.hotline}")
            services.queue = QueueHandoff(self.acd, services.agent_uri, self._past_calls)
            services.desk = store.console
            services.transfers = store.transfers
            radar = LiveRadar(store.radar, RadarModel.load())  # an admin's approval: the next call's model
            services.radar_live = await asyncio.to_thread(radar.start)
            async with httpx.AsyncClient(verify=tls.client_context()) as http:
                self.http = http
                await self._warm_up()
                return await self._take_calls(self.acd)
        finally:
            if services.radar_live is not None:
                await asyncio.to_thread(services.radar_live.stop)
            await asyncio.to_thread(store.close)

    def _past_calls(self, number: str, call_id: str) -> dict[str, Any] | None:
        """The caller's past calls, for the agent's briefing and screen pop (blocking)."""
        return past_calls(self.store.calls, number, call_id)

    async def _warm_up(self) -> None:
        """Every fixed prompt is synthesised (by the speech service) and kept here before calls
        are taken: it then plays at once, also while the service restarts. Meanwhile one
        request to the API: a process's first request imports httpx's transport (~40-50 ms
        here), which would otherwise land in the first lookup."""
        prompts = sorted(
            {t for name in self.dialplans.managers for t in static_prompts(self._version(name).dialplan)}
        )
        pins = (self.services.speech.pin(t, self.sip.sample_rate) for t in prompts)
        await asyncio.gather(self._first_request(), *pins)
        log.info("%d prompts synthesised ahead", len(prompts))

    async def _first_request(self) -> None:
        try:
            await self.http.get(self.api_base, timeout=5)
        except Exception as e:  # refused, timed out: the import is done either way
            log.debug("warm-up request to %s: %s", self.api_base, e)

    async def _take_calls(self, acd: Acd) -> int:
        assert self.endpoint is not None
        self.endpoint.accept_calls()
        self.ready = True
        watcher = asyncio.ensure_future(
            asyncio.gather(
                self.dialplans.watch(),
                self.lines.watch(self.dialplans),
                self.lines.publish(
                    self.dialplans, Path(self.settings.data_dir) / "run" / f"dialplans-{self.sip.port}.json"
                ),
            )
        )
        dialer = CallbackDialer(acd, self.endpoint.room_for_new, self._start_callback)
        dialing = asyncio.ensure_future(dialer.run())
        print(
            json.dumps(
                {"worker": "ready", "sip": f"{self.sip.host}:{self.sip.port}", "rtp": self.sip.rtp_port}
            ),
            flush=True,
        )
        try:
            await self.stop.wait()
        finally:
            watcher.cancel()
            dialer.stopped.set()
            await dialing
            self.endpoint.stop()
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        return 0

    def _version(self, name: str = "") -> DialplanVersion:
        active = self.dialplans.active(name)
        return DialplanVersion(active.dialplan, active.understanding)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- calls ------------------------------------------------------------------------
    def _incoming(self, key: str, caller: str, called: str, command: Send) -> SipCallTransport:  # SIP thread
        assert self.loop is not None and self.endpoint is not None
        transport = SipCallTransport(
            key, caller, self.sip.sample_rate, self.loop, command, recording=self.calls_dir / f"{key}.wav"
        )
        transport.called = called
        numbers = self.lines.numbers
        if numbers is not None:
            route = numbers.dialplan_for(called)
            if route is None:
                raise Refused(404, "Not Found")
            transport.dialplan, line = route
            if line is not None:
                transport.called = line.key
        transport.lines_free = self.endpoint.lines_free  # an agent leg needs a line of this worker
        self.loop.call_soon_threadsafe(self._spawn, self._answer(transport))
        return transport

    async def _answer(self, transport: SipCallTransport) -> None:
        version = self._version(transport.dialplan)
        # a trunk's "07700...", "447700..." or "+447700..." is one caller (the numbers file's region)
        forms = self.lines.numbers.caller_forms(transport.caller) if self.lines.numbers else []
        try:
            caller = await asyncio.wait_for(
                asyncio.to_thread(self.store.directory.caller, transport.caller, *forms), DIRECTORY_WAIT_S
            )
        except Exception as e:  # the store is away or slow: the call goes on, as an unknown caller
            log.error("directory lookup failed: %s", e)
            caller = None
        caller = caller or {
            "number": forms[0] if forms else normalize_number(transport.caller),
            "known": False,
        }
        numbers = self.lines.numbers
        line = numbers.line_for(transport.called) if numbers and transport.called else None
        app = dialplan_app(version, caller, None, self.api_base, line.for_call() if line else None)
        await self._run_call(
            transport, version, caller, app, f"sip:{self.sip.host}:{self.sip.port}", self.settings
        )

    async def _run_call(
        self, transport: SipCallTransport, version: DialplanVersion, caller: dict[str, Any], app: App,
        source: str, settings: Settings, main_speaker: str = "caller",
    ) -> None:  # fmt: skip
        """Record and run one call (answered, or a callback placed from here)."""
        with open(self.calls_dir / f"{transport.call_id}.jsonl", "w", encoding="utf-8") as events_file:
            numbers = self.lines.numbers
            line = numbers.line_for(transport.called) if numbers and transport.called else None
            record = call_record(
                transport.call_id, self.store.writer, version.dialplan, caller=caller, source=source,
                called=(transport.called, line.name if line else "", line.language if line else ""),
                recording=self.calls_dir / f"{transport.call_id}.wav", events_file=events_file,
                on_end=metrics.call_ended,
            )  # fmt: skip
            session = build_call(
                transport, self.services, settings, record, app=app, http=self.http, source=source,
                main_speaker=main_speaker, on_response_ms=metrics.response_ms,
            )  # fmt: skip
            metrics.call_started()
            try:
                await session.run()
            finally:
                transport.close_recording()
                if session.agent:  # the agent's wrap-up starts
                    await asyncio.to_thread(self.acd.call_ended, session.agent)
                if not record.outcome:  # cut short: the worker stops
                    record.interrupted("the worker stopped during the call")
        log.info("call %s with %s ended: %s", transport.call_id, transport.caller, transport.end_reason)

    def _start_callback(self, entry: dict[str, Any], agent: Any) -> None:
        self._spawn(self._callback(entry, agent))

    async def _callback(self, entry: dict[str, Any], agent: Any) -> None:
        """A queued caller called back: the agent's phone is dialled first, then the caller."""
        assert self.loop is not None and self.endpoint is not None
        endpoint, services = self.endpoint, self.services
        self._callbacks += 1
        key = f"{endpoint.epoch}-{self.sip.port}-cb{self._callbacks}"
        transport = SipCallTransport(
            key, entry["number"], self.sip.sample_rate, self.loop, endpoint.commands_for(key),
            recording=self.calls_dir / f"{key}.wav",
        )  # fmt: skip
        transport.lines_free = endpoint.lines_free
        caller = dict((entry.get("context") or {}).get("caller") or {"number": entry["number"]})
        version = self._version()
        rules = self.acd.rules(entry["queue"])
        try:
            history = await asyncio.to_thread(
                self._past_calls, str(caller.get("number") or ""), entry["call_id"]
            )
        except Exception:
            history = None
        callback_uri = self.settings.callback_uri or f"sip:{{number}}@{self.hotline}"
        retry_s = self.settings.callback_retry_s

        number = str(entry["number"])
        if self.lines.numbers is not None and not self.settings.callback_uri:  # out by the trunk: E.164
            number = (self.lines.numbers.caller_forms(number) or [number])[0]

        async def app(session: CallSession) -> None:
            uri = callback_uri.format(number=number)
            await callback_app(session, entry, agent.name, self.acd, uri, rules, retry_s, history)

        headers = {"X-IVR-Callback": entry["call_id"], "X-IVR-Queue": entry["queue"]}
        endpoint.originate(key, services.agent_uri.format(name=agent.name), transport, headers)
        settings = replace(self.settings, radar=False)
        await self._run_call(transport, version, caller, app, "callback", settings, main_speaker="agent")


_EXIT_ARMED = threading.Event()


def _exit_after(seconds: float) -> None:
    """End the process in `seconds` whatever it is doing then (armed once)."""
    if _EXIT_ARMED.is_set():
        return
    _EXIT_ARMED.set()

    def end() -> None:
        log.error("the stop took longer than %.0f s: exiting now", seconds)
        logging.shutdown()
        os._exit(1)

    timer = threading.Timer(seconds, end)
    timer.daemon = True
    timer.start()


async def run_worker(
    settings: Settings, sip: SipSettings, dialplan: str, api_base: str, hotline: str = "", numbers: str = ""
) -> int:
    return await Worker(settings, sip, dialplan, api_base, hotline, numbers).run()
