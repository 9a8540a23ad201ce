"""`ivr qa` (run, queue, show), `ivr kb` (list, approve, reject, edit, rollback, retire, export)
and `ivr report`: learning from calls, from the shell."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.analytics.report import report, tables, to_csv
from ivr.cli.common import UsageError, settings_from, when
from ivr.cli.context import open_store
from ivr.kb import KbError
from ivr.qa.config import QaConfigError, load_qa_config
from ivr.qa.screen import Screener
from ivr.telephony.numbers import check_numbers, normalize
from speech.embed import Embedder


def _qa_config(settings: Any) -> Any:
    try:
        return load_qa_config(settings.qa_config)
    except QaConfigError as e:
        raise UsageError(str(e)) from None


def _out(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, default=str, indent=1))


def cmd_qa(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    store = open_store(settings)
    try:
        if args.action == "run":
            results = Screener(store, _qa_config(settings)).run_since(when(args.since))
            queued = store.qa.queue()
            if args.json:
                _out({"screened": len(results), "queued": len(queued)})
            else:
                flagged = sum(1 for r in results if r["flags"])
                print(
                    f"screened {len(results)} call(s): {flagged} flagged; {len(queued)} in the review queue"
                )
            return 0
        if args.action == "queue":
            rows = store.qa.queue(args.day)
            if args.json:
                _out(rows)
            for r in rows if not args.json else []:
                names = ", ".join(f["name"] for f in r["flags"]) or "-"
                print(
                    f"{r['score']:.2f}  {r['call_id']:<32} {r['day']}  {r['outcome']:<14} {r['sample_reason']:<6}  {names}"
                )
            if not rows and not args.json:
                print("the review queue is empty", file=sys.stderr)
            return 0
        result = store.qa.result(args.id)
        if result is None:
            print(f"call {args.id!r} has not been screened (or does not exist)", file=sys.stderr)
            return 1
        if args.json:
            _out(result)
        else:
            print(f"{args.id}: risk {result['score']:.2f} ({result['review'] or 'not drawn for review'})")
            for f in result["flags"]:
                t = f" at {f['t_ms'] / 1000:.1f}s" if f.get("t_ms") is not None else ""
                print(f"  {f['name']:<24} {f['weight']:.2f}  {f['evidence']}{t}")
        return 0
    finally:
        store.close()


def cmd_kb(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    store = open_store(settings)
    kb = store.kb
    try:
        if args.action == "export":
            text = kb.export_yaml()
            if args.out:
                Path(args.out).write_text(text, encoding="utf-8")
                print(f"wrote {len(kb.live())} entr(ies) to {args.out}", file=sys.stderr)
            else:
                sys.stdout.write(text)
            return 0
        if args.action == "list":
            cands = kb.candidates(None if args.state == "all" else args.state)
            entries = kb.entries()
            if args.json:
                _out({"candidates": cands, "entries": entries})
                return 0
            print(f"candidates ({args.state}): {len(cands)}")
            for c in cands:
                print(
                    f"  #{c['id']:<4} {c['state']:<8} {c['agent']:<10} Q: {c['question']}\n        A: {c['answer']}"
                )
            print(f"live entries: {len(entries)}")
            for e in entries:
                u = e["uses"]
                print(
                    f"  {e['key']:<28} v{e['version']:<3} answered {u['answered']}, resolved {u['resolved']}, transferred {u['transferred']}"
                )
            return 0
        try:
            if args.action == "approve":
                done: Any = kb.approve(args.id, args.by, question=args.question, answer=args.answer, key=args.key,
                                       into=args.into, also=args.also)  # fmt: skip
                msg = f"approved: {done['key']} v{done['version']} is live"
            elif args.action == "reject":
                kb.reject(args.id, args.by)
                done, msg = {"rejected": args.id}, f"candidate {args.id} rejected"
            elif args.action == "edit":
                done = kb.edit(args.key, args.by, questions=args.question, answer=args.answer)
                msg = f"{done['key']} v{done['version']} is live"
            elif args.action == "rollback":
                done = kb.rollback(args.key, args.by, args.to)
                msg = f"{done['key']} rolled back: v{done['version']} is live"
            else:
                kb.retire(args.key, args.by)
                done, msg = {"retired": args.key}, f"{args.key} retired: the AI no longer gives it"
        except KbError as e:
            raise UsageError(str(e)) from None
        _out(done) if args.json else print(msg)
        return 0
    finally:
        store.close()


def _number(args: argparse.Namespace, settings: Any) -> str:
    """--number as the records keep it: E.164, read in the numbers file's region if one is set."""
    if not args.number:
        return ""
    region = ""
    if settings.numbers:
        numbers, _ = check_numbers(settings.numbers)
        region = numbers.region if numbers is not None else ""
    return normalize(args.number, region) or args.number


def cmd_report(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    tz = args.tz or _qa_config(settings).timezone
    since = when(args.since)
    until = when(args.until, "--until") if args.until else None
    store = open_store(settings)
    try:
        embedder = None
        try:
            embedder = Embedder()
        except Exception:  # the embedder is only for clustering unmatched words; by words without it
            embedder = None
        r = report(store.engine, since, until, tz, embedder, number=_number(args, settings))
    finally:
        store.close()
    if args.csv:
        d = Path(args.csv)
        d.mkdir(parents=True, exist_ok=True)
        for name, rows in tables(r).items():
            (d / f"{name}.csv").write_text(to_csv(rows), encoding="utf-8")
    if args.json:
        _out(r)
        return 0
    print(f"{r['calls']} calls since {datetime.fromtimestamp(since).isoformat(timespec='minutes')}")
    print(
        f"  contained by the AI {r['containment']:.1%} (re-dial corrected {r['containment_redial_corrected']:.1%})"
    )
    print(
        "  tiers "
        + "  ".join(f"{t} {r['tiers'][t]:.1%} (target {r['tier_target'][t]:.0%})" for t in ("L1", "L2", "L3"))
    )
    print(f"  abandoned in queue {r['abandon_rate']:.1%}; radar escalated {r['escalation_rate']:.1%}")
    print(
        f"  speed of answer p50 {r['speed_of_answer_s']['p50']} s; handle time p50 {r['handle_time_s']['p50']} s"
    )
    print("  top intents: " + ", ".join(f"{i['intent']} {i['calls']}" for i in r["top_intents"][:6]))
    if len(r["by_number"]) > 1 or r["number"]:
        for b in r["by_number"]:
            print(f"  {b['line'] or b['number'] or '-'} ({b['number']}): {b['calls']} calls, "
                  f"contained {b['containment']:.1%}, abandoned {b['abandoned']}")  # fmt: skip
    if r["pain_points"]["no_match"]:
        print(
            "  not understood: "
            + "; ".join(f"{p['text']!r} x{p['count']}" for p in r["pain_points"]["no_match"][:4])
        )
    return 0
