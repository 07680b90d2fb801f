"""One bot process of the load test: a share of the students, driven over stdin/stdout.

The load test starts ``--processes`` of these (``python -m signaling.loadtest ...
--child-index K``); process K runs students K, K+P, K+2P, ... It joins them at its share
of ``--ramp``, then talks to the load test in JSON lines:

- out ``{"type": "progress", ...}`` every second; ``{"type": "joined", ...}`` when every
  join has ended; ``{"type": "final", ...}`` with its figures when told to stop;
- in ``start`` (the broadcasts begin: students joined by then count for loss, and the
  video window opens) and ``stop FIRST LAST`` (the broadcasts numbered FIRST..LAST were
  sent; close the window, report, leave).

After the joins, the process freezes its objects out of the garbage collector's view
(``gc.freeze``): hundreds of clients' peer connections would otherwise be walked by
every full collection, and the pauses would show up as the server's latency.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
from collections.abc import Coroutine
from typing import Any

import psutil

from .options import LoadTestOptions
from .student import Latencies, StudentBot

__all__ = ["BotProcess"]

PROGRESS_INTERVAL_S = 1.0


class BotProcess:
    def __init__(self, options: LoadTestOptions) -> None:
        self.options = options
        self.latencies = Latencies()
        self.bots = [StudentBot(i, options, self.latencies) for i in options.bot_indices()]
        self._tasks: set[asyncio.Task[Any]] = set()
        self._glass_stop = asyncio.Event()
        self._joins_done = False

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    def emit(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    async def run(self) -> None:
        reader = await _stdin_reader()
        self.emit({"type": "hello", "pid": os.getpid(), "students": len(self.bots)})
        progress = self._spawn(self._progress())
        await self._join_all()
        self._joins_done = True
        gc.collect()
        gc.freeze()
        self.emit({"type": "joined", **self._counts()})
        try:
            while line := (await reader.readline()).decode().split():
                if line[0] == "start":
                    self._start_window()
                elif line[0] == "stop":
                    self.emit(await self._finish(int(line[1]), int(line[2])))
                    break
        finally:
            progress.cancel()
            self._glass_stop.set()
            await asyncio.gather(*(bot.close() for bot in self.bots), return_exceptions=True)
            for task in list(self._tasks):
                task.cancel()

    async def _join_all(self) -> None:
        """Start joins at this process's share of the ramp; wait until each has ended."""
        interval_s = self.options.processes / self.options.ramp_per_s
        start = time.monotonic()
        joins = []
        for k, bot in enumerate(self.bots):
            delay = start + k * interval_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            joins.append(self._spawn(bot.join()))
        await asyncio.gather(*joins, return_exceptions=True)

    def _start_window(self) -> None:
        picked = 0
        for bot in self.bots:
            # Joined (a student resuming after a drop counts too: the resume replays).
            if bot.join_ms is not None:
                bot.counting = True
                bot.mark_window("start")
                if bot.video and picked < self.options.glass_sample:
                    picked += 1
                    self._spawn(bot.sample_glass(self._glass_stop))

    async def _finish(self, first: int, last: int) -> dict[str, Any]:
        self._glass_stop.set()
        for bot in self.bots:
            bot.mark_window("end")
        # Broadcasts still on their way (a busy server delivers late) are late, not lost.
        wanted = last - first + 1
        deadline = time.monotonic() + self.options.settle_s
        while wanted > 0 and time.monotonic() < deadline and any(  # noqa: ASYNC110 (polled)
                bot.counting and bot.joined and not bot.dropped
                and bot.broadcasts_received(first, last) < wanted for bot in self.bots):
            await asyncio.sleep(0.2)
        students = []
        for bot in self.bots:
            entry: dict[str, Any] = {
                "joined": bot.joined, "join_ms": bot.join_ms, "error": bot.error,
                "connected_at_end": bot.joined and not bot.dropped,
                "attempts": bot.attempts, "waits": bot.waits, "worker": bot.worker,
                "datachannel": bot.datachannel, "video": bot.video,
                "counting": bot.counting, "duplicates": bot.duplicates,
                "events": bot.events, "chunks": bot.chunks, "switches": bot.switches,
                "rung_announced": bot.rung_announced, "reconnects": bot.reconnects,
                "drops": bot.drops, "resume_errors": bot.resume_errors,
                "received": bot.broadcasts_received(first, last) if last >= first else 0,
                "media": bot.video_figures(),
            }
            students.append(entry)
        cpu = psutil.Process().cpu_times()
        return {"type": "final", "students": students, "cpu_s": cpu.user + cpu.system,
                "latency": {"events": self.latencies.events.to_json(),
                            "chunks": self.latencies.chunks.to_json(),
                            "glass": self.latencies.glass.to_json()}}

    def _counts(self) -> dict[str, Any]:
        joined = [b for b in self.bots if b.joined]
        return {
            "joined": len(joined),
            "failed": sum(1 for b in self.bots if b.error is not None),
            "waits": sum(b.waits for b in self.bots),
            "workers": sorted({b.worker for b in joined}),
            "events": sum(b.events for b in self.bots),
            "frames": sum(b.frames_total() for b in self.bots if b.video),
            "video_students": sum(1 for b in joined if b.video),
            "reconnects": sum(b.reconnects for b in self.bots),
            "event_p99_ms": self.latencies.events.percentile(99),
        }

    async def _progress(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL_S)
            if self._joins_done:
                for bot in self.bots:
                    if bot.joined and bot.dropped:
                        bot.joined = False  # until it is back
                        self._spawn(self._resume(bot))
            self.emit({"type": "progress", **self._counts()})

    async def _resume(self, bot: StudentBot) -> None:
        bot.joined = await bot.reconnect()


async def _stdin_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader
