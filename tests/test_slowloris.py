"""Slow and silent clients cannot hold the server's sockets; peers that never connect go."""

from __future__ import annotations

import asyncio
import time

import psutil
import pytest

from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(120)


async def _open(port: int, head: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    await writer.drain()
    return reader, writer


async def test_half_sent_and_silent_connections_are_closed() -> None:
    server = await ServerProcess().start()
    socks = []
    try:
        proc = psutil.Process(server.proc.pid)
        fds_before = proc.num_fds()
        # 300 from one address: 256 may wait for their head, the rest are refused at once.
        for i in range(300):
            head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" if i % 2 else b""
            socks.append(await _open(server.port, head))
        await asyncio.sleep(1)
        closed_at_once = 0
        for reader, _ in socks:
            try:
                closed_at_once += await asyncio.wait_for(reader.read(1), 0.02) == b""
            except TimeoutError:
                pass  # still open, waiting for its head
            except ConnectionError:
                closed_at_once += 1
        assert closed_at_once == 300 - 256
        # Someone else (another address: 127.0.0.2 is loopback too) is still served meanwhile.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port,
                                                       local_addr=("127.0.0.2", 0))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 200")
        writer.close()
        # After the head timeout (10 s) every half-sent or silent connection is gone.
        started = time.monotonic()
        for reader, _ in socks:
            async with asyncio.timeout(20):
                try:
                    assert await reader.read() == b""
                except ConnectionError:
                    pass  # reset: closed too
        assert time.monotonic() - started < 15
        await asyncio.sleep(0.5)
        assert proc.num_fds() <= fds_before + 10
        assert "no request head within 10 s" in server.log()
    finally:
        for _, writer in socks:
            writer.close()
        await server.stop()


async def test_a_peer_that_never_connects_is_closed(make_server) -> None:
    from aiortc import RTCPeerConnection

    server = await make_server(peer_connect_timeout_s=1.5)
    await server.classroom.create_session(session_id="s1", teacher_id="teacher")
    client = await server.client("ada", webrtc=False)
    pc = RTCPeerConnection()
    pc.createDataChannel("events")
    await pc.setLocalDescription(await pc.createOffer())
    reply = await client.request({"type": "offer", "sdp": pc.localDescription.sdp})
    assert reply["type"] == "answer"
    await pc.close()  # it never answers the server's connectivity checks
    (conn,) = server.classroom.rooms["s1"].connections.values()
    assert conn.peer is not None
    async with asyncio.timeout(10):
        while conn.peer is not None:
            await asyncio.sleep(0.1)
    assert (await client.ping()) > 0  # the WebSocket carries on
