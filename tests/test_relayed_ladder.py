"""A relayed ladder's rungs: order, gaps and keyframe requests (no Redis: a recording link)."""

from __future__ import annotations

from rtc_server.media.encoder import VIDEO_TIME_BASE, EncodedPacket
from rtc_server.media.relayed_ladder import RelayedLadder, RemoteRung


class Link:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def want(self, rung) -> None:
        self.calls.append(("want", rung.name))

    def unwant(self, rung) -> None:
        self.calls.append(("unwant", rung.name))

    def request_keyframe(self, rung) -> None:
        self.calls.append(("key", rung.name))


class Recorder:
    def __init__(self) -> None:
        self.got: list[int] = []

    def _deliver(self, rung, packet) -> None:
        self.got.append(packet.pts)


def frame(pts: int, key: bool = False) -> EncodedPacket:
    return EncodedPacket(b"x" * 10, pts, VIDEO_TIME_BASE, is_keyframe=key, width=852,
                         height=480)


def ladder(link: Link) -> RelayedLadder:
    return RelayedLadder("s1", {"node": "a", "ladder": "L", "kind": "video", "width": 1280,
                                "height": 720}, link)


async def test_the_first_listener_asks_for_the_rung_and_the_last_withdraws():
    link = Link()
    rung = ladder(link).rung("low")
    assert isinstance(rung, RemoteRung)
    one, two = Recorder(), Recorder()
    rung.add(one)
    rung.add(two)
    rung.remove(one)
    assert link.calls == [("want", "low")]
    rung.remove(two)
    assert link.calls == [("want", "low"), ("unwant", "low")] and not rung.running


async def test_delivery_starts_at_a_keyframe_and_a_gap_waits_for_the_next():
    link = Link()
    rung = ladder(link).rung("low")
    got = Recorder()
    rung.add(got)
    rung.receive(9, 1, frame(0), 0.0)  # joined mid-stream: no reference yet
    rung.receive(9, 2, frame(3000, key=True), 0.0)
    rung.receive(9, 3, frame(6000), 0.0)
    rung.receive(9, 5, frame(12000), 0.0)  # frame 4 lost in transit
    rung.receive(9, 6, frame(15000), 0.0)
    rung.receive(9, 7, frame(18000, key=True), 0.0)
    rung.receive(9, 7, frame(18000, key=True), 0.0)  # a duplicate is never delivered twice
    assert got.got == [3000, 6000, 18000]
    assert rung.frames_lost == 1
    assert ("key", "low") in link.calls  # the origin was asked for a keyframe


async def test_a_restarted_origin_stream_starts_again_at_a_keyframe():
    link = Link()
    rung = ladder(link).rung("low")
    got = Recorder()
    rung.add(got)
    rung.receive(1, 1, frame(0, key=True), 0.0)
    rung.receive(2, 1, frame(3000), 0.0)  # a new epoch: the tap restarted
    rung.receive(2, 2, frame(6000, key=True), 0.0)
    assert got.got == [0, 6000] and rung.frames_lost == 0


async def test_offered_rungs_follow_the_announced_source_size():
    small = RelayedLadder("s1", {"node": "a", "ladder": "L", "kind": "video", "width": 854,
                                 "height": 480}, Link())
    assert small.offered() == ["low"] and small.resolve("high") == "low"
