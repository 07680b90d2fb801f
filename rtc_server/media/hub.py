"""Media in the classroom: who publishes, who watches, on which rung.

One :class:`SessionMedia` per session with media in this process. The
teacher's camera (or a screen share, a WHIP encoder, or the synthetic source)
becomes a :class:`Ladder`; every viewer (a student whose offer asked for
video/audio) holds one :class:`ViewerTrack` per kind, attached to the current
ladder. A screen share, while it lasts, is what viewers see instead of the camera.

A viewer's rung is the lowest of: the rung asked for (by the teacher, or the
adaptive controller), the maximum the student pinned, and the server's
load-shedding cap. Students who joined without media have no viewer at all.

Across processes (``--workers``, several machines on one Redis), the process
holding the publisher is the session's *origin*; the others show their viewers a
:class:`~.relayed_ladder.RelayedLadder` fed by the :class:`~.relay.MediaRelay`
(only rungs somebody there watches). Viewers attach to it as to a local ladder.
Events and state are shared through the bus.
The media feature (:mod:`.feature`) connects the hub to the core.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aiortc import MediaStreamTrack, RTCRtpSender
from aiortc.sdp import SessionDescription

from adaptive.levels import LEVELS, QualityLevel, level_by_name
from rtc_server.base.background import BackgroundTasks
from rtc_server.base.exceptions import InvalidRequest, PermissionDenied
from rtc_server.base.protocol import Audience

from .events import MEDIA_QUALITY, MEDIA_STATE
from .forwarder import ForwardingSender
from .ladder import Ladder
from .negotiation import add_rung_track
from .relayed_ladder import RelayedLadder
from .viewer_track import ViewerTrack

if TYPE_CHECKING:
    from aiortc import RTCPeerConnection

    from rtc_server.core.classroom import Classroom
    from rtc_server.core.connection import Connection
    from rtc_server.core.peer import Peer

    from .relay import MediaRelay

logger = logging.getLogger(__name__)

Role = Literal["camera", "screen", "microphone"]
RUNG_NAMES = tuple(level.name for level in LEVELS)  # low, medium, high


def lowest(*names: str | None) -> str:
    """The lowest of the given rung names (None ignored; "high" when none)."""
    ranks = [level_by_name(n).rank for n in names if n is not None]
    return LEVELS[min(ranks)].name if ranks else "high"


@dataclass(eq=False)
class Viewer:
    conn_id: str
    user_id: str
    video: ViewerTrack | None
    audio: ViewerTrack | None
    wanted: str
    pinned_max: str | None = None
    reason: str = "initial"
    manual: bool = False  # a teacher chose the rung: the adaptive controller leaves it alone
    #: The adaptive floor step below the low rung ("low_half", "low_quarter", "audio_only"),
    #: applied while the viewer gets the low rung; None: the rung whole.
    step: str | None = None
    senders: dict[str, RTCRtpSender] = field(default_factory=dict)


@dataclass(eq=False)
class Source:
    role: Role
    origin: str  # connection id, "whip:<id>" or "synthetic"
    ladder: Ladder


class SessionMedia:
    def __init__(self, session_id: str, hub: MediaHub) -> None:
        self.session_id = session_id
        self.hub = hub
        self.sources: list[Source] = []
        self.viewers: dict[str, Viewer] = {}
        #: Ladders announced by another process (no local source of that kind): by kind.
        self.remote: dict[str, RelayedLadder] = {}

    # -- sources -----------------------------------------------------------------------------

    def current(self, kind: str) -> Ladder | None:
        """The ladder viewers of ``kind`` see: the newest screen share, else the camera;
        without a local source, the one relayed from the origin (if any)."""
        local = self.local_current(kind)
        if local is not None:
            return local
        remote = self.remote.get(kind)
        return remote if remote is not None and not remote.ended else None

    def local_current(self, kind: str) -> Ladder | None:
        """The newest local screen share, else the local camera (what this origin relays)."""
        candidates = [s for s in self.sources if s.ladder.kind == kind and not s.ladder.ended]
        screens = [s for s in candidates if s.role == "screen"]
        chosen = (screens or candidates)[-1:] if candidates else []
        return chosen[0].ladder if chosen else None

    def _source_role(self, ladder: Ladder) -> Role:
        return next((s.role for s in self.sources if s.ladder is ladder), "camera")

    async def offer_relay(self, kind: str) -> None:
        """Tell the relay what this origin's viewers of ``kind`` see now."""
        relay = self.hub.relay
        if relay is not None:
            ladder = self.local_current(kind)
            await relay.set_origin(self.session_id, kind, ladder,
                                   self._source_role(ladder) if ladder is not None else "camera")

    async def set_remote(self, kind: str, announcement: dict[str, Any] | None) -> None:
        """The relay read the origin's announcement for ``kind`` (None: there is none)."""
        old = self.remote.get(kind)
        if announcement is not None and old is not None and not old.ended \
                and old.ladder_id == announcement["ladder"]:
            if announcement.get("width") and announcement.get("height"):
                old.resized(int(announcement["width"]), int(announcement["height"]))
            return
        if announcement is None and old is None:
            return
        if old is not None:
            del self.remote[kind]
            await old.stop()
        if announcement is not None and self.hub.relay is not None:
            self.remote[kind] = self.hub.relay.relayed_ladder(self.session_id, announcement)
            logger.info("SessionMedia(%s) %s relayed from %s", self.session_id, kind,
                        announcement["node"])
        await self._reattach(kind)

    async def publish(self, track: MediaStreamTrack, *, origin: str, role: Role) -> Ladder:
        ladder = Ladder(track, "video" if track.kind == "video" else "audio")
        ladder.start()
        self.sources.append(Source(role, origin, ladder))
        track.on("ended", lambda: self.hub.spawn(self.unpublish(ladder)))
        logger.info("SessionMedia(%s) %s publishes %s (%s)", self.session_id, origin,
                    track.kind, role)
        await self._reattach(ladder.kind)
        await self.offer_relay(ladder.kind)
        await self._announce()
        return ladder

    async def unpublish(self, ladder: Ladder) -> None:
        source = next((s for s in self.sources if s.ladder is ladder), None)
        if source is None:
            return
        self.sources.remove(source)
        await ladder.stop()
        await self._reattach(ladder.kind)
        await self.offer_relay(ladder.kind)
        await self._announce()

    async def unpublish_origin(self, origin: str) -> None:
        for source in [s for s in self.sources if s.origin == origin]:
            await self.unpublish(source.ladder)

    async def _reattach(self, kind: str) -> None:
        ladder = self.current(kind)
        for viewer in list(self.viewers.values()):
            track = viewer.video if kind == "video" else viewer.audio
            if track is None or track.ladder is ladder:
                continue
            if ladder is None:
                track.detach()
            else:
                await track.attach(ladder)
                self._apply(viewer)

    async def _announce(self) -> None:
        await self.hub.classroom.publish(self.session_id, Audience.session(), MEDIA_STATE,
                                         self.state())

    def state(self) -> dict[str, Any]:
        video, audio = self.current("video"), self.current("audio")
        screen = any(s.role == "screen" and s.ladder is video for s in self.sources)
        return {"video": video is not None, "audio": audio is not None, "screen_share": screen,
                "offered": video.offered() if video else [],
                "sources": [{"role": s.role, "origin": s.origin, "kind": s.ladder.kind}
                            for s in self.sources]}

    # -- viewers -----------------------------------------------------------------------------

    def add_viewer(self, conn: Connection, peer: Peer, kinds: set[str]) -> Viewer:
        """Give a viewer its tracks (before its offer is applied); attach them to ladders."""
        return self.add_viewer_on(peer.pc, conn.id, conn.user_id, kinds)

    def add_viewer_on(self, pc: RTCPeerConnection, conn_id: str, user_id: str,
                      kinds: set[str], *, rung: str | None = None) -> Viewer:
        """A viewer on ``pc`` (a student's peer, or a WHEP player's: ``rung`` fixes its rung,
        and the adaptive controller leaves it alone)."""
        self.remove_viewer(conn_id)  # a new peer connection after a failed one
        name = f"{user_id}/{conn_id}"
        initial = rung or self.hub.initial_rung
        video = ViewerTrack("video", initial, name=name) if "video" in kinds else None
        audio = ViewerTrack("audio", initial, name=name) if "audio" in kinds else None
        viewer = Viewer(conn_id, user_id, video, audio, wanted=initial, manual=rung is not None)
        for track in (video, audio):
            if track is not None:
                viewer.senders[track.kind] = add_rung_track(
                    pc, track, forward=self.hub.forwarder, gso=self.hub.gso)
        self.viewers[conn_id] = viewer
        self.hub.spawn(self._attach_new(viewer))
        return viewer

    async def _attach_new(self, viewer: Viewer) -> None:
        for track in (viewer.video, viewer.audio):
            ladder = self.current(track.kind) if track is not None else None
            if track is not None and ladder is not None:
                await track.attach(ladder)
        self._apply(viewer)

    def remove_viewer(self, conn_id: str) -> None:
        viewer = self.viewers.pop(conn_id, None)
        if viewer is None:
            return
        for track in (viewer.video, viewer.audio):
            if track is not None:
                track.stop()

    def effective(self, viewer: Viewer) -> str:
        return lowest(viewer.wanted, viewer.pinned_max, self.hub.server_cap)

    def effective_step(self, viewer: Viewer) -> str:
        """The step delivered: the effective rung, or a floor step below the low rung."""
        rung = self.effective(viewer)
        if viewer.step is not None and level_by_name(viewer.step).rung == rung:
            return viewer.step
        return rung

    def _apply(self, viewer: Viewer, *, urgent: bool = False) -> str:
        rung = self.effective(viewer)
        for track in (viewer.video, viewer.audio):
            if track is not None:
                track.set_rung(rung, urgent=urgent)
        if viewer.video is not None:
            viewer.video.set_level(level_by_name(self.effective_step(viewer)))
        return rung

    async def set_rung(self, user_id: str, rung: str | None, *, by: str, reason: str,
                       pinned_max: str | None | Literal[False] = False,
                       urgent: bool = False, step: QualityLevel | None = None,
                       notice: str = "") -> list[dict[str, Any]]:
        """Change the rung (and/or the pinned maximum) of all of a user's viewers.

        ``urgent``: the link cannot carry the current rung; stop it at once. ``step``:
        the adaptive step (a floor step forwards part of the low rung); any other
        change delivers the rung whole. ``notice``: the sentence the student is shown.
        """
        viewers = [v for v in self.viewers.values() if v.user_id == user_id]
        if not viewers:
            raise InvalidRequest(f"user {user_id!r} receives no media in this session")
        changed = []
        for viewer in viewers:
            before, before_step = self.effective(viewer), self.effective_step(viewer)
            if rung is not None:
                viewer.wanted = rung
            viewer.step = step.name if step is not None and not step.is_rung else None
            if pinned_max is not False:
                viewer.pinned_max = pinned_max
            viewer.reason = reason
            after = self._apply(viewer, urgent=urgent)
            shown = viewer.video.rung if viewer.video is not None else after
            changed.append({"connection": viewer.conn_id, "rung": after, "previous": before,
                            "delivering": shown, "pinned_max": viewer.pinned_max,
                            "step": self.effective_step(viewer), "previous_step": before_step})
        payload = {"user": user_id, "rung": changed[0]["rung"],
                   "previous": changed[0]["previous"], "pinned_max": viewer.pinned_max,
                   "by": by, "reason": reason, "step": changed[0]["step"],
                   "previous_step": changed[0]["previous_step"], "notice": notice}
        await self.hub.classroom.publish(self.session_id, Audience.user(user_id),
                                         MEDIA_QUALITY, payload)
        await self.hub.classroom.publish(self.session_id, Audience.teachers(),
                                         MEDIA_QUALITY, payload)
        return changed

    def stats(self) -> dict[str, Any]:
        relay = self.hub.relay
        local = []
        for source in self.sources:
            relayed = relay.origin_stats(source.ladder) if relay else None
            stats = source.ladder.stats() | {"role": source.role, "origin": source.origin,
                                             "worker": self.hub.node, "relay": relayed}
            for name in (relayed or {}).get("rungs", {}):
                stats["rungs"][name]["subscribers"] -= 1  # the relay's tap is no viewer
            local.append(stats)
        remote = [ladder.stats() | {"role": ladder.announcement.get("role", "camera"),
                                    "origin": "relay", "worker": ladder.origin_node}
                  for ladder in self.remote.values() if not ladder.ended]
        video = self.current("video")
        return {
            **self.state(),
            "video": video is not None,
            "audio": self.current("audio") is not None,
            "offered": video.offered() if video else [],
            "worker": self.hub.node,
            "ladders": local + remote,
            "viewers": [{"user": v.user_id, "connection": v.conn_id, "wanted": v.wanted,
                         "pinned_max": v.pinned_max, "effective": self.effective(v),
                         "step": self.effective_step(v),
                         "reason": v.reason,
                         "video": v.video.stats() if v.video else None,
                         "audio": v.audio.stats() if v.audio else None,
                         "senders": {kind: sender.forwarding_stats()
                                     for kind, sender in v.senders.items()
                                     if isinstance(sender, ForwardingSender)}}
                        for v in self.viewers.values()],
        }


#: What one connection may publish at once: a camera and a screen share, a microphone.
MAX_SENDING = {"video": 2, "audio": 1}


def _check_publications(offer: SessionDescription) -> None:
    """Refuse a staff offer that sends more than one connection may publish."""
    for kind, most in MAX_SENDING.items():
        sending = sum(1 for m in offer.media
                      if m.kind == kind and m.direction in ("sendonly", "sendrecv"))
        if sending > most:
            raise InvalidRequest(
                f"the offer sends {sending} {kind} tracks; one connection publishes at most "
                f"a camera and a screen share (2 video) and a microphone (1 audio)")


class MediaHub:
    """All sessions' media in this process; the peer listener for client connections."""

    def __init__(self, classroom: Classroom, *, initial_rung: str = "medium",
                 node: str = "main", forwarder: bool = True, gso: bool = True) -> None:
        if initial_rung not in RUNG_NAMES:
            raise ValueError(f"initial rung must be one of {RUNG_NAMES}")
        self.classroom = classroom
        self.initial_rung = initial_rung
        self.forwarder = forwarder
        self.gso = gso
        self.server_cap: str | None = None
        self.sessions: dict[str, SessionMedia] = {}
        self._tasks = BackgroundTasks("MediaHub")
        #: This process's name in the deployment (worker id, host, pid).
        self.node = node
        #: Set when the media relay runs (Redis): publishers and viewers may be elsewhere.
        self.relay: MediaRelay | None = None

    def session(self, session_id: str) -> SessionMedia:
        media = self.sessions.get(session_id)
        if media is None:
            media = self.sessions[session_id] = SessionMedia(session_id, self)
            if self.relay is not None:
                self.spawn(self.relay.watch(session_id), "watch relay")
        return media

    async def workers(self, session_id: str) -> list[dict[str, Any]]:
        """Which process holds the session's publisher and how many viewers each serves."""
        media = self.sessions.get(session_id)
        if self.relay is None:
            found = {self.node: {"viewers": len(media.viewers) if media else 0,
                                 "publisher": bool(media and media.sources)}}
        else:
            if media is not None:  # this process's own entry, fresh
                await self.relay.directory.report(session_id, media, always=True)
            found = await self.relay.directory.nodes(session_id)
        return [{"worker": node, **entry} for node, entry in sorted(found.items())]

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str = "task") -> None:
        self._tasks.spawn(coro, what)

    # -- reactions to peers (called by the media feature) -------------------------------------

    def peer_offer(self, peer: Peer, offer: SessionDescription, first: bool) -> None:
        conn: Connection = peer.owner
        if conn is None:
            return
        if conn.identity.is_staff:
            _check_publications(offer)
        if not first:
            return
        receive = {m.kind for m in offer.media
                   if m.kind in ("audio", "video") and m.direction in ("recvonly", "sendrecv")}
        if receive and not conn.identity.is_staff:
            self.session(conn.session_id).add_viewer(conn, peer, receive)

    def peer_track(self, peer: Peer, track: MediaStreamTrack) -> None:
        conn: Connection = peer.owner
        if conn is None or not conn.identity.is_staff:
            logger.info("%r sent a %s track; only staff publish, ignoring it", conn, track.kind)
            return
        media = self.session(conn.session_id)
        live = {s.role for s in media.sources if s.origin == conn.id and not s.ladder.ended}
        if track.kind == "audio":
            role: Role | None = None if "microphone" in live else "microphone"
        else:
            role = "camera" if "camera" not in live else (
                "screen" if "screen" not in live else None)
        if role is None:
            # The offer check allows no more; this covers tracks that outlive a renegotiation.
            logger.info("%r already publishes a camera, a screen and a microphone; ignoring "
                        "another %s track", conn, track.kind)
            return
        self.spawn(media.publish(track, origin=conn.id, role=role))

    # -- lifecycle ---------------------------------------------------------------------------

    async def connection_left(self, conn: Connection) -> None:
        media = self.sessions.get(conn.session_id)
        if media is None:
            return
        media.remove_viewer(conn.id)
        await media.unpublish_origin(conn.id)

    def apply_server_cap(self, level: QualityLevel) -> None:
        """Load shedding: no viewer above ``level`` (None of it when back to the top)."""
        self.server_cap = None if level.name == "high" else level.name
        for media in self.sessions.values():
            for viewer in media.viewers.values():
                media._apply(viewer)

    async def set_rung(self, who_is_staff: bool, session_id: str, user_id: str, rung: str,
                       *, by: str) -> list[dict[str, Any]]:
        """Set a viewer's rung by hand, or give it back to the adaptive controller ("auto")."""
        if not who_is_staff:
            raise PermissionDenied("only a teacher or admin may set another user's quality")
        if rung not in (*RUNG_NAMES, "auto"):
            raise InvalidRequest(f"rung must be auto or one of {', '.join(RUNG_NAMES)}, "
                                 f"not {rung!r}")
        media = self.session(session_id)
        manual = rung != "auto"
        for viewer in media.viewers.values():
            if viewer.user_id == user_id:
                viewer.manual = manual
        if not manual:
            return await media.set_rung(user_id, None, by=by, reason=f"automatic again ({by})")
        return await media.set_rung(user_id, rung, by=by, reason=f"set by {by}")

    async def close(self) -> None:
        for media in list(self.sessions.values()):
            for viewer_id in list(media.viewers):
                media.remove_viewer(viewer_id)
            for source in list(media.sources):
                await source.ladder.stop()
            for ladder in list(media.remote.values()):
                await ladder.stop()
        await self._tasks.close()
