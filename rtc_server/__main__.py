"""``python -m rtc_server``: run the classroom server."""

from __future__ import annotations

import asyncio
import logging
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
    from signaling.app import create_app
    from signaling.keys import CLASSROOM

    config = config.with_secret()
    app = create_app(config)
    runner = web.AppRunner(app, handle_signals=True)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
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
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


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
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
