"""Adaptive quality: feeds each viewer's estimator and applies its policy's decisions.

The thin shell around :mod:`adaptive` (pure code). About once a second, for
every viewer with video in this process, it

* reads the receiver reports of the viewer's video sender (loss fraction,
  jitter, round-trip time, from aiortc's ``remote-inbound-rtp`` stats) and the
  REMB estimates the receiver sent (captured as they arrive),
* adds what was actually sent (bytes delivered to the sender) and round trips
  the client reported with its pings (data-channel probes; these also give
  data-only clients an estimate),
* asks the :class:`~adaptive.policy.QualityPolicy` and applies a decision
  through the ladder's rung switch, announcing it (`media.quality`, with the
  policy's reason) to the student and the teacher.

Probing: the policy asks for headroom to be shown before stepping up. aiortc
cannot send RTP padding, so the probe is the next rung itself for a few
seconds (the viewer's track switches, ``viewer.wanted`` does not): if the
link carries it the policy commits, if loss or delay appear it aborts and the
viewer goes back. A failed probe backs off (see the policy).

aiortc keeps REMB to the sender's own (idle) encoder;
:func:`rtc_server.patches.capture_remb` passes it on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adaptive.estimator import BandwidthEstimator
from adaptive.levels import RUNGS, QualityLevel, level_by_name
from adaptive.policy import QualityPolicy
from rtc_server.base.exceptions import ClassroomError
from rtc_server.patches import capture_remb

if TYPE_CHECKING:
    from .hub import MediaHub, SessionMedia, Viewer

logger = logging.getLogger(__name__)

INTERVAL_S = 1.0
VIDEO_CLOCK_HZ = 90_000


@dataclass(eq=False)
class ViewerLink:
    """One viewer's estimator and policy, and what was last read from its sender."""

    estimator: BandwidthEstimator
    policy: QualityPolicy
    last_report_ts: Any = None
    last_bytes: int = 0
    last_bytes_ms: float | None = None
    probing_on: str | None = None
    decisions: int = 0
    last_estimate: dict[str, Any] = field(default_factory=dict)


def _now_ms() -> float:
    return time.monotonic() * 1000


class QualityController:
    def __init__(self, hub: MediaHub, *, interval_s: float = INTERVAL_S) -> None:
        self.hub = hub
        self.interval_s = interval_s
        self.links: dict[str, ViewerLink] = {}  # by connection id
        self.rtts: dict[str, float] = {}  # latest client-reported RTT by connection id
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def on_ping_rtt(self, conn_id: str, rtt_ms: float) -> None:
        """A round trip the client measured with ``ping``/``pong`` (the data-channel probe)."""
        self.rtts[conn_id] = rtt_ms
        link = self.links.get(conn_id)
        if link is not None:
            link.estimator.on_probe_rtt(_now_ms(), rtt_ms)

    def link(self, viewer: Viewer) -> ViewerLink:
        link = self.links.get(viewer.conn_id)
        if link is None:
            # Trial probes and the three rungs only until the forwarding sender can pad and
            # drop temporal layers (issue 14's media part).
            link = ViewerLink(BandwidthEstimator(),
                              QualityPolicy(initial_level=level_by_name(viewer.wanted),
                                            probe_by_trial=True, ladder=RUNGS))
            sender = viewer.senders.get("video")
            if sender is not None:
                estimator = link.estimator
                capture_remb(sender, lambda bps: estimator.on_remb(_now_ms(), bps))
            self.links[viewer.conn_id] = link
        return link

    async def _run(self) -> None:
        logger.debug("QualityController started")
        try:
            while True:
                await asyncio.sleep(self.interval_s)
                for media in list(self.hub.sessions.values()):
                    for viewer in list(media.viewers.values()):
                        if viewer.video is not None and not viewer.manual:
                            try:
                                await self.step(media, viewer, _now_ms())
                            except ClassroomError as exc:
                                # The viewer left while the step awaited its stats: skip it,
                                # the others still need adapting.
                                logger.debug("quality step for %s skipped: %s",
                                             viewer.conn_id, exc.message)
                live = {c for m in self.hub.sessions.values() for c in m.viewers}
                for conn_id in set(self.links) - live:
                    del self.links[conn_id]
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("QualityController failed")
        finally:
            logger.debug("QualityController exited")

    async def step(self, media: SessionMedia, viewer: Viewer, now_ms: float) -> None:
        link = self.link(viewer)
        await self._read_sender(viewer, link, now_ms)
        policy = link.policy
        policy.set_pinned_max(_level(viewer.pinned_max))
        policy.set_server_cap(_level(self.hub.server_cap))
        ladder = media.current("video")
        offered = ladder.offered() if ladder is not None else []
        policy.set_source_max(level_by_name(offered[0]) if offered else None)
        estimate = link.estimator.estimate(now_ms)
        link.last_estimate = {"available_kbps": round(estimate.available_bps / 1000),
                              "rtt_ms": estimate.rtt_ms, "loss": estimate.loss_fraction,
                              "source": estimate.source}
        decision = policy.update(now_ms, estimate)
        if decision is not None:
            link.decisions += 1
            link.probing_on = None
            await media.set_rung(viewer.user_id, decision.level.name, by="adaptive",
                                 reason=decision.reason, urgent=decision.kind == "down")
            return
        state = policy.state
        track = viewer.video
        assert track is not None
        if state.probing and state.probe_level is not None:
            if link.probing_on != state.probe_level.name:
                link.probing_on = state.probe_level.name
                track.set_rung(state.probe_level.name)  # the probe: try the next rung
        elif link.probing_on is not None:
            link.probing_on = None
            track.set_rung(media.effective(viewer))  # probe over: back to the committed rung

    async def _read_sender(self, viewer: Viewer, link: ViewerLink, now_ms: float) -> None:
        sent = sum(t.stats().get("bytes_sent", 0) for t in (viewer.video, viewer.audio) if t)
        if link.last_bytes_ms is not None and now_ms > link.last_bytes_ms:
            bps = (sent - link.last_bytes) * 8000 / (now_ms - link.last_bytes_ms)
            link.estimator.on_sent_bitrate(now_ms, bps)
        link.last_bytes, link.last_bytes_ms = sent, now_ms
        sender = viewer.senders.get("video")
        if sender is None:
            return
        try:
            report = await sender.getStats()
        except Exception:  # the transport may be closing
            return
        for stats in report.values():
            if getattr(stats, "type", "") != "remote-inbound-rtp":
                continue
            if stats.timestamp == link.last_report_ts:
                return  # no new receiver report since the last step
            link.last_report_ts = stats.timestamp
            rtt = stats.roundTripTime
            link.estimator.on_receiver_report(
                now_ms, (stats.fractionLost or 0) / 256,
                (stats.jitter or 0) * 1000 / VIDEO_CLOCK_HZ,
                rtt * 1000 if rtt is not None else self.rtts.get(viewer.conn_id))

    def status(self, conn_id: str) -> dict[str, Any]:
        link = self.links.get(conn_id)
        if link is None:
            return {}
        state = link.policy.state
        return {"policy_level": state.level.name, "probing": state.probing,
                "probe_level": state.probe_level.name if state.probe_level else None,
                "estimate": link.last_estimate, "decisions": link.decisions}


def _level(name: str | None) -> QualityLevel | None:
    return level_by_name(name) if name else None
