"""The adaptive controller on real aiortc peers (loopback: plenty of bandwidth)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from adaptive.estimator import BandwidthEstimator
from rtc_server.media import SyntheticAudioTrack, SyntheticVideoTrack
from signaling.keys import MEDIA


@pytest.fixture
async def adaptive(make_server):
    server = await make_server(adaptive_quality=True, media_initial_rung="low")
    await server.classroom.create_session(session_id="s1", teacher_id="teacher")
    teacher = await server.client("teacher", "teacher", publish=[
        SyntheticVideoTrack(1920, 1080, 10), SyntheticAudioTrack()])
    return server, teacher


async def quality_events(client, n: int, timeout: float) -> list[dict]:
    out = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            out.append((await client.next_event("media.quality", timeout=timeout))["payload"])
    return out


async def test_unconstrained_viewer_climbs_to_the_top_rung_with_reasons(adaptive):
    server, teacher = adaptive
    student = await server.client("up", media=True)
    (event,) = await quality_events(student, 1, timeout=40)
    assert event["by"] == "adaptive"
    assert event["previous"] == "low" and event["rung"] == "high"  # probed straight to the top
    assert "up" in event["reason"]
    counter = student.counters["video"]
    async with asyncio.timeout(10):
        while counter.frame_size != (1920, 1080):
            await asyncio.sleep(0.1)
    status = server.app[MEDIA].quality.status(next(iter(server.app[MEDIA].hub.sessions["s1"].viewers)))
    assert status["policy_level"] == "high" and status["estimate"]["loss"] < 0.02
    # Probed with padding on the rung it had (RTX copies, paced), not by trying the rung.
    assert status["probe_by_trial"] is False and status["probes"] >= 1, status
    assert "probe" in event["reason"] and "carried" in event["reason"], event["reason"]


@pytest.fixture
def clean_link(monkeypatch):
    """Every viewer's link reads as fast and loss-free, however busy the machine: the test
    and its clients share one process, and a starved process reports late, lossy links."""
    measured = BandwidthEstimator.estimate

    def estimate(self, now_ms):
        return dataclasses.replace(measured(self, now_ms), available_bps=50_000_000,
                                   loss_fraction=0.0, smoothed_loss_fraction=0.0,
                                   rtt_ms=5.0, source="remb", confidence="high")

    monkeypatch.setattr(BandwidthEstimator, "estimate", estimate)


async def test_manual_rung_stops_adaptation_until_auto(adaptive, clean_link):
    server, teacher = adaptive
    await server.client("man", media=True)
    await teacher.request({"type": "media.set_rung", "user": "man", "rung": "low"})
    await asyncio.sleep(12)  # longer than the policy needs to step up on loopback
    media = server.app[MEDIA].hub.sessions["s1"]
    (viewer,) = [v for v in media.viewers.values() if v.user_id == "man"]
    assert viewer.manual and media.effective(viewer) == "low"
    await teacher.request({"type": "media.set_rung", "user": "man", "rung": "auto"})
    async with asyncio.timeout(40):
        while media.effective(viewer) != "high":
            await asyncio.sleep(0.2)


async def test_a_returning_student_starts_within_what_its_link_showed_last(adaptive):
    server, teacher = adaptive
    quality = server.app[MEDIA].quality
    media = server.app[MEDIA].hub.sessions["s1"]
    first = await server.client("back", media=True)
    async with asyncio.timeout(30):  # the controller has made the viewer's link
        while not any(link.owner == ("s1", "back") for link in quality.links.values()):
            await asyncio.sleep(0.1)
    await first.close()
    async with asyncio.timeout(10):  # ... and keeps what it showed once the viewer left
        while ("s1", "back") not in quality.memories:
            await asyncio.sleep(0.1)
    # Loopback shows plenty; the link this student had last time carried 0.7 Mbps.
    memory = quality.memories[("s1", "back")]
    quality.memories[("s1", "back")] = dataclasses.replace(memory, capacity_bps=700_000)

    again = await server.client("back", media=True)
    (event,) = await quality_events(again, 1, timeout=30)
    assert event["by"] == "adaptive" and event["reason"].startswith("start:"), event
    assert event["previous_step"] == "low" and event["step"] == "low_half", event
    assert "fewer frames" in event["notice"]
    (viewer,) = [v for v in media.viewers.values() if v.user_id == "back"]
    assert media.effective_step(viewer) == "low_half"
    assert ("s1", "back") not in quality.memories  # taken by the new link


def test_loss_is_read_over_the_whole_step_not_from_the_newest_report_alone():
    # Chromium sends a receiver report with every NACK: the newest one covers tens of
    # milliseconds and said 0 % while 45 of the 100 packets of the last second were lost.
    from types import SimpleNamespace

    from adaptive.policy import QualityPolicy
    from rtc_server.media.quality_control import ViewerLink, _interval_loss

    link = ViewerLink(BandwidthEstimator(), QualityPolicy())
    first = SimpleNamespace(packetsLost=10, packetsReceived=990, fractionLost=0)
    assert _interval_loss(link, first) == 0.0  # no earlier count: the report's own figure
    later = SimpleNamespace(packetsLost=55, packetsReceived=1045, fractionLost=0)
    assert _interval_loss(link, later) == pytest.approx(0.45)
    # Packets recovered by retransmission lower the receiver's count: no negative loss.
    recovered = SimpleNamespace(packetsLost=50, packetsReceived=1150, fractionLost=0)
    assert _interval_loss(link, recovered) == 0.0
