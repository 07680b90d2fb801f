"""Run one benchmark command in several checkouts, interleaved, and compare them.

Each checkout runs its own copy of the command with its own ``.venv/bin/python``
(``{python}`` in the command), so each side measures its own server, client and
benchmark script. The runs alternate (round 1: A B C, round 2: C B A, ...) so that
a machine that gets busier or quieter during the run affects every checkout alike.
Every JSON object the command prints is flattened (``answers.receipt_ms_p50``,
``replay[websocket].replay_complete_ms``) and grouped by its text fields and by
``--key`` fields (``peers``); each number then gets the median, min and max over
the rounds per checkout, and the ratio of medians to the first checkout.
Booleans are reported as "true in every round". Prints one JSON object per run
as it finishes (``"run"``), then the comparison (``"compare"``); ``--load`` compares
the runs saved from several invocations instead of running anything.

    .venv/bin/python scripts/bench_compare_refs.py --rounds 3 \\
        --ref before=/work/wt-base --ref after=. -- \\
        {python} scripts/bench_fanout.py --peers 200 500 --only datachannel websocket
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from typing import Any

Number = int | float


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "l": [{"transport": "ws", "x": 2}]}`` -> ``a.b``, ``l[ws].x``."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            label = next((str(v[f]) for f in ("transport", "peers", "name")
                          if isinstance(v, dict) and f in v), str(i))
            out.update(flatten(v, f"{prefix}[{label}]"))
    else:
        out[prefix] = obj
    return out


def is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def record_key(flat: dict[str, Any], key_fields: list[str]) -> str:
    parts = [f"{k}={v}" for k, v in flat.items() if isinstance(v, str)]
    parts += [f"{k}={flat[k]}" for k in key_fields if k in flat]
    return " ".join(parts) or "-"


def run_once(name: str, checkout: str, command: list[str], timeout_s: float) -> dict[str, Any]:
    python = os.path.join(checkout, ".venv", "bin", "python")
    argv = [a.replace("{python}", python) for a in command]
    start = time.monotonic()
    # Its own process group: a run that overstays is stopped with the server it started.
    proc = subprocess.Popen(argv, cwd=checkout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        stderr += f"\nTimeoutError: stopped after {timeout_s:g} s"
    records = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict) and set(obj) != {"summary"}:
                records.append(obj)
    return {"ref": name, "returncode": proc.returncode,
            "wall_s": round(time.monotonic() - start, 1), "records": records,
            "error": last_error(stderr) if proc.returncode else ""}


def last_error(stderr: str) -> str:
    """The last exception line of a failed run (its stderr ends in warnings too)."""
    lines = [ln for ln in stderr.splitlines() if "Error" in ln or "Exception" in ln]
    return (lines[-1] if lines else stderr[-300:]).strip()


def compare(runs: list[dict[str, Any]], refs: list[str], key_fields: list[str]) -> list[dict]:
    # values[key][field][ref] -> list over rounds
    values: dict[str, dict[str, dict[str, list[Any]]]] = {}
    for run in runs:
        for rec in run["records"]:
            flat = flatten(rec)
            key = record_key(flat, key_fields)
            for field, v in flat.items():
                if isinstance(v, str) or field.rsplit(".", 1)[-1] in key_fields or v is None:
                    continue
                values.setdefault(key, {}).setdefault(field, {}).setdefault(
                    run["ref"], []).append(v)
    out = []
    for key, fields in values.items():
        entry: dict[str, Any] = {"key": key}
        for field, by_ref in fields.items():
            stats: dict[str, Any] = {}
            for ref in refs:
                vs = by_ref.get(ref, [])
                if vs and all(isinstance(v, bool) for v in vs):
                    stats[ref] = {"all_true": all(vs), "n": len(vs)}
                elif vs and all(is_number(v) for v in vs):
                    stats[ref] = {"median": round(statistics.median(vs), 3),
                                  "min": round(min(vs), 3), "max": round(max(vs), 3),
                                  "n": len(vs)}
            base = stats.get(refs[0], {}).get("median")
            for ref in refs[1:]:
                med = stats.get(ref, {}).get("median")
                if is_number(base) and is_number(med) and base:
                    stats[ref]["ratio_to_" + refs[0]] = round(med / base, 3)
            entry[field] = stats
        out.append(entry)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", action="append", required=True, metavar="NAME=CHECKOUT",
                        help="a checkout with its own .venv; the first is the baseline")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--key", nargs="*", default=["peers", "students", "missed"],
                        help="numeric fields that identify a configuration")
    parser.add_argument("--timeout-s", type=float, default=1800)
    parser.add_argument("--load", nargs="+", metavar="JSONL",
                        help="no runs: compare the runs saved from earlier invocations")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="after --; {python} is the checkout's .venv/bin/python")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    refs = [r.split("=", 1) for r in args.ref]
    names = [name for name, _ in refs]
    runs = []
    if args.load:
        for path in args.load:
            with open(path) as f:
                runs += [o["run"] for o in map(json.loads, f) if "run" in o]
        print(json.dumps({"compare": compare(runs, names, args.key), "loaded": args.load,
                          "runs": {n: sum(r["ref"] == n for r in runs) for n in names}}))
        return
    if not command:
        parser.error("no command after --")
    for rnd in range(args.rounds):
        order = refs if rnd % 2 == 0 else list(reversed(refs))
        for name, checkout in order:
            run = run_once(name, os.path.abspath(checkout), command, args.timeout_s)
            run["round"] = rnd + 1
            print(json.dumps({"run": run}), flush=True)
            if run["returncode"] != 0:
                print(f"{name} failed (round {rnd + 1}): {run['error']}", file=sys.stderr)
            runs.append(run)
    print(json.dumps({"compare": compare(runs, names, args.key),
                      "refs": dict(refs), "rounds": args.rounds, "command": command}))


if __name__ == "__main__":
    main()
