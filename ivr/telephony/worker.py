"""`ivr worker`: one process that answers up to 4 SIP calls with the hotline dialplan.

A thin process: pjsua2, the call sessions (VAD, endpointing, the emotion radar, the
dialplan runner), and a client of the machine's speech service (IVR_SPEECH), which holds
the models. Alone (no IVR_SPEECH) it starts a speech service in its own process.

Calls use the same CallSession and DialplanRunner as a replay. Each call is recorded to
a stereo WAV (caller left, IVR right) and its events written as JSON lines as they
happen, under DATA_DIR/calls/. The dialplan is hot-reloaded; a call keeps the version it
started with.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

from ivr.settings import Settings
from ivr.telephony.endpoint import SipEndpoint, SipSettings, SipStartError

log = logging.getLogger("ivr.worker")

DIRECTORY_WAIT_S = 2.0
"""How long a call's start waits for the directory to say who the caller is."""

EXIT_PORT_TAKEN = 3
"""The worker's exit code when its SIP port cannot be bound (`ivr serve` moves it)."""


async def _warm_up(http: Any, url: str) -> None:
    try:
        await http.get(url, timeout=5)
    except Exception as e:  # refused, timed out: the import is done either way
        log.debug("warm-up request to %s: %s", url, e)


async def run_worker(settings: Settings, sip: SipSettings, dialplan: str, api_base: str, hotline: str = "") -> int:
    """`hotline`: the Kamailio agents register to (HOST:PORT), through which agents are dialled."""
    hotline = hotline or f"{settings.sip_host}:{settings.sip_port}"
    import httpx

    from ivr.acd.briefing import past_calls
    from ivr.acd.callback import CallbackDialer, callback_app
    from ivr.analytics import metrics
    from ivr.call.record import CallRecord
    from ivr.call.services import open_services
    from ivr.call.session import CallSession
    from ivr.dialplan.manager import DialplanManager
    from ivr.dialplan.prompts import static_prompts
    from ivr.dialplan.runner import DialplanRunner
    from ivr.store import Store, StoreError, normalize_number
    from ivr.telephony.transport import SipCallTransport

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    calls_dir = Path(settings.data_dir) / "calls"
    calls_dir.mkdir(parents=True, exist_ok=True)
    tasks: set[asyncio.Task[Any]] = set()
    handlers: dict[str, Any] = {}

    def make_transport(key: str, caller: str, command: Any) -> SipCallTransport:  # SIP thread
        transport = SipCallTransport(key, caller, sip.sample_rate, loop, command, recording=calls_dir / f"{key}.wav")
        transport.lines_free = endpoint.lines_free  # an agent leg needs a line of this worker
        loop.call_soon_threadsafe(lambda: handlers["start"](transport))
        return transport

    # the SIP port first: a port another program holds is reported at once (with the port and
    # the reason), before any time is spent on the dialplan and its prompts
    endpoint = SipEndpoint(sip, make_transport)
    try:
        endpoint.start()
    except SipStartError as e:
        log.error("%s", e)
        print(json.dumps({"worker": "failed", "sip": f"{sip.host}:{sip.port}", "error": str(e)}), flush=True)
        return EXIT_PORT_TAKEN if e.port_taken else 2
    from speech.service.client import SpeechUnavailable

    try:
        async with open_services(settings, rates=(sip.sample_rate,)) as services:
            manager = await asyncio.to_thread(DialplanManager, dialplan, services.embedder)
            try:
                store = await asyncio.to_thread(Store, settings.store)
            except StoreError as e:
                log.error("%s", e)
                print(json.dumps({"worker": "failed", "sip": f"{sip.host}:{sip.port}", "error": str(e)}), flush=True)
                return 2
            writer = store.writer
            writer.observe = metrics.STORE_COMMIT.observe
            from ivr.kb.live import LiveKnowledge

            manager.use_live_knowledge(LiveKnowledge(store.kb, services.embedder))
            from ivr.acd.engine import Acd
            from ivr.acd.policy import rules_from

            services.acd = Acd(store.engine, rules_from(manager.active.dialplan.queues))
            services.agent_uri = f"sip:{{name}}@{hotline}"
            services.history = lambda number, call_id: past_calls(store.calls, number, call_id)
            callback_uri = settings.callback_uri or f"sip:{{number}}@{hotline}"
            async with httpx.AsyncClient() as http:

                async def run_call(transport: SipCallTransport, caller: dict[str, Any], app: Any, source: str,
                                   call_settings: Settings, main_speaker: str = "caller") -> None:  # fmt: skip
                    """Record and run one call (answered, or a callback placed from here)."""
                    active = manager.active
                    assert active is not None
                    log_path = calls_dir / f"{transport.call_id}.jsonl"
                    with open(log_path, "w", encoding="utf-8") as events_file:
                        record = CallRecord(
                            transport.call_id,
                            writer,
                            caller=caller,
                            source=source,
                            dialplan=active.dialplan.name,
                            dialplan_version=active.dialplan.version or active.dialplan.digest,
                            recording=calls_dir / f"{transport.call_id}.wav",
                            patterns=active.dialplan.redact,
                            events_file=events_file,
                            on_end=metrics.call_ended,
                        )
                        session = CallSession(transport, services, call_settings, record, app=app, http=http, source=source)
                        session.main_speaker = main_speaker
                        session.on_response_ms = metrics.response_ms
                        metrics.call_started()
                        try:
                            await session.run()
                        finally:
                            transport.close_recording()
                            if session.agent:  # the agent's wrap-up starts
                                await asyncio.to_thread(services.acd.call_ended, session.agent)
                            if not record.outcome:  # cut short: the worker stops
                                record.interrupted("the worker stopped during the call")
                    log.info("call %s with %s ended: %s", transport.call_id, transport.caller, transport.end_reason)

                async def handle(transport: SipCallTransport) -> None:
                    active = manager.active
                    assert active is not None
                    services.acd.queues = rules_from(active.dialplan.queues)  # the version this call runs
                    try:
                        caller = await asyncio.wait_for(
                            asyncio.to_thread(store.directory.caller, transport.caller), DIRECTORY_WAIT_S
                        )
                    except Exception as e:  # the store is away or slow: the call goes on, as an unknown caller
                        log.error("directory lookup failed: %s", e)
                        caller = None
                    caller = caller or {"number": normalize_number(transport.caller), "known": False}
                    runner = DialplanRunner(active.dialplan, active.understanding, caller, None, {"api_base": api_base})
                    await run_call(transport, caller, runner, f"sip:{sip.host}:{sip.port}", settings)

                callbacks = {"n": 0}

                async def callback(entry: dict[str, Any], agent: Any) -> None:
                    callbacks["n"] += 1
                    key = f"{endpoint.epoch}-{sip.port}-cb{callbacks['n']}"
                    transport = SipCallTransport(
                        key, entry["number"], sip.sample_rate, loop, lambda op, arg: endpoint.command(key, op, arg),
                        recording=calls_dir / f"{key}.wav",
                    )  # fmt: skip
                    transport.lines_free = endpoint.lines_free
                    caller = dict((entry.get("context") or {}).get("caller") or {"number": entry["number"]})
                    rules = services.acd.rules(entry["queue"])
                    try:
                        history = await asyncio.to_thread(services.history, str(caller.get("number") or ""), entry["call_id"])
                    except Exception:
                        history = None

                    async def app(session: CallSession) -> None:
                        await callback_app(session, entry, agent.name, services.acd, callback_uri.format(number=entry["number"]),
                                           rules.ring_timeout_s, settings.callback_retry_s, history)  # fmt: skip

                    endpoint.originate(key, services.agent_uri.format(name=agent.name), transport,
                                       {"X-IVR-Callback": entry["call_id"], "X-IVR-Queue": entry["queue"]})  # fmt: skip
                    await run_call(transport, caller, app, "callback", replace(settings, radar=False), main_speaker="agent")

                def start_callback(entry: dict[str, Any], agent: Any) -> None:
                    task = asyncio.ensure_future(callback(entry, agent))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)

                def start(transport: SipCallTransport) -> None:
                    task = asyncio.ensure_future(handle(transport))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)

                handlers["start"] = start
                # every fixed prompt is synthesised (by the speech service) and kept here before
                # calls are taken: it then plays at once, also while the service restarts.
                # Meanwhile one request to the API: a process's first request imports httpx's
                # transport (~40-50 ms here), which would otherwise land in the first lookup.
                prompts = static_prompts(manager.active.dialplan)
                await asyncio.gather(
                    _warm_up(http, api_base), *(services.speech.pin(t, sip.sample_rate) for t in prompts)
                )
                log.info("%d prompts synthesised ahead", len(prompts))
                endpoint.accept_calls()
                watcher = asyncio.ensure_future(manager.watch())
                dialer = CallbackDialer(services.acd, endpoint.room_for_new, start_callback)
                dialing = asyncio.ensure_future(dialer.run())
                print(
                    json.dumps({"worker": "ready", "sip": f"{sip.host}:{sip.port}", "rtp": sip.rtp_port}),
                    flush=True,
                )
                try:
                    await stop.wait()
                finally:
                    watcher.cancel()
                    dialer.stopped.set()
                    await dialing
                    endpoint.stop()
                    for task in list(tasks):
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    await asyncio.to_thread(store.close)
    except SpeechUnavailable as e:  # `ivr serve` starts the worker again
        log.error("%s", e)
        return 2
    finally:
        endpoint.stop()
    return 0
