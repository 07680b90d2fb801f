"""The load test's options: one typed object, parsed from the command line in one place.

Modelled on LiveKit's ``lk load-test``: who connects (students, the share watching video,
the share on the data channel), how fast (``--ramp`` joins per second), what the
synthetic teacher does (``--publish synthetic``, ``--rate`` broadcasts per second,
``--content`` an AI lesson), for how long, and over how many bot processes.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

__all__ = ["LoadTestOptions", "parse_options"]

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, kw_only=True)
class LoadTestOptions:
    url: str
    api_secret: str
    session: str = "loadtest"
    students: int = 100
    video_share: float = 0.0  # of students, receiving video (and audio), not decoding it
    datachannel_share: float = 1.0  # of students, events on the data channel; rest WebSocket
    duration_s: float = 30.0
    ramp_per_s: float = 50.0
    publish: str = "none"  # "none" | "synthetic"
    publish_via: str = "whip"  # "whip" | "teacher"
    publish_size: str = "1280x720@30"
    rate_per_s: float = 1.0
    content: bool = False
    processes: int = 1
    json: bool = False
    ice_host_addresses: tuple[str, ...] = ()
    join_timeout_s: float = 60.0
    glass_sample: int = 3  # video bots per process that also measure glass-to-glass
    drain_s: float = 3.0  # after the last broadcast, before the server's CPU is read
    # ... and how long bots then wait at most for broadcasts still on their way to connected
    # students (late is measured as latency; "lost" is what never came)
    settle_s: float = 30.0
    user_prefix: str = "lt"
    # Internal: a bot process (started by the load test itself).
    child_index: int = -1

    @property
    def is_child(self) -> bool:
        return self.child_index >= 0

    def bot_indices(self) -> range:
        """The students this bot process runs (every ``processes``-th one)."""
        return range(self.child_index, self.students, self.processes)

    def wants_video(self, index: int) -> bool:
        # Spread within each bot process's own students: spread over the class, every
        # tenth student of two interleaved processes was odd, and one process got them all.
        return _spread(index // self.processes, self.video_share)

    def wants_datachannel(self, index: int) -> bool:
        return self.wants_video(index) or _spread(index // self.processes,
                                                  self.datachannel_share)


def _spread(index: int, share: float) -> bool:
    """Whether student ``index`` is in an evenly spread ``share`` of all students."""
    return int((index + 1) * share) > int(index * share)


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a share is between 0 and 1, not {text}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="classroom-rtc loadtest",
        description="Join a class with many headless students (aiortc bots that count video "
        "frames without decoding them), drive it with a synthetic teacher, and report joins, "
        "event loss and latency, video frame rates, and the server's CPU and memory.")
    p.add_argument("--url", default="http://127.0.0.1:8080", help="server base URL")
    p.add_argument("--api-secret", default=os.environ.get("CLASSROOM_API_SECRET", ""),
                   help="the server's API secret: mints the bots' tokens, creates the session, "
                   "sends the broadcasts [env CLASSROOM_API_SECRET]")
    p.add_argument("--session", default="loadtest", help="session id (created if missing)")
    p.add_argument("--students", type=int, default=100, help="students to join")
    p.add_argument("--video-share", type=_share, default=0.0,
                   help="share of students that receive the teacher's video and audio")
    p.add_argument("--datachannel-share", type=_share, default=1.0,
                   help="share of students with WebRTC (events on the data channel); the "
                   "rest use the WebSocket only. Video students always use WebRTC")
    p.add_argument("--duration", type=_positive, default=30.0,
                   help="seconds of measurement after every student joined")
    p.add_argument("--ramp", type=_positive, default=50.0, help="joins per second (all "
                   "processes together)")
    p.add_argument("--publish", choices=("none", "synthetic"), default="none",
                   help="synthetic: a teacher publishes a test pattern (burned-in frame "
                   "counter and capture time) and a tone")
    p.add_argument("--publish-via", choices=("whip", "teacher"), default="whip",
                   help="publish over WHIP, or as the teacher's camera over the classroom "
                   "protocol")
    p.add_argument("--publish-size", default="1280x720@30", help="WIDTHxHEIGHT@FPS")
    p.add_argument("--rate", type=float, default=1.0,
                   help="teacher broadcasts per second (0: none)")
    p.add_argument("--content", action="store_true",
                   help="the teacher streams an AI lesson (the server's configured model, "
                   "the embedded local composer by default) during the measurement")
    p.add_argument("--processes", type=int, default=1, help="bot processes")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout "
                   "(the table goes to stderr)")
    p.add_argument("--ice-host-addresses", default=None,
                   help="comma-separated addresses the bots gather ICE candidates on "
                   "(default: 127.0.0.1 for a server on loopback, else every interface)")
    p.add_argument("--join-timeout", type=_positive, default=60.0,
                   help="seconds a student keeps trying to join (honouring retry_after)")
    p.add_argument("--glass-sample", type=int, default=3,
                   help="video students per process that also decode a keyframe now and "
                   "then to read the glass-to-glass latency")
    p.add_argument("--child-index", type=int, default=-1, help=argparse.SUPPRESS)
    return p


def parse_options(argv: Sequence[str] | None = None) -> LoadTestOptions:
    parser = build_parser()
    ns = parser.parse_args(argv)
    if not ns.api_secret:
        parser.error("--api-secret (or CLASSROOM_API_SECRET) is required: the bots' tokens "
                     "are minted with it")
    if ns.students < 1 or ns.processes < 1:
        parser.error("--students and --processes must be at least 1")
    if ns.ice_host_addresses is None:
        host = urlparse(ns.url).hostname or ""
        addresses: tuple[str, ...] = ("127.0.0.1",) if host in LOCAL_HOSTS else ()
    else:
        addresses = tuple(a.strip() for a in ns.ice_host_addresses.split(",") if a.strip())
    return LoadTestOptions(
        url=ns.url.rstrip("/"), api_secret=ns.api_secret, session=ns.session,
        students=ns.students, video_share=ns.video_share,
        datachannel_share=ns.datachannel_share, duration_s=ns.duration, ramp_per_s=ns.ramp,
        publish=ns.publish, publish_via=ns.publish_via, publish_size=ns.publish_size,
        rate_per_s=max(0.0, ns.rate), content=ns.content,
        processes=min(ns.processes, ns.students), json=ns.json,
        ice_host_addresses=addresses, join_timeout_s=ns.join_timeout,
        glass_sample=max(0, ns.glass_sample), child_index=ns.child_index,
    )


def child_argv(argv: Sequence[str], index: int) -> list[str]:
    """The arguments of bot process ``index``: the user's, plus its index."""
    return [*argv, "--child-index", str(index)]
