"""The load test itself: the teacher, the bot processes, the measurement window, the report.

Order of a run: the session is made (or found); the synthetic teacher starts publishing
(``--publish``); the bot processes join the students at ``--ramp``; when every join has
ended, ``/metrics`` is read, the window opens (``start``), the teacher broadcasts at
``--rate`` (and streams a lesson with ``--content``) for ``--duration``; then, after a
short drain, ``/metrics`` is read again and each process reports (``stop``). A progress
line goes to stderr throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from typing import Any

import psutil

from .options import LoadTestOptions
from .report import Report
from .server_metrics import ServerMetrics
from .teacher import SyntheticTeacher

__all__ = ["LoadTest"]

logger = logging.getLogger(__name__)

#: A bot process's final report is one JSON line (hundreds of students, histograms).
MAX_LINE_BYTES = 64 * 1024 * 1024
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class BotChild:
    """A bot process as the load test sees it: its pipes and its last messages."""

    def __init__(self, index: int, proc: asyncio.subprocess.Process) -> None:
        self.index = index
        self.proc = proc
        self.last: dict[str, Any] = {}
        self.joined = asyncio.Event()
        self.final: dict[str, Any] | None = None
        self.done = asyncio.Event()

    async def read(self) -> None:
        assert self.proc.stdout is not None
        try:
            while line := await self.proc.stdout.readline():
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                kind = message.get("type")
                if kind in ("progress", "joined"):
                    self.last = message
                if kind == "joined":
                    self.joined.set()
                elif kind == "final":
                    self.final = message
        finally:
            self.joined.set()  # a process that died has no more joins to wait for
            self.done.set()

    async def send(self, line: str) -> None:
        if self.proc.stdin is not None and self.proc.returncode is None:
            with contextlib.suppress(ConnectionError):
                self.proc.stdin.write(line.encode() + b"\n")
                await self.proc.stdin.drain()


class LoadTest:
    def __init__(self, options: LoadTestOptions, argv: list[str]) -> None:
        self.options = options
        self.argv = argv
        self.teacher = SyntheticTeacher(options)
        self.metrics = ServerMetrics(options.url)
        self.children: list[BotChild] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self.phase = "starting"
        self.started = time.monotonic()
        self._frames_seen = (self.started, 0)

    async def run(self) -> Report:
        opts = self.options
        try:
            await self.teacher.open()
            if opts.publish == "synthetic":
                await self.teacher.publish()
            await self._spawn_children()
            self._tasks.append(asyncio.create_task(self._show_progress()))
            self.phase = "joining"
            await asyncio.gather(*(c.joined.wait() for c in self.children))
            workers = {w for c in self.children for w in c.last.get("workers", [])}
            before = await self.metrics.read(workers)
            cpu_before = self._own_cpu_s()
            window_start = time.monotonic()
            self.phase = "measuring"
            for child in self.children:
                await child.send("start")
            if opts.content:
                await self.teacher.request_content()
            sender = (asyncio.create_task(self.teacher.broadcast(opts.rate_per_s))
                      if opts.rate_per_s > 0 else None)
            await asyncio.sleep(opts.duration_s)
            self.teacher.stop_broadcasts()
            if sender is not None:
                await sender
            self.phase = "draining"
            await asyncio.sleep(opts.drain_s)
            after = await self.metrics.read(workers | set(before))
            window_s = time.monotonic() - window_start
            cpu_after = self._own_cpu_s()
            for child in self.children:
                await child.send(f"stop 1 {self.teacher.sent}")
            await asyncio.gather(*(c.done.wait() for c in self.children))
            self.phase = "done"
            return Report.build(
                opts, [c.final for c in self.children if c.final is not None],
                teacher=self.teacher, server=self.metrics.usage(before, after),
                server_available=self.metrics.available, window_s=window_s,
                loadtest_cores={k: round((cpu_after[k] - cpu_before.get(k, 0.0)) / window_s, 3)
                                for k in cpu_after},
                missing_processes=sum(1 for c in self.children if c.final is None))
        finally:
            for task in self._tasks:
                task.cancel()
            await self._stop_children()
            await self.teacher.close()

    async def _spawn_children(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
        for index in range(self.options.processes):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "signaling.loadtest", *self.argv,
                "--child-index", str(index), env=env,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                limit=MAX_LINE_BYTES)
            child = BotChild(index, proc)
            self.children.append(child)
            self._tasks.append(asyncio.create_task(child.read()))

    async def _stop_children(self) -> None:
        for child in self.children:
            if child.proc.stdin is not None:
                child.proc.stdin.close()
        for child in self.children:
            try:
                await asyncio.wait_for(child.proc.wait(), 15)
            except TimeoutError:
                child.proc.kill()
                await child.proc.wait()

    def _own_cpu_s(self) -> dict[str, float]:
        """CPU seconds of this process (the teacher) and of each bot process."""
        out: dict[str, float] = {}
        pids = {"teacher": os.getpid(), **{f"bots{c.index}": c.proc.pid for c in self.children}}
        for name, pid in pids.items():
            with contextlib.suppress(psutil.Error):
                t = psutil.Process(pid).cpu_times()
                out[name] = t.user + t.system
        return out

    async def _show_progress(self) -> None:
        tty = sys.stderr.isatty()
        every = 1.0 if tty else 5.0
        while True:
            await asyncio.sleep(every)
            line = self._progress_line()
            sys.stderr.write(f"\r{line}\033[K" if tty else line + "\n")
            sys.stderr.flush()

    def _progress_line(self) -> str:
        counts = [c.last for c in self.children]
        total = self.options.students
        joined = sum(c.get("joined", 0) for c in counts)
        failed = sum(c.get("failed", 0) for c in counts)
        p99s = [c["event_p99_ms"] for c in counts if c.get("event_p99_ms") is not None]
        text = (f"[{time.monotonic() - self.started:6.1f}s {self.phase}] joined {joined}/{total}"
                f" failed {failed} waits {sum(c.get('waits', 0) for c in counts)}"
                f" | events {sum(c.get('events', 0) for c in counts)}"
                f" sent {self.teacher.sent}")
        if p99s:
            text += f" p99 ~{max(p99s)} ms"
        video = sum(c.get("video_students", 0) for c in counts)
        frames, now = sum(c.get("frames", 0) for c in counts), time.monotonic()
        then, before = self._frames_seen
        self._frames_seen = (now, frames)
        if video:
            fps = (frames - before) / max(1e-6, now - then) / video
            text += f" | video {video} students ~{fps:.1f} fps each"
        reconnects = sum(c.get("reconnects", 0) for c in counts)
        if reconnects:
            text += f" | reconnects {reconnects}"
        return text

