"""The `ivr` command's parser: every sub-command and its flags, with nothing but argparse, so
`ivr --help` and a bad flag answer at once; `ivr.cli.main` runs the command."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any


def parse_channel(value: str) -> int:
    names = {"left": 0, "right": 1}
    if value.lower() in names:
        return names[value.lower()]
    try:
        channel = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: use left, right or a channel number") from None
    if channel < 0:
        raise argparse.ArgumentTypeError("channel numbers start at 0")
    return channel


def parse_when(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: use ISO time, e.g. 2026-11-24T10:30") from None
    return when if when.tzinfo else when.astimezone()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivr", description="A voice call-center IVR.")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_calls, _processes, _records, _telephony, learning_parsers, intents_parsers):
        add(sub)
    return parser


def _calls(sub: Any) -> None:
    """One-shot calls and dialplan tools: replay, validate, schema, chat, directory, radar."""
    rp = sub.add_parser(
        "replay",
        help="replay recorded calls through the IVR and print what it heard and said",
        description="Replay recorded calls (files or folders), or a caller script, through the "
        "same pipeline a live call uses.",
    )
    rp.add_argument("paths", nargs="*", help="audio files (WAV, FLAC, ...) or folders of them")
    rp.add_argument("--json", action="store_true", help="one JSON event per line on stdout")
    rp.add_argument(
        "--out-audio", metavar="PATH", help="write what the IVR said as a WAV (a folder for several files)"
    )
    rp.add_argument("--dtmf", default="", metavar="SPEC", help="scripted digits, e.g. 3.2:1,5.0:#")
    rp.add_argument("--realtime", action="store_true", help="pace the audio on the wall clock")
    rp.add_argument(
        "--channel", type=parse_channel, default=0, help="channel of a stereo file: left (default), right, N"
    )
    rp.add_argument(
        "--greeting", default=None, help="without a dialplan: what the IVR says first ('' for nothing)"
    )
    rp.add_argument("--dialplan", metavar="FILE", help="run this dialplan in the call")
    rp.add_argument("--caller", metavar="NUMBER", help="the caller's number (looked up in the directory)")
    rp.add_argument(
        "--script", metavar="TURNS.yaml", help="a scripted caller: turns spoken when the IVR waits"
    )
    rp.add_argument(
        "--at", type=parse_when, metavar="ISO_TIME", help="the call's local time (business hours)"
    )
    rp.add_argument("--data-dir", metavar="DIR", help="where the store lives (default: data)")
    rp.add_argument(
        "--record", action="store_true", help="keep each replayed call's record in the store (ivr calls list)"
    )
    rp.add_argument(
        "--asr-model", default=None, help="a faster-whisper model folder (default: bundled tiny.en)"
    )
    rp.add_argument("--voice", default=None, help="a piper .onnx voice (default: bundled en_US-joe-medium)")

    vp = sub.add_parser(
        "validate",
        help="check dialplans and numbers files (with their dialplans); errors as file:line:col: message",
    )
    vp.add_argument("files", nargs="+")

    sp = sub.add_parser("schema", help="print the dialplan JSON Schema (for editors)")
    sp.add_argument("--numbers", action="store_true", help="the numbers file's schema instead")

    cp = sub.add_parser("chat", help="try a dialplan by typing as the caller")
    cp.add_argument("file")
    cp.add_argument("--caller", metavar="NUMBER")
    cp.add_argument("--at", type=parse_when, metavar="ISO_TIME")
    cp.add_argument("--data-dir", metavar="DIR")

    dp = sub.add_parser("directory", help="the caller directory (number -> name, account, tier)")
    dsub = dp.add_subparsers(dest="action", required=True)
    di = dsub.add_parser("import", help="import callers from CSV (number,name,account,tier) or YAML")
    di.add_argument("file")
    di.add_argument("--data-dir", metavar="DIR")
    dl = dsub.add_parser("show", help="show one caller")
    dl.add_argument("number")
    dl.add_argument("--data-dir", metavar="DIR")

    radar_parsers(sub)


RADAR_ACTIONS = ("score", "retrain", "versions", "approve", "reject", "rollback", "budget", "label")


def radar_parsers(sub: Any) -> None:
    """`ivr radar [score] FILE...` and the radar's learning (labels, retraining, versions)."""
    ra = sub.add_parser(
        "radar",
        help="the emotion radar: score recordings (`ivr radar FILE...`), retrain it on labelled calls",
    )
    rsub = ra.add_subparsers(dest="action", required=True)
    sc = rsub.add_parser(
        "score", help="score recordings for anger and anxiety relative to the caller's voice"
    )
    sc.add_argument("files", nargs="+", help="recordings of the caller (each is one utterance)")
    sc.add_argument(
        "--baseline", action="append", default=[], metavar="FILE",
        help="a recording of the same caller's normal voice (repeatable)",
    )  # fmt: skip
    sc.add_argument(
        "--words", metavar="TEXT",
        help="what the caller said in each FILE: fused with the voice as in a call (adds `valence`)",
    )  # fmt: skip
    sc.add_argument("--json", action="store_true", help="one JSON object per file")
    rt = rsub.add_parser(
        "retrain",
        help="refit on the calls labelled since DATE; a better model is proposed (approve makes it live)",
    )
    rt.add_argument("--since", required=True, metavar="DATE", help="ISO date or time, e.g. 2026-12-01")
    rt.add_argument("--until", metavar="DATE", help="ISO date or time (default: now)")
    rt.add_argument("--dry-run", action="store_true", help="only report: nothing is proposed")
    rt.add_argument(
        "--budget",
        type=float,
        metavar="N",
        help="false escalations per 100 calm calls (default: the setting)",
    )
    vs = rsub.add_parser("versions", help="the radar's versions, which is live, the labels and the budget")
    ap = rsub.add_parser("approve", help="make a proposed version live (the next call uses it)")
    ap.add_argument("version", type=int)
    rj = rsub.add_parser("reject", help="reject a proposed version")
    rj.add_argument("version", type=int)
    rb = rsub.add_parser("rollback", help="the live version out, the one it replaced back")
    bu = rsub.add_parser(
        "budget", help="show or set the false-alarm budget (false escalations per 100 calm calls)"
    )
    bu.add_argument("per_100", type=float, nargs="?")
    la = rsub.add_parser("label", help="label a call: was the caller upset?")
    la.add_argument("call_id")
    la.add_argument("label", choices=("angry", "anxious", "neither"))
    la.add_argument("--source", default="qa", choices=("qa", "wrapup"))
    la.add_argument("--started-ms", type=int, metavar="MS", help="where it started, ms into the call")
    for p in (rt, vs, ap, rj, rb, bu, la):
        p.add_argument("--json", action="store_true")
        p.add_argument("--by", default="cli", help="who decides (kept with the version)")
        p.add_argument("--data-dir", metavar="DIR")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 1 <= value <= 600:
        raise argparse.ArgumentTypeError(f"{text!r}: a number of seconds from 1 to 600")
    return value


def _telephony(sub: Any) -> None:
    """The numbers and the trunk: numbers list, call."""
    nu = sub.add_parser("numbers", help="the numbers the hotline is called on")
    nsub = nu.add_subparsers(dest="action", required=True)
    nl = nsub.add_parser("list", help="number -> line -> dialplan -> version and last reload -> calls today")
    nl.add_argument("--numbers", metavar="FILE", help="the numbers file (default: IVR_NUMBERS)")
    nl.add_argument("--since", metavar="DATE", help="count calls from here (ISO; default: today 00:00)")
    nl.add_argument("--json", action="store_true")
    nl.add_argument("--data-dir", metavar="DIR")
    ca = sub.add_parser("call", help="a test call out through the trunk to a number (a smoke test)")
    ca.add_argument("number", help="any format; national numbers in the numbers file's region")
    ca.add_argument(
        "--numbers", metavar="FILE", help="the numbers file with the trunk (default: IVR_NUMBERS)"
    )
    ca.add_argument("--trunk", help="this trunk (default: the one whose prefix matches)")
    ca.add_argument(
        "--seconds", type=_seconds, default=10.0, help="listen this long after the answer (1-600)"
    )
    ca.add_argument("--digits", help="key these (RFC 2833) 2 s after the answer")
    ca.add_argument(
        "--record", metavar="FILE.wav", help="what the call heard (default ./ivr-call-NUMBER.wav)"
    )
    ca.add_argument("--json", action="store_true")


def _processes(sub: Any) -> None:
    """The processes: serve, worker, speech."""
    sp = sub.add_parser(
        "serve", help="run the hotline: Kamailio + SIP workers, the API and demo billing backend, hot reload"
    )
    sp.add_argument("--dialplan", metavar="FILE")
    sp.add_argument(
        "--numbers", metavar="FILE", help="each number its dialplan (IVR_NUMBERS); others refused"
    )
    sp.add_argument("--host", help="API address (default 127.0.0.1)")
    sp.add_argument("--port", type=int, help="API port (default 8080)")
    sp.add_argument("--data-dir", metavar="DIR")
    sp.add_argument("--sip-port", type=int, help="the hotline's SIP port (Kamailio; default 5060)")
    sp.add_argument(
        "--sip-workers",
        type=int,
        help="worker processes of 4 calls each (0: no SIP; default: sized to the machine)",
    )
    sp.add_argument("--rtp-port", type=int, help="first RTP port of the workers (default 40000)")
    sp.add_argument(
        "--role",
        choices=["all", "edge", "media", "speech", "api"],
        help="what this machine runs (IVR_ROLE; default all: everything on one box)",
    )
    ho = sub.add_parser("hosts", help="the machines of a hotline on several hosts: state, load, heartbeat")
    ho.add_argument("action", nargs="?", choices=["list", "remove"], default="list")
    ho.add_argument("name", nargs="?", help="remove: the stopped or lost host to forget")
    ho.add_argument("--json", action="store_true")
    ho.add_argument("--data-dir", metavar="DIR")
    dr = sub.add_parser("drain", help="no new calls to a media host; its calls finish (rolling upgrade)")
    dr.add_argument("name", help="the host's name (ivr hosts)")
    dr.add_argument("--undo", action="store_true", help="take it back: new calls go to it again")
    dr.add_argument("--json", action="store_true")
    dr.add_argument("--data-dir", metavar="DIR")

    wk = sub.add_parser("worker", help="one SIP worker process (ivr serve runs several behind Kamailio)")
    wk.add_argument("--sip-port", type=int, default=5070)
    wk.add_argument("--rtp-port", type=int, default=40000)
    wk.add_argument("--host", default="127.0.0.1")
    wk.add_argument("--dialplan", metavar="FILE")
    wk.add_argument(
        "--numbers", metavar="FILE", help="each number its dialplan (IVR_NUMBERS); others refused"
    )
    wk.add_argument("--api-base", default="", help="where lookups go (default: the API of ivr serve)")
    wk.add_argument(
        "--hotline", metavar="HOST:PORT", help="the Kamailio agents register to (default: the settings')"
    )
    wk.add_argument("--data-dir", metavar="DIR")
    wk.add_argument("--sip-log", type=int, default=0, help="pjsip log level (0-5)")

    sv = sub.add_parser(
        "speech", help="the speech service: the machine's models, served to the workers over a socket"
    )
    sv.add_argument(
        "--listen", required=True, metavar="PATH|HOST:PORT", help="a Unix socket path, or HOST:PORT for TCP"
    )
    sv.add_argument(
        "--asr-model", default=None, help="a faster-whisper model folder (default: bundled tiny.en)"
    )
    sv.add_argument("--voice", default=None, help="a piper .onnx voice (default: bundled en_US-joe-medium)")


def _records(sub: Any) -> None:
    """Records and people: reload, calls, users, agents."""
    rl = sub.add_parser("reload", help="ask a running `ivr serve` to reload its dialplan (an admin's)")
    rl.add_argument("--url", default="http://127.0.0.1:8080", help="the service's API address")
    rl.add_argument("--user", metavar="NAME", help="log in as this admin (else IVR_TOKEN)")
    rl.add_argument("--password-file", metavar="FILE", help="the password (default: asked on the terminal)")
    rl.add_argument("--token", help=argparse.SUPPRESS)

    cl = sub.add_parser("calls", help="call records: list, show, export as CSV, purge old ones")
    csub = cl.add_subparsers(dest="action", required=True)
    c_list = csub.add_parser("list", help="the newest calls first")
    c_list.add_argument("--since", metavar="ISO_TIME", help="calls that started at or after this time")
    c_list.add_argument(
        "--outcome", help="only calls that ended so (ai_resolved, transferred, abandoned, ...)"
    )
    c_list.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    c_list.add_argument("--json", action="store_true", help="one JSON object a call")
    c_show = csub.add_parser("show", help="one call: its record, path and transcript")
    c_show.add_argument("id")
    c_show.add_argument("--json", action="store_true", help="the whole record with its events")
    c_exp = csub.add_parser("export", help="one CSV row a call (CDR style)")
    c_exp.add_argument("--csv", required=True, metavar="FILE")
    csub.add_parser("purge", help="forget recordings and transcripts older than the retention settings")
    for p in (c_list, c_show, c_exp, csub.choices["purge"]):
        p.add_argument("--data-dir", metavar="DIR")

    us = sub.add_parser("users", help="users of the console and the API (agents, supervisors, admins)")
    usub = us.add_subparsers(dest="action", required=True)
    u_add = usub.add_parser("add", help="add a user (the password is asked, or read from --password-file)")
    u_add.add_argument("name")
    u_add.add_argument("--role", required=True, choices=("admin", "supervisor", "agent"))
    u_add.add_argument("--password-file", metavar="FILE")
    u_add.add_argument("--replace", action="store_true", help="change an existing user's role and password")
    u_rm = usub.add_parser("remove", help="remove a user (their tokens stop working)")
    u_rm.add_argument("name")
    u_ls = usub.add_parser("list", help="the users and their roles")
    for p in (u_add, u_rm, u_ls):
        p.add_argument("--data-dir", metavar="DIR")

    ag = sub.add_parser("agents", help="agents: users who take calls, with skills and a level")
    asub = ag.add_subparsers(dest="action", required=True)
    a_add = asub.add_parser("add", help="add an agent (their password also signs their phone in)")
    a_add.add_argument("name")
    a_add.add_argument("--skills", required=True, help="comma-separated, e.g. general,billing")
    a_add.add_argument(
        "--level", type=int, default=1, choices=(1, 2, 3), help="1-3 (skill_level rings 3 first)"
    )
    a_add.add_argument("--password-file", metavar="FILE")
    a_add.add_argument("--replace", action="store_true", help="change an existing agent")
    a_ls = asub.add_parser("list", help="agents, their state and skills")
    for p in (a_add, a_ls):
        p.add_argument("--data-dir", metavar="DIR")


def learning_parsers(sub: Any) -> None:
    """QA, the knowledge base, the report."""
    qa = sub.add_parser("qa", help="QA of every call: screen, the review queue")
    qsub = qa.add_subparsers(dest="action", required=True)
    q_run = qsub.add_parser(
        "run", help="screen the ended calls since a date (again: flags are replaced, reviews kept)"
    )
    q_run.add_argument("--since", required=True, metavar="DATE", help="ISO date or time, e.g. 2026-12-01")
    q_q = qsub.add_parser("queue", help="the calls to review, riskiest first")
    q_q.add_argument("--day", metavar="YYYY-MM-DD")
    q_show = qsub.add_parser("show", help="one call's flags, evidence and reviews")
    q_show.add_argument("id")
    for p in (q_run, q_q, q_show):
        p.add_argument("--json", action="store_true")

    kb = sub.add_parser("kb", help="the knowledge base: candidates from agents' wrap-ups, approved entries")
    ksub = kb.add_subparsers(dest="action", required=True)
    k_ls = ksub.add_parser(
        "list", help="candidates waiting (with the nearest entry) and the live entries with their use"
    )
    k_ls.add_argument(
        "--state", default="new", help="candidates in this state (new, approved, rejected, merged, all)"
    )
    k_ap = ksub.add_parser("approve", help="approve a candidate (edited with the options), live at once")
    k_ap.add_argument("id", type=int)
    k_ap.add_argument("--question", help="the question as callers ask it (default: the candidate's)")
    k_ap.add_argument("--answer", help="the answer (default: the candidate's)")
    k_ap.add_argument("--key", help="the entry's name (default: from the question)")
    k_ap.add_argument("--into", metavar="KEY", help="merge into this live entry (a new version of it)")
    k_ap.add_argument(
        "--also", type=int, nargs="*", default=[], metavar="ID", help="near-duplicate candidates to merge in"
    )
    k_rj = ksub.add_parser("reject", help="reject a candidate")
    k_rj.add_argument("id", type=int)
    k_ed = ksub.add_parser("edit", help="change a live entry (a new version)")
    k_ed.add_argument("key")
    k_ed.add_argument("--answer")
    k_ed.add_argument("--question", action="append", help="the questions (repeat; replaces them all)")
    k_rb = ksub.add_parser("rollback", help="back to an earlier version (default: the one before)")
    k_rb.add_argument("key")
    k_rb.add_argument("--to", type=int, metavar="VERSION")
    k_rt = ksub.add_parser("retire", help="take an entry out: the AI stops giving it")
    k_rt.add_argument("key")
    k_ex = ksub.add_parser("export", help="the live entries as dialplan YAML (knowledge:)")
    k_ex.add_argument("--out", metavar="FILE", help="write here (default: standard output)")
    for p in (k_ls, k_ap, k_rj, k_ed, k_rb, k_rt):
        p.add_argument("--json", action="store_true")
        p.add_argument("--by", default="cli", help="who decides (kept with the version)")

    rp = sub.add_parser("report", help="containment, tiers, topics, queues, radar, pain points, KB effect")
    rp.add_argument("--since", required=True, metavar="DATE", help="ISO date or time")
    rp.add_argument("--until", metavar="DATE", help="ISO date or time (default: now)")
    rp.add_argument("--json", action="store_true")
    rp.add_argument("--csv", metavar="DIR", help="write each table as DIR/NAME.csv")
    rp.add_argument("--tz", default="", help="time zone of days and hours (default: the QA config's)")
    rp.add_argument("--number", help="only the calls to this number (any format; split: see by_number)")
    for p in (q_run, q_q, q_show, k_ls, k_ap, k_rj, k_ed, k_rb, k_rt, k_ex, rp):
        p.add_argument("--data-dir", metavar="DIR")


def intents_parsers(sub: Any) -> None:
    it = sub.add_parser("intents", help="check a dialplan's intents against a test set")
    isub = it.add_subparsers(dest="action", required=True)
    t = isub.add_parser(
        "test", help="utterance<TAB>intent per line -> accuracy, recall/precision, confusions, failures"
    )
    t.add_argument("dialplan")
    t.add_argument("tests", metavar="FILE.tsv")
    t.add_argument("--json", action="store_true")
    t.add_argument(
        "--overlap", type=float, default=0.9, help="example similarity counted as overlap (default 0.9)"
    )
