"""``python -m rtc_server``: run the classroom server (``classroom-rtc``).

``classroom-rtc loadtest ...`` runs the load test instead (:mod:`signaling.loadtest`);
``--workers N`` runs N server processes under a supervisor (:mod:`rtc_server.workers`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from rtc_server.config import Config, load_config

logger = logging.getLogger("rtc_server")


def _links(config: Config, session: str) -> str:
    base = config.base_url
    return (
        f"\n  classroom-rtc is running on {base}  (dev mode, session {session!r})\n"
        f"  Teacher: {base}/dev/join?session={session}&role=teacher&user=teacher\n"
        f"  Student: {base}/dev/join?session={session}&role=student   (each open = new student)\n"
    )


async def publish_synthetic(app: web.Application, session_id: str, spec: str) -> None:
    """Publish the synthetic test pattern and tone into a class, as its teacher's camera."""
    from rtc_server.media import SyntheticAudioTrack, SyntheticVideoTrack
    from signaling.keys import MEDIA

    try:
        size, _, fps = spec.partition("@")
        width, height = (int(v) for v in size.lower().split("x"))
        rate = float(fps or 30)
    except ValueError as exc:
        raise SystemExit(f"--synthetic-source must look like 1280x720@30, not {spec!r}") from exc
    media = app[MEDIA].hub.session(session_id)
    await media.publish(SyntheticVideoTrack(width, height, rate), origin="synthetic",
                        role="camera")
    await media.publish(SyntheticAudioTrack(), origin="synthetic", role="microphone")


async def serve(config: Config, *, demo_session: str | None = None) -> None:
    """Run until SIGTERM/SIGINT (a worker: also until its supervisor is gone), then shut
    down in order (see :func:`shutdown`)."""
    from rtc_server.workers import serve_supervisor
    from signaling.app import create_app
    from signaling.guard import GuardedSite
    from signaling.keys import CLASSROOM

    config = config.with_secret()
    app = create_app(config)
    # Our own signal handling (not aiohttp's, which raises out of the event loop and
    # leaves asyncio to cancel every task at once): a signal starts the ordered shutdown.
    runner = web.AppRunner(app, handle_signals=False,
                           shutdown_timeout=config.shutdown_handlers_s)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runner.setup()
    supervisor: asyncio.Task[None] | None = None
    try:
        # A worker shares the port with its siblings: the kernel spreads connections over them.
        site = GuardedSite(runner, config.host, config.port,
                           reuse_port=config.is_worker or None)
        await site.start()
        # With several workers, the first one sets up the demo class and prints the links.
        if config.worker_id in ("", "1"):
            if config.dev and demo_session:
                classroom = app[CLASSROOM]
                if await classroom.store.get(demo_session) is None:
                    await classroom.create_session(session_id=demo_session, teacher_id="teacher",
                                                   subject="Science", grade_level="7",
                                                   current_topic="Photosynthesis")
                if config.synthetic_source:
                    await publish_synthetic(app, demo_session, config.synthetic_source)
                print(_links(config, demo_session), flush=True)
            else:
                workers = f" ({config.workers} workers)" if config.is_worker else ""
                print(f"classroom-rtc is running on {config.base_url}{workers}", flush=True)
        if config.worker_socket_fd >= 0:
            supervisor = asyncio.create_task(serve_supervisor(config, stop))
        await stop.wait()
    finally:
        if supervisor is not None:
            supervisor.cancel()
        await shutdown(runner, config.shutdown_timeout_s)


async def shutdown(runner: web.AppRunner, timeout_s: float) -> None:
    """Stop accepting, tell every client 1001, close peers, flush, then stop what is left;
    all of it within ``timeout_s``.

    aiohttp stops the listening sockets, our on_shutdown hook closes every connection
    with 1001 "server restarting: reconnect" (peers get a bounded wait: half the
    timeout), the handlers return (a fifth), the app's cleanup stops features and
    storage. What is not done by the deadline less a reserve is cancelled; anything still
    running then (a library task that ignores cancellation) gets the reserve, and the
    process exits anyway at the deadline (:class:`_StuckTasks`).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    reserve = min(STRAGGLERS_S, timeout_s / 4)
    logger.info("shutting down (within %.1f s)", timeout_s)
    try:
        await asyncio.wait_for(runner.cleanup(), max(0.0, deadline - reserve - loop.time()))
    except TimeoutError:
        logger.warning("shutdown did not finish in %.1f s; stopping anyway", timeout_s - reserve)
    current = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in left:
        task.cancel()
    if left:
        done, pending = await asyncio.wait(left, timeout=max(0.05, deadline - loop.time()))
        if pending:
            logger.warning("%d tasks ignored cancellation: %s", len(pending),
                           ", ".join(sorted(t.get_name() for t in pending)[:5]))
            raise _StuckTasks
    logger.info("stopped")


#: At most this long of the shutdown timeout is kept for cancelling what outlived the
#: cleanup (a quarter of it when the timeout is short).
STRAGGLERS_S = 1.0


class _StuckTasks(Exception):
    """Tasks that ignore cancellation would hang asyncio's own cleanup: exit without it."""


def _log_format(config: Config, role: str = "") -> str:
    who = f" {role}" if role else (f" w{config.worker_id}" if config.worker_id else "")
    return f"%(asctime)s{who} %(levelname)s %(name)s: %(message)s"


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["loadtest"]:
        from signaling.loadtest.cli import main as loadtest

        raise SystemExit(loadtest(args[1:]))
    try:
        config, ns = load_config(args)
        config.with_secret()  # a secret too short is refused here, before any worker starts
    except ValueError as exc:
        raise SystemExit(f"classroom-rtc: {exc}") from None
    supervising = config.workers > 1 and not config.is_worker
    logging.basicConfig(
        level=getattr(logging, config.log_level.upper(), logging.INFO),
        format=_log_format(config, "supervisor" if supervising else ""),
    )
    if config.log_level.lower() != "debug":
        # The access log would print join tokens (they are in /ws?token=...) in every line.
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if supervising:
        from rtc_server.workers import Supervisor

        raise SystemExit(asyncio.run(Supervisor(config, args).run()))
    coro = serve(config, demo_session=ns.demo_session)
    try:
        if config.uvloop and sys.platform != "win32":
            import uvloop

            uvloop.run(coro)
        else:
            asyncio.run(coro)
    except _StuckTasks:
        logging.shutdown()
        os._exit(0)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
