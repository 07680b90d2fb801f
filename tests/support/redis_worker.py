"""A second (and third) server process for tests/test_redis_concurrency.py.

    python -m tests.support.redis_worker context|publish URL PREFIX SESSION WORKER COUNT

It connects, prints ``ready``, waits for a ``go`` line on stdin (so that the
workers start together), does COUNT operations as worker WORKER and prints ``done``.

* ``context``: ``update_context`` with the keys ``w<WORKER>-<i>`` and ``last_writer``.
* ``publish``: publishes ``{"worker": WORKER, "i": i}`` events to the session.
"""

from __future__ import annotations

import asyncio
import sys

from rtc_server.base.protocol import Audience
from rtc_server.state.redis_bus import RedisBus
from rtc_server.state.redis_store import RedisStore
from tests.support.redis_util import redis_client


async def run_context(url: str, prefix: str, session: str, worker: int, count: int) -> None:
    client = redis_client(url)
    store = RedisStore(client, key_prefix=prefix)
    try:
        await store.get(session)  # connect before the start signal
        await ready()
        for i in range(count):
            await store.update_context(session, {f"w{worker}-{i}": i, "last_writer": worker})
    finally:
        await client.aclose()


async def run_publish(url: str, prefix: str, session: str, worker: int, count: int) -> None:
    client = redis_client(url)
    bus = RedisBus(client, key_prefix=prefix)
    await bus.start()
    try:
        await ready()
        for i in range(count):
            await bus.publish(session, Audience.session(), "tick", {"worker": worker, "i": i})
    finally:
        await bus.close()
        await client.aclose()


async def ready() -> None:
    print("ready", flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    if line.strip() != "go":
        raise SystemExit(f"expected 'go', got {line!r}")


def main(argv: list[str]) -> None:
    mode, url, prefix, session, worker, count = argv
    run = {"context": run_context, "publish": run_publish}[mode]
    asyncio.run(run(url, prefix, session, int(worker), int(count)))
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
