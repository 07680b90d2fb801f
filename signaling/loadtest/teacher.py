"""The load test's synthetic teacher: creates the session, publishes, broadcasts, teaches.

- **Publishing** (``--publish synthetic``): the synthetic test pattern (burned-in frame
  counter and capture time, read back by students for glass-to-glass latency) and a
  440 Hz tone, over WHIP (``POST /whip/<session>`` with the API secret) or as the
  teacher's camera over the classroom protocol (``--publish-via teacher``).
- **Broadcasts** (``--rate``): numbered ``message`` events to the whole class through
  ``POST /api/sessions/<id>/events``, each stamped with its send time; students derive
  loss, duplicates and delivery latency from them. Sends follow a fixed schedule; a
  server too slow to keep up shows as an achieved rate below the asked one.
- **Content** (``--content``): one AI lesson (``content.request``) streamed to the class
  by the server's configured model (the embedded local composer unless one is set).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from typing import Any

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription

from rtc_server.media import SyntheticAudioTrack, SyntheticVideoTrack
from rtc_server.patches.ice import restrict_host_addresses
from signaling.client import ClassroomClient
from signaling.tokens import mint_token

from .options import LoadTestOptions
from .student import BROADCAST_KEY

__all__ = ["LoadTestError", "SyntheticTeacher"]

logger = logging.getLogger(__name__)

TEACHER_ID = "lt-teacher"
#: Broadcasts sent but not yet answered, at most.
MAX_IN_FLIGHT = 16


class LoadTestError(Exception):
    """The load test cannot run (no server, wrong secret, session ended)."""


def parse_size(spec: str) -> tuple[int, int, float]:
    try:
        size, _, fps = spec.partition("@")
        width, height = (int(v) for v in size.lower().split("x"))
        return width, height, float(fps or 30)
    except ValueError as exc:
        raise LoadTestError(f"--publish-size must look like 1280x720@30, not {spec!r}") from exc


class SyntheticTeacher:
    def __init__(self, options: LoadTestOptions) -> None:
        self.options = options
        self.http: aiohttp.ClientSession | None = None
        self.pc: RTCPeerConnection | None = None
        self.whip_location: str | None = None
        self.client: ClassroomClient | None = None
        self.sent = 0
        self.send_failures = 0
        self.send_ms: list[float] = []
        self.broadcast_started: float | None = None
        self.broadcast_ended: float | None = None
        self.content: dict[str, Any] = {}
        self._stop = asyncio.Event()

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.options.api_secret}"}

    async def open(self) -> None:
        """Reach the server and make sure the session exists and is active."""
        self.http = aiohttp.ClientSession(headers=self._auth)
        url = f"{self.options.url}/api/sessions"
        try:
            async with self.http.post(url, json={"session_id": self.options.session,
                                                 "teacher_id": TEACHER_ID,
                                                 "subject": "Load test"}) as resp:
                if resp.status in (401, 403):
                    raise LoadTestError(f"the server refused the API secret ({resp.status})")
                if resp.status not in (201, 409):
                    raise LoadTestError(f"creating the session: {resp.status} "
                                        f"{await resp.text()}")
            async with self.http.get(f"{url}/{self.options.session}") as resp:
                record = await resp.json()
        except aiohttp.ClientError as exc:
            raise LoadTestError(f"cannot reach {self.options.url}: {exc}") from exc
        if record.get("status") != "active":
            raise LoadTestError(f"session {self.options.session!r} has ended; pass another "
                                "--session")

    def _token(self) -> str:
        return mint_token(self.options.api_secret, session_id=self.options.session,
                          user_id=TEACHER_ID, name="Load-test teacher", role="teacher",
                          ttl_s=24 * 3600)[0]

    async def _teacher_client(self, **kwargs: Any) -> ClassroomClient:
        if self.client is None:
            self.client = ClassroomClient(
                self.options.url, self._token(),
                ice_host_addresses=self.options.ice_host_addresses or None, **kwargs)
            self.client.on("content.chunk", self._on_chunk)
            self.client.on("content.done", self._on_content_end)
            self.client.on("content.failed", self._on_content_end)
            await self.client.connect()
        return self.client

    # -- media ---------------------------------------------------------------------------------

    async def publish(self) -> None:
        width, height, fps = parse_size(self.options.publish_size)
        tracks = [SyntheticVideoTrack(width, height, fps), SyntheticAudioTrack()]
        if self.options.publish_via == "teacher":
            client = await self._teacher_client(publish=tracks)
            await client.wait_datachannel(timeout=30)
            return
        if self.options.ice_host_addresses:
            restrict_host_addresses(self.options.ice_host_addresses)
        self.pc = RTCPeerConnection()
        for track in tracks:
            self.pc.addTransceiver(track, direction="sendonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        assert self.http is not None
        async with self.http.post(f"{self.options.url}/whip/{self.options.session}",
                                  data=self.pc.localDescription.sdp,
                                  headers={"Content-Type": "application/sdp"}) as resp:
            answer = await resp.text()
            if resp.status != 201:
                raise LoadTestError(f"WHIP publish refused: {resp.status} {answer}")
            self.whip_location = resp.headers["Location"]
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    # -- broadcasts ----------------------------------------------------------------------------

    async def broadcast(self, rate_per_s: float) -> None:
        """Send numbered broadcasts at ``rate_per_s`` until :meth:`stop_broadcasts`.

        Sends follow the schedule without waiting for the previous answer (up to
        :data:`MAX_IN_FLIGHT` at once), so a slow server shows as slow deliveries, not
        as a lower rate; it falls behind only when that many are unanswered.
        """
        url = f"{self.options.url}/api/sessions/{self.options.session}/events"
        start = self.broadcast_started = time.monotonic()
        in_flight: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        while not self._stop.is_set():
            due = start + self.sent / rate_per_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), max(0.0, due - time.monotonic()))
            if self._stop.is_set():
                break
            await slots.acquire()
            self.sent += 1  # a failed send still used its number: it counts as lost
            task = asyncio.create_task(self._send(url, self.sent, slots))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        self.broadcast_ended = time.monotonic()
        await asyncio.gather(*in_flight, return_exceptions=True)

    async def _send(self, url: str, number: int, slots: asyncio.Semaphore) -> None:
        assert self.http is not None
        sent_at = time.monotonic()
        body = {"text": "", "data": {BROADCAST_KEY: [number, time.time() * 1000]}}
        try:
            async with self.http.post(url, json=body) as resp:
                ok = resp.status == 202
        except aiohttp.ClientError:
            ok = False
        finally:
            slots.release()
        self.send_ms.append((time.monotonic() - sent_at) * 1000)
        if not ok:
            self.send_failures += 1

    def stop_broadcasts(self) -> None:
        self._stop.set()

    @property
    def achieved_rate(self) -> float:
        if self.broadcast_started is None or self.broadcast_ended is None:
            return 0.0
        return self.sent / max(1e-6, self.broadcast_ended - self.broadcast_started)

    # -- content -------------------------------------------------------------------------------

    async def request_content(self) -> None:
        client = await self._teacher_client(webrtc=False)
        prompt = (f"Explain photosynthesis to a grade 7 class (load test "
                  f"{secrets.token_hex(3)})")  # a new prompt: not served from the cache
        reply = await client.request({"type": "content.request",
                                      "request": {"kind": "lesson", "prompt": prompt}})
        self.content = {"accepted": reply.get("type"), "chunks": 0, "finished": None,
                        "requested_at": time.monotonic()}

    def _on_chunk(self, event: dict[str, Any]) -> None:
        if self.content:
            self.content["chunks"] += 1

    def _on_content_end(self, event: dict[str, Any]) -> None:
        if self.content:
            self.content["finished"] = event["type"]
            self.content["seconds"] = round(time.monotonic() - self.content["requested_at"], 2)

    # -- end -----------------------------------------------------------------------------------

    async def close(self) -> None:
        if self.whip_location and self.http is not None:
            with contextlib.suppress(aiohttp.ClientError):
                async with self.http.delete(f"{self.options.url}{self.whip_location}"):
                    pass
        if self.pc is not None:
            await self.pc.close()
        if self.client is not None:
            await self.client.close()
        if self.http is not None:
            await self.http.close()
