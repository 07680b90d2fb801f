"""``python -m rtc_server``: run the classroom server."""

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
    """Run until SIGTERM/SIGINT, then shut down in order (see :func:`shutdown`)."""
    from signaling.app import create_app
    from signaling.guard import GuardedSite
    from signaling.keys import CLASSROOM

    config = config.with_secret()
    app = create_app(config)
    # Our own signal handling (not aiohttp's, which raises out of the event loop and
    # leaves asyncio to cancel every task at once): a signal starts the ordered shutdown.
    runner = web.AppRunner(app, handle_signals=False,
                           shutdown_timeout=config.shutdown_timeout_s)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runner.setup()
    try:
        site = GuardedSite(runner, config.host, config.port)
        await site.start()
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
            print(f"classroom-rtc is running on {config.base_url}", flush=True)
        await stop.wait()
    finally:
        await shutdown(runner, config.shutdown_timeout_s)


async def shutdown(runner: web.AppRunner, timeout_s: float) -> None:
    """Stop accepting, tell every client 1001, close peers, flush, then stop what is left.

    aiohttp stops the listening sockets, our on_shutdown hook closes every connection
    with 1001 "server restarting: reconnect" (peers get a bounded wait), the handlers
    return, the app's cleanup stops features and storage. Anything still running after
    that (a library task that ignores cancellation) is cancelled and given one second;
    the process then exits anyway.
    """
    logger.info("shutting down (within %.0f s)", timeout_s)
    try:
        await asyncio.wait_for(runner.cleanup(), timeout_s * 2 + 2)
    except TimeoutError:
        logger.warning("shutdown did not finish in %.0f s; stopping anyway", timeout_s * 2 + 2)
    current = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in left:
        task.cancel()
    if left:
        done, pending = await asyncio.wait(left, timeout=1.0)
        if pending:
            logger.warning("%d tasks ignored cancellation: %s", len(pending),
                           ", ".join(sorted(t.get_name() for t in pending)[:5]))
            raise _StuckTasks
    logger.info("stopped")


class _StuckTasks(Exception):
    """Tasks that ignore cancellation would hang asyncio's own cleanup: exit without it."""


def main(argv: Sequence[str] | None = None) -> None:
    config, ns = load_config(argv)
    logging.basicConfig(
        level=getattr(logging, config.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if config.log_level.lower() != "debug":
        # The access log would print join tokens (they are in /ws?token=...) in every line.
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
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
