"""Profile the server's CPU during a fan-out, and A/B the SCTP tuning in one run.

py-spy cannot attach in this container (no ptrace), so the server runs under an
in-process profiler started and stopped by signals: the profile covers only the
broadcast phase (not the joins).

    # where does the server's CPU go per delivery (cProfile: exact call counts)
    .venv/bin/python scripts/profile_fanout.py profile --peers 100 --rate 20 --duration 8
    # same with pyinstrument (sampling, less distortion of small functions)
    .venv/bin/python scripts/profile_fanout.py profile --profiler pyinstrument
    # with rtc_server.patches.sctp.apply() in the server
    .venv/bin/python scripts/profile_fanout.py profile --tune

    # deterministic micro-benchmark of sctp_tuning (two peers in one process)
    .venv/bin/python scripts/profile_fanout.py micro --messages 5000 --repeats 3

    # A/B: bench_fanout's run_one, alternating baseline and tuned servers, N repeats
    .venv/bin/python scripts/profile_fanout.py ab --peers 100 200 --repeats 2 --only datachannel plain

Internally the server is started as ``profile_fanout.py serve [--tune] [--profile-out F]
(classroom|plain) -- <server args>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


# -- server side -------------------------------------------------------------------------------


def serve(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--profiler", choices=["cprofile", "pyinstrument", "none"],
                        default="cprofile")
    parser.add_argument("--profile-out")
    parser.add_argument("--pre", help="a Python file run in the server before it starts "
                        "(counters)")
    parser.add_argument("kind", choices=["classroom", "plain"])
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    rest = [a for a in ns.rest if a != "--"]
    if ns.tune:
        from rtc_server.patches import sctp as sctp_tuning

        sctp_tuning.apply()
    if ns.profile_out:
        state: dict[str, Any] = {}

        def start(*_: object) -> None:
            if ns.profiler == "none":
                state["p"] = None
            elif ns.profiler == "cprofile":
                import cProfile

                state["p"] = cProfile.Profile()
                state["p"].enable()
            else:
                from pyinstrument import Profiler

                state["p"] = Profiler(interval=0.0005, async_mode="disabled")
                state["p"].start()

        def stop(*_: object) -> None:
            if "p" not in state:
                return
            prof = state.pop("p")
            if prof is None:
                pass
            elif ns.profiler == "cprofile":
                prof.disable()
                prof.dump_stats(ns.profile_out)
            else:
                prof.stop()
                with open(ns.profile_out, "w") as f:
                    f.write(prof.output_text(unicode=False, color=False, show_all=False))
                from pyinstrument.renderers import ConsoleRenderer

                with open(ns.profile_out + ".flat", "w") as f:
                    f.write(prof.output(ConsoleRenderer(flat=True, unicode=False, color=False,
                                                        time="percent_of_total")))
                with open(ns.profile_out + ".all", "w") as f:
                    f.write(prof.output(ConsoleRenderer(show_all=True, unicode=False, color=False,
                                                        time="percent_of_total")))
            open(ns.profile_out + ".done", "w").close()

        signal.signal(signal.SIGUSR1, start)
        signal.signal(signal.SIGUSR2, stop)
    if ns.pre:
        import runpy

        runpy.run_path(ns.pre, run_name="__pre__")
    if ns.kind == "classroom":
        from rtc_server.__main__ import main

        main(rest)
    else:
        import runpy

        sys.argv = ["baseline_plain_aiortc.py", *rest]
        runpy.run_path(os.path.join(ROOT, "scripts", "baseline_plain_aiortc.py"),
                       run_name="__main__")


# -- bench side ------------------------------------------------------------------------------


def make_start_server(tune: bool, profile_out: str | None = None, profiler: str = "cprofile",
                      pre: str | None = None) -> Any:
    """A replacement for bench_common.start_server running the server through ``serve``.

    The server applies ``sctp_tuning`` itself unless told not to: the untuned baseline
    passes ``--no-sctp-tuning``.
    """
    from scripts import bench_common

    async def start_server(kind: str, *extra: str) -> bench_common.ServerProcess:
        port = bench_common.free_port()
        env = dict(os.environ, PYTHONPATH=ROOT)
        if kind == "classroom":
            args = ["--port", str(port), "--api-secret", bench_common.SECRET,
                    "--ice-host-addresses", "127.0.0.1", "--log-level", "warning",
                    "--rate-messages-per-s", "1000", "--rate-burst", "1000", *extra]
            if not tune:
                args.append("--no-sctp-tuning")
        else:
            args = ["--port", str(port)]
        cmd = [sys.executable, os.path.abspath(__file__),  # noqa: ASYNC240
               "serve", "--profiler", profiler]
        if tune:
            cmd.append("--tune")
        if profile_out:
            cmd += ["--profile-out", profile_out]
        if pre:
            cmd += ["--pre", pre]
        cmd += [kind, "--", *args]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)  # noqa: ASYNC220
        return await bench_common.wait_ready(bench_common.ServerProcess(proc, port), kind)

    return start_server


async def profile(ns: argparse.Namespace) -> None:
    """Run one fan-out with the profiler on during the broadcasts only."""
    from scripts import bench_fanout

    out = ns.out or f"/tmp/profile_fanout_{ns.kind}_{'tuned' if ns.tune else 'base'}.prof"
    for suffix in ("", ".done"):
        if os.path.exists(out + suffix):  # noqa: ASYNC240
            os.remove(out + suffix)
    bench_fanout.start_server = make_start_server(ns.tune, out, ns.profiler, ns.pre)

    # Wrap asyncio.sleep in run_one: the profiler starts right after the idle measurement
    # (the 2 s sleep) and stops when run_one stops the server.
    from scripts import bench_common

    servers: list[bench_common.ServerProcess] = []
    real_sleep = asyncio.sleep
    orig_stop = bench_common.ServerProcess.stop

    async def sleep(delay: float, *a: Any) -> None:
        await real_sleep(delay, *a)
        if delay == 2.0 and servers:
            os.kill(servers[0].proc.pid, signal.SIGUSR1)

    def stop(self: bench_common.ServerProcess) -> None:
        os.kill(self.proc.pid, signal.SIGUSR2)
        deadline = time.monotonic() + 60
        while not os.path.exists(out + ".done") and time.monotonic() < deadline:
            time.sleep(0.1)
        orig_stop(self)

    orig_cpu = bench_common.ServerProcess.cpu_s

    def cpu_s(self: bench_common.ServerProcess) -> float:
        if self not in servers:
            servers.append(self)
        return orig_cpu(self)

    bench_common.ServerProcess.stop = stop  # type: ignore[method-assign]
    bench_common.ServerProcess.cpu_s = cpu_s  # type: ignore[method-assign]
    bench_fanout.asyncio.sleep = sleep  # type: ignore[assignment]
    try:
        result = await bench_fanout.run_one(ns.kind, "datachannel", ns.peers, ns.rate, ns.duration)
    finally:
        bench_fanout.asyncio.sleep = real_sleep
    print(json.dumps(result))
    deliveries = ns.peers * int(ns.rate * ns.duration) - result["lost"]
    if ns.profiler == "none":
        pass
    elif ns.profiler == "cprofile":
        import pstats

        stats = pstats.Stats(out)
        total = stats.total_tt  # type: ignore[attr-defined]
        print(f"profiled CPU {total:.3f}s = {total / deliveries * 1e6:.1f} us/delivery "
              f"(cProfile-inflated) over {deliveries} deliveries")
        rows = []
        for (file, line, name), (_cc, nc, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
            rows.append((tt, ct, nc, f"{os.path.basename(file)}:{line}({name})"))
        print("\n== by own time (tottime) ==")
        print(f"{'own%':>6} {'cum%':>6} {'calls/deliv':>11}  function")
        for tt, ct, nc, fn in sorted(rows, reverse=True)[: ns.top]:
            print(f"{tt / total * 100:6.1f} {ct / total * 100:6.1f} {nc / deliveries:11.2f}  {fn}")
        print("\n== by cumulative time ==")
        for tt, ct, nc, fn in sorted(rows, key=lambda r: -r[1])[: ns.top]:
            print(f"{tt / total * 100:6.1f} {ct / total * 100:6.1f} {nc / deliveries:11.2f}  {fn}")
    else:
        with open(out) as tree, open(out + ".flat") as flat:  # noqa: ASYNC230
            print(tree.read())
            print(flat.read()[:6000])


async def ab(ns: argparse.Namespace) -> None:
    """Alternate baseline/tuned servers through bench_fanout.run_one; print medians."""
    from scripts import bench_fanout

    if ns.client_delayed_sack:
        # Browser-like clients: SACK every 2nd packet / 200 ms (both A and B runs).
        from rtc_server.patches import sctp as sctp_tuning

        sctp_tuning.apply_delayed_sack()
    kinds = [("classroom", "datachannel"), ("plain", "datachannel")]
    kinds = [k for k in kinds if ("plain" if k[0] == "plain" else k[1]) in ns.only]
    results: list[dict[str, Any]] = []
    for n in ns.peers:
        for rep in range(ns.repeats):
            for kind, transport in kinds:
                order = [False, True] if rep % 2 == 0 else [True, False]
                for tune in order:
                    bench_fanout.start_server = make_start_server(tune)
                    r = await bench_fanout.run_one(kind, transport, n, ns.rate, ns.duration)
                    r["tuned"] = tune
                    r["rep"] = rep
                    print(json.dumps(r), flush=True)
                    results.append(r)
    print("\n== medians ==")
    keys = ["server_cpu_us_per_delivery", "server_cpu_us_per_delivery_minus_idle",
            "latency_ms_p50", "latency_ms_p99", "lost"]
    for n in ns.peers:
        for kind, _ in kinds:
            name = "classroom-rtc" if kind == "classroom" else "plain-aiortc"
            row: dict[str, Any] = {"server": name, "peers": n}
            for tune in (False, True):
                sel = [r for r in results if r["server"] == name and r["peers"] == n
                       and r["tuned"] == tune]
                for k in keys:
                    vals = [r[k] for r in sel if r[k] is not None]
                    row[f"{k}{'_tuned' if tune else ''}"] = (
                        round(statistics.median(vals), 2) if vals else None)
            b, t = row["server_cpu_us_per_delivery"], row["server_cpu_us_per_delivery_tuned"]
            row["cpu_ratio_tuned_vs_base"] = round(t / b, 3) if b and t else None
            # per-rep paired ratios (same rep = adjacent runs)
            ratios = []
            for rep in range(ns.repeats):
                pair = {r["tuned"]: r for r in results if r["server"] == name
                        and r["peers"] == n and r["rep"] == rep}
                if len(pair) == 2:
                    ratios.append(pair[True]["server_cpu_us_per_delivery"]
                                  / pair[False]["server_cpu_us_per_delivery"])
            row["paired_cpu_ratios"] = [round(x, 3) for x in ratios]
            print(json.dumps(row), flush=True)


async def micro_one(tune: bool, n: int) -> float:
    """Two aiortc peers in this process, one message in flight at a time (as in the
    fan-out: 1 DATA out, 1 SACK back per message); process CPU per message, both ends."""
    if tune:
        from rtc_server.patches import sctp as sctp_tuning

        sctp_tuning.apply()
    from aiortc import RTCPeerConnection

    from rtc_server.patches.ice import restrict_host_addresses

    restrict_host_addresses(["127.0.0.1"])
    a, b = RTCPeerConnection(), RTCPeerConnection()
    channel = a.createDataChannel("events")
    got, opened = asyncio.Event(), asyncio.Event()

    @b.on("datachannel")
    def on_dc(remote: Any) -> None:
        remote.on("message", lambda _msg: got.set())

    channel.on("open", opened.set)
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    await asyncio.wait_for(opened.wait(), 10)
    await asyncio.sleep(0.5)
    payload = '{"v":1,"type":"message","seq":1,"payload":{"text":"' + "x" * 200 + '"}}'
    sctp = channel.transport
    t0 = time.process_time()
    for _ in range(n):
        got.clear()
        channel.send(payload)
        await got.wait()
        while sctp._sent_queue:  # until the SACK is back and handled
            await asyncio.sleep(0)
    cpu = time.process_time() - t0
    await a.close()
    await b.close()
    return cpu / n * 1e6


def micro(ns: argparse.Namespace) -> None:
    """Alternate base/tuned subprocesses (uvloop); print per-run and median us/message."""
    out: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(ns.repeats):
        for tune in (False, True):
            cmd = [sys.executable, os.path.abspath(__file__), "micro-one", str(ns.messages)]
            if tune:
                cmd.append("--tune")
            value = float(subprocess.run(cmd, check=True, capture_output=True,
                                         text=True).stdout.strip())
            out[tune].append(value)
            print(f"{'tuned' if tune else 'base '} {value:.1f} us/message (both ends)",
                  flush=True)
    base, tuned = statistics.median(out[False]), statistics.median(out[True])
    print(json.dumps({"base_us": round(base, 1), "tuned_us": round(tuned, 1),
                      "ratio": round(tuned / base, 3)}))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2:])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "micro-one":
        import uvloop

        print(uvloop.run(micro_one("--tune" in sys.argv, int(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("profile")
    p.add_argument("--kind", choices=["classroom", "plain"], default="classroom")
    p.add_argument("--peers", type=int, default=100)
    p.add_argument("--rate", type=float, default=20.0)
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--profiler", choices=["cprofile", "pyinstrument", "none"],
                   default="cprofile")
    p.add_argument("--pre", help="Python file run in the server before it starts")
    p.add_argument("--tune", action="store_true")
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--out")
    a = sub.add_parser("ab")
    a.add_argument("--peers", type=int, nargs="+", default=[100])
    a.add_argument("--rate", type=float, default=20.0)
    a.add_argument("--duration", type=float, default=8.0)
    a.add_argument("--repeats", type=int, default=2)
    a.add_argument("--only", nargs="*", default=["datachannel", "plain"])
    a.add_argument("--client-delayed-sack", action="store_true",
                   help="the bench's aiortc clients delay SACKs like browsers (A and B)")
    m = sub.add_parser("micro")
    m.add_argument("--messages", type=int, default=5000)
    m.add_argument("--repeats", type=int, default=3)
    ns = parser.parse_args()
    if ns.cmd == "micro":
        micro(ns)
        return
    asyncio.run(profile(ns) if ns.cmd == "profile" else ab(ns))


if __name__ == "__main__":
    main()
