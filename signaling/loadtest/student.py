"""One load-test student: a headless :class:`~signaling.client.ClassroomClient` that counts.

It joins (honouring a server's ``retry_after`` on a refused join), then only listens:
teacher broadcasts (numbered, stamped with the teacher's send time) give loss,
duplicates and delivery latency; ``content.chunk`` events give the content delivery
latency (from the server's stamp); ``media.quality`` events count quality switches. A
video student receives video and audio without decoding them
(:class:`~rtc_server.media.counting.CountingReceiver`); a few also decode a keyframe now
and then to read the synthetic source's burned-in capture time (glass-to-glass).

The client keeps no event queue (``max_queued=0``): callbacks only, so a process with
hundreds of students does not hold every event it received. It resumes after a drop
as the client's own automatic reconnect would (resume token, ``retry_after``, backoff),
but in :meth:`StudentBot.reconnect`, which records why it dropped and why resumes failed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import TYPE_CHECKING, Any

import aiohttp

from rtc_server.media.counting import CountingReceiver
from signaling.client import ClassroomClient, ClientError
from signaling.tokens import mint_token

from .stats import Histogram

if TYPE_CHECKING:
    from .options import LoadTestOptions

__all__ = ["BROADCAST_KEY", "StudentBot"]

logger = logging.getLogger(__name__)

#: The key of the teacher's broadcast data: {"lt": [number, sent_at_ms]}.
BROADCAST_KEY = "lt"


class Latencies:
    """The histograms every student of one bot process adds to."""

    def __init__(self) -> None:
        self.events = Histogram()
        self.chunks = Histogram()
        self.glass = Histogram()


class StudentBot:
    def __init__(self, index: int, options: LoadTestOptions, latencies: Latencies) -> None:
        self.index = index
        self.user = f"{options.user_prefix}{index}"
        self.options = options
        self.latencies = latencies
        self.video = options.wants_video(index)
        self.datachannel = options.wants_datachannel(index)
        self.client: ClassroomClient | None = None
        self.joined = False
        self.join_ms: float | None = None
        self.attempts = 0
        self.waits = 0  # joins the server asked to retry later (retry_after)
        self.error: str | None = None
        self.worker = "0"
        self.counting = False  # joined before the broadcasts began: loss applies
        self._seen = bytearray()  # broadcast number -> times received
        self.duplicates = 0
        self.events = 0
        self.chunks = 0
        self.switches = 0
        self.rung_announced: str | None = None
        self.reconnects = 0
        self.drops: list[str] = []  # why each drop happened (close code, or "abnormal")
        self.resume_errors: list[str] = []
        self._window: dict[str, float] = {}
        # Every receiver this student had: a resume replaces them, and their counts only
        # grow, so sums over all of them are the student's totals at any moment.
        self._receivers: list[tuple[str, CountingReceiver]] = []

    # -- joining -------------------------------------------------------------------------------

    async def join(self) -> None:
        opts = self.options
        token = mint_token(opts.api_secret, session_id=opts.session, user_id=self.user,
                           name=self.user, role="student", ttl_s=int(opts.join_timeout_s
                                                                     + opts.duration_s + 3600))[0]
        started = time.monotonic()
        deadline = started + opts.join_timeout_s
        while True:
            self.attempts += 1
            client = ClassroomClient(
                opts.url, token, transport="auto" if self.datachannel else "websocket",
                webrtc=self.datachannel, media=self.video,
                ice_host_addresses=opts.ice_host_addresses or None, max_queued=0,
                # The bot resumes by itself (reconnect()), to count drops and failures.
                auto_reconnect=False)
            client.on(None, self._on_event)
            try:
                async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                    welcome = await client.connect()
                    if self.datachannel:
                        await client.wait_datachannel(timeout=deadline - time.monotonic())
            except ClientError as exc:
                await client.close()
                wait_s = (exc.retry_after_ms or 0) / 1000 * random.uniform(1.0, 1.2)
                if exc.retry_after_ms is not None and time.monotonic() + wait_s < deadline:
                    self.waits += 1
                    await asyncio.sleep(wait_s)
                    continue
                self.error = exc.code
                return
            except (TimeoutError, OSError, aiohttp.ClientError) as exc:
                await client.close()
                self.error = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
                return
            self.client = client
            self.joined = True
            self.join_ms = (time.monotonic() - started) * 1000
            self.worker = str(welcome.get("worker", "0"))
            return

    @property
    def dropped(self) -> bool:
        """Joined, but the server closed the connection (a worker died, a shutdown)."""
        client = self.client
        return client is not None and client.ws is not None and client.ws.closed

    async def reconnect(self) -> bool:
        """Resume after a drop (with the resume token), retrying until the join timeout."""
        assert self.client is not None
        self.drops.append(str(self.client.close_code or "abnormal"))
        self._note_receivers()
        deadline = time.monotonic() + self.options.join_timeout_s
        delay_s = 0.5
        try:
            while True:
                try:
                    async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                        await self.client.reconnect()
                        if self.datachannel:
                            await self.client.wait_datachannel(timeout=self.options.join_timeout_s)
                    break
                except (ClientError, TimeoutError, OSError, aiohttp.ClientError,
                        RuntimeError) as exc:
                    code = getattr(exc, "code", None) or type(exc).__name__
                    self.resume_errors.append(code)
                    retry_ms = getattr(exc, "retry_after_ms", None)
                    wait_s = retry_ms / 1000 if retry_ms is not None else delay_s
                    if time.monotonic() + wait_s >= deadline:
                        logger.info("%s could not resume: %s", self.user, exc)
                        return False
                    await asyncio.sleep(wait_s * random.uniform(1.0, 1.2))
                    delay_s = min(8.0, delay_s * 2)
        finally:
            self._note_receivers()
        self.reconnects += 1
        return True

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

    # -- what arrives --------------------------------------------------------------------------

    def _on_event(self, event: dict[str, Any]) -> None:
        self.events += 1
        kind = event["type"]
        if kind == "message":
            mark = (event["payload"].get("data") or {}).get(BROADCAST_KEY)
            if mark:
                self._broadcast(int(mark[0]), float(mark[1]))
        elif kind == "content.chunk":
            self.chunks += 1
            self.latencies.chunks.add(time.time() * 1000 - event["ts"])
        elif kind == "media.quality":
            self.rung_announced = event["payload"].get("rung")
            if self.counting:  # during the measurement (not the announcement at join)
                self.switches += 1

    def _broadcast(self, number: int, sent_ms: float) -> None:
        if number >= len(self._seen):
            self._seen.extend(bytes(number + 1 - len(self._seen)))
        if self._seen[number]:
            self.duplicates += 1
            return
        self._seen[number] = 1
        if self.counting:
            self.latencies.events.add(time.time() * 1000 - sent_ms)

    def broadcasts_received(self, first: int, last: int) -> int:
        return sum(1 for n in range(first, min(last, len(self._seen) - 1) + 1) if self._seen[n])

    # -- video ---------------------------------------------------------------------------------

    def mark_window(self, edge: str) -> None:
        """Note frame and byte counts at the start or end of the measurement window."""
        if self.client is None:
            return
        self._window[f"{edge}_t"] = time.monotonic()
        self._window[f"{edge}_frames"] = self.frames_total()
        self._window[f"{edge}_bytes"] = sum(c.bytes for _, c in self._note_receivers())

    def _note_receivers(self) -> list[tuple[str, CountingReceiver]]:
        if self.client is not None:
            for kind, counter in self.client.counters.items():
                if not any(c is counter for _, c in self._receivers):
                    self._receivers.append((kind, counter))
        return self._receivers

    def frames_total(self) -> int:
        """Video frames received so far, across resumes."""
        return sum(c.frames for kind, c in self._note_receivers() if kind == "video")

    def video_figures(self) -> dict[str, Any] | None:
        """fps and bits per second received in the window, and the rung delivered."""
        if (not self.video or self.client is None
                or not {"start_t", "end_t"} <= self._window.keys()):
            return None
        w = self._window
        elapsed = max(1e-6, w["end_t"] - w["start_t"])
        # The newest keyframe size any of its receivers saw: the rung it ended on.
        sizes = [c.frame_size for kind, c in self._receivers if kind == "video" and c.frame_size]
        return {
            "fps": (w["end_frames"] - w["start_frames"]) / elapsed,
            "bps": (w["end_bytes"] - w["start_bytes"]) * 8 / elapsed,
            "frame_size": list(sizes[-1]) if sizes else None,
            "max_gap_s": max((c.max_gap_s for kind, c in self._receivers if kind == "video"),
                             default=None),
        }

    async def sample_glass(self, stop: asyncio.Event) -> None:
        """Read the burned-in capture time of keyframes until ``stop`` (a few students)."""
        video = self.client.counters.get("video") if self.client else None
        while video is not None and not stop.is_set():
            try:
                sample = await video.sample(timeout_s=10.0)
            except TimeoutError:
                continue
            if sample is not None and not stop.is_set():
                self.latencies.glass.add(sample.latency_ms)
