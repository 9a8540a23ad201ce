"""`ivr intents test DIALPLAN FILE.tsv`: an admin's test set against the dialplan's intents."""

from __future__ import annotations

import argparse
import json

from ivr.cli.common import UsageError
from ivr.cli.context import load_dialplan
from ivr.dialplan.intent_eval import TestSetError, evaluate, load_test_set
from ivr.nlu.intents import IntentMatcher
from speech.embed import Embedder


def cmd_intents(args: argparse.Namespace) -> int:
    if not 0 < args.overlap <= 1:
        raise UsageError(f"--overlap {args.overlap}: a similarity from 0 to 1")
    dp = load_dialplan(args.dialplan)
    try:
        tests = load_test_set(args.tests, list(dp.intents))
    except TestSetError as e:
        raise UsageError(str(e)) from None
    matcher = IntentMatcher(
        Embedder(), dp.intents, float(dp.settings.get("intent_threshold", 0.5)), dp.keywords
    )
    r = evaluate(matcher, dp.intents, tests, args.overlap)
    if args.json:
        print(json.dumps(r, ensure_ascii=False, indent=1))
        return 0
    oos = r["out_of_scope_recall"]
    print(f"{r['tests']} utterances: accuracy {r['accuracy']:.1%}"
          + (f", in scope {r['in_scope_accuracy']:.1%}" if r["in_scope_accuracy"] is not None else "")
          + (f", out-of-scope recall {oos:.1%}" if oos is not None else ""))  # fmt: skip
    print(f"  {'intent':<18} {'recall':>7} {'precision':>9}  (expected / predicted)")
    for name, p in r["per_intent"].items():
        rec = "-" if p["recall"] is None else f"{p['recall']:.0%}"
        prec = "-" if p["precision"] is None else f"{p['precision']:.0%}"
        print(f"  {name:<18} {rec:>7} {prec:>9}  ({p['expected']} / {p['predicted']})")
    if r["confusions"]:
        print(
            "  confused: "
            + ", ".join(f"{c['expected']} -> {c['got']} x{c['count']}" for c in r["confusions"][:8])
        )
    for f in r["failed"]:
        why = ", ".join(f"{c['name']} {c['score']:.2f}" for c in f["likeliest"])
        print(f"  {args.tests}:{f['line']}: {f['text']!r}: expected {f['expected']}, got {f['got']}"
              f" ({f['confidence']:.2f} by {f['by']}; likeliest {why})")  # fmt: skip
    for o in r["overlapping_examples"][:10]:
        print(f"  overlap {o['similarity']:.2f}: {o['a']} {o['a_example']!r} ~ {o['b']} {o['b_example']!r}")
    return 0
