"""``classroom-rtc --workers N``: N server processes on one port, kept running.

The :class:`Supervisor` starts N workers (``python -m rtc_server`` with the same
arguments, plus ``CLASSROOM_WORKER_ID``); each binds the HTTP port with
``SO_REUSEPORT``, so the kernel spreads new connections over them. ICE needs no
coordination: aioice binds every candidate's UDP socket to port 0, so each
worker's peers get their own kernel-chosen ports and nothing collides.

Workers share a class through Redis (events, sessions, resume). With no
``--redis-url`` the supervisor starts a private ``redis-server`` on a Unix
socket in a temporary directory (no persistence) and stops it at exit, or, when
none is installed, refuses to start. Every worker gets the same API secret
(generated here when none is configured), so any worker accepts the join and
resume tokens another one minted.

A worker reports ``ready`` on a socket pair once it serves (and stops when the
supervisor's end closes, see :mod:`.worker`). One that dies before its
first ``ready`` stops everything (a configuration, port or Redis problem that a
restart would only repeat); one that dies later is restarted after a backoff
(1 s, doubling to 30 s, back to 1 s after a minute of uptime) and the death is
logged. SIGTERM/SIGINT are forwarded to the workers as SIGTERM; the supervisor
waits for them (SIGKILL after :meth:`Supervisor.stop_timeout_s`, or at a second signal).
Workers run in their own process group, so a terminal's Ctrl-C reaches them once,
through here, and each worker exits on its own if the supervisor disappears.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Sequence

from rtc_server.config import ENV_PREFIX, Config

from .private_redis import PrivateRedis, RedisUnavailable

__all__ = ["Supervisor", "WorkerFailed"]

logger = logging.getLogger(__name__)

#: Beyond the workers' own bounded shutdown (``--shutdown-timeout-s`` in all, see
#: ``rtc_server/__main__.py`` ``shutdown``; the grace covers the interpreter's exit on a
#: busy machine), before the supervisor kills them.
STOP_GRACE_S = 5.0
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
#: A worker that stayed up this long starts its next backoff from the beginning.
STABLE_UPTIME_S = 60.0


class WorkerFailed(Exception):
    """A worker died before it ever served: the supervisor gives up."""


class Supervisor:
    def __init__(self, config: Config, argv: Sequence[str]) -> None:
        self.config = config
        self.argv = list(argv)
        self.redis: PrivateRedis | None = None
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self.restarts: dict[int, int] = {}
        self._stopping = asyncio.Event()
        self._env: dict[str, str] = {}

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT (0) or a worker fails at start (1)."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            self._check_port()
            self._env = await self._worker_env()
            slots = [asyncio.create_task(self._keep_running(n), name=f"worker-{n}")
                     for n in range(1, self.config.workers + 1)]
            stop = asyncio.create_task(self._stopping.wait())
            done, _ = await asyncio.wait([stop, *slots], return_when=asyncio.FIRST_COMPLETED)
            failed = [t for t in slots if t in done and t.exception() is not None]
            self._stopping.set()
            await self._stop_workers()
            await asyncio.gather(*slots, stop, return_exceptions=True)
            if failed:
                logger.error("%s; stopping", failed[0].exception())
                return 1
            logger.info("all workers stopped")
            return 0
        except (RedisUnavailable, OSError) as exc:
            logger.error("%s", exc)
            return 1
        finally:
            if self.redis is not None:
                await self.redis.stop()

    # -- start-up ------------------------------------------------------------------------------

    def _check_port(self) -> None:
        """Fail at once (not in a restart loop) if the port is held without SO_REUSEPORT."""
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            try:
                probe.bind((self.config.host, self.config.port))
            except OSError as exc:
                raise OSError(f"cannot bind {self.config.host}:{self.config.port} for the "
                              f"workers: {exc.strerror}") from exc

    async def _worker_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if not self.config.api_secret:
            # Every worker must verify the tokens the others mint (joins and resumes).
            env[ENV_PREFIX + "API_SECRET"] = secrets.token_urlsafe(32)
        if not self.config.redis_url:
            self.redis = PrivateRedis()
            url = await self.redis.start()
            logger.info("no --redis-url: started a private %s at %s for the "
                        "workers' shared state (nothing persisted; stopped at exit)",
                        self.redis.describe(), url)
            env[ENV_PREFIX + "REDIS_URL"] = url
        return env

    # -- one worker slot -----------------------------------------------------------------------

    async def _keep_running(self, n: int) -> None:
        backoff_s = BACKOFF_FIRST_S
        ever_ready = False
        while not self._stopping.is_set():
            started = time.monotonic()
            proc, ready = await self._start(n)
            self.procs[n] = proc
            if self._stopping.is_set():  # stopped while this one was starting
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
            code = await proc.wait()
            ready_seen = await ready
            uptime_s = time.monotonic() - started
            if self._stopping.is_set():
                return
            if not ever_ready and not ready_seen:
                raise WorkerFailed(f"worker {n} exited ({_describe(code)}) before it served; "
                                   "see its log above")
            ever_ready = True
            if uptime_s >= STABLE_UPTIME_S:
                backoff_s = BACKOFF_FIRST_S
            self.restarts[n] = self.restarts.get(n, 0) + 1
            logger.warning("worker %d (pid %d) died (%s) after %.1f s; restarting "
                           "in %.1f s (restart %d)", n, proc.pid, _describe(code), uptime_s,
                           backoff_s, self.restarts[n])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), backoff_s)
            backoff_s = min(BACKOFF_MAX_S, backoff_s * 2)

    async def _start(self, n: int) -> tuple[asyncio.subprocess.Process, asyncio.Task[bool]]:
        ours, theirs = socket.socketpair()
        env = dict(self._env)
        env[ENV_PREFIX + "WORKER_ID"] = str(n)
        env[ENV_PREFIX + "WORKER_SOCKET_FD"] = str(theirs.fileno())
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "rtc_server", *self.argv, env=env,
                pass_fds=(theirs.fileno(),), process_group=0,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        logger.info("started worker %d (pid %d)", n, proc.pid)
        return proc, asyncio.create_task(self._watch(n, proc.pid, ours))

    async def _watch(self, n: int, pid: int, sock: socket.socket) -> bool:
        """True once the worker wrote ``ready`` (False if it exited first). The socket stays
        open while the worker lives: its closing at our exit is what stops an orphan."""
        sock.setblocking(False)
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        try:
            ready = (await reader.readline()).strip() == b"ready"
            if ready:
                logger.info("worker %d (pid %d) serves", n, pid)
            await reader.read()  # until the worker exits
            return ready
        except ConnectionError:
            return False
        finally:
            writer.close()

    # -- shutdown ------------------------------------------------------------------------------

    @property
    def stop_timeout_s(self) -> float:
        """How long the workers get to stop: their own shutdown bound plus a grace."""
        return self.config.shutdown_timeout_s + STOP_GRACE_S

    def _on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if not self._stopping.is_set():
            logger.info("%s: stopping the workers (again to kill them)", name)
            self._stopping.set()
            return
        logger.warning("%s again: killing the workers", name)
        for proc in self.procs.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()

    async def _stop_workers(self) -> None:
        running = [p for p in self.procs.values() if p.returncode is None]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        if not running:
            return
        waits = asyncio.gather(*(p.wait() for p in running))
        try:
            await asyncio.wait_for(waits, self.stop_timeout_s)
        except TimeoutError:
            for proc in running:
                if proc.returncode is None:
                    logger.warning("worker pid %d did not stop in %.0f s; killing it",
                                   proc.pid, self.stop_timeout_s)
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            await asyncio.gather(*(p.wait() for p in running))


def _describe(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"
