"""The content feature: AI lesson content requested by the teacher, streamed to the class.

The feature's contract with the core (:class:`~rtc_server.core.feature.Feature`):
the messages ``content.request``, ``content.stop``, ``content.confused``; the
events in :mod:`.events`; a reaction to evaluated answers (a class going wrong
gets a supplementary explanation); degrading under load (no visuals, no
personalised or supplementary generations); its metrics.

Glue only: it builds the :class:`ContentService` on the configured model (or
the embedded local composer) and material ranker (embeddings, or BM25), reads
the session's context from the store, keeps the content history, and turns
confusion signals into supplementary explanations. Generations run as tasks
owned here; the request is answered at once with the ``generation_id`` so that
the teacher can stop it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from adaptive.load import LoadState
from rtc_server.base.access import require_staff, require_student
from rtc_server.base.background import BackgroundTasks
from rtc_server.base.exceptions import InvalidRequest
from rtc_server.base.identity import Identity
from rtc_server.base.protocol import Audience, EventType
from rtc_server.core.connection import Connection
from rtc_server.core.feature import AnswerEvaluated, Feature, Route, ServiceKey
from rtc_server.core.services import Services
from rtc_server.core.teaching_aid import TEACHING_AID
from rtc_server.state.store import HISTORY_MAX

from . import events as ev
from .cache import ContentCache
from .destination import Destination
from .exceptions import GenerationNotFound, InvalidContentRequest, UnknownGeneration
from .local_provider import LocalImageProvider, LocalTextProvider
from .material_store import MaterialStore, MemoryMaterialStore, RedisMaterialStore
from .materials import ClassMaterials
from .messages import Confused, ContentRequestMessage, ContentStop
from .requests import ProfileGroup, parse_content_request
from .service import ContentRecord, ContentService
from .supplement import SupplementPolicy
from .teaching_aid import MaterialTeachingAid

__all__ = ["ContentFeature", "build"]

logger = logging.getLogger(__name__)


class ContentFeature(Feature):
    name = "content"
    events = ev.CONTENT_EVENTS

    def __init__(self, services: Services, materials: MaterialStore) -> None:
        config = services.config
        self.classroom = services.classroom
        self.config = config
        text_provider = services.text_model or LocalTextProvider(
            tokens_per_s=config.local_tokens_per_s)
        image_provider = services.image_model or LocalImageProvider()
        storage = services.storage
        cache = ContentCache.build(redis=storage.redis, redis_ttl_s=config.content_cache_ttl_s,
                                   redis_prefix=f"{storage.key_prefix}content:",
                                   directory=config.content_cache_dir)
        self.service = ContentService(
            text_provider, image_provider, cache, self._publish,
            max_concurrent=config.content_max_concurrent,
            chunk_max_delay_ms=config.content_chunk_max_delay_ms,
            coalescing_ms=self._coalescing_ms,
            max_prompt_chars=config.content_max_prompt_chars,
            history=self._history,
            retriever=services.retriever,
        )
        self._supplements: dict[str, SupplementPolicy] = {}
        # Generations started by this process, per session (also the stopped and failed ones,
        # which the content history does not keep): what a confusion signal may name.
        self._started: dict[str, deque[str]] = {}
        self.materials = ClassMaterials(self.classroom, materials,
                                        max_bytes=config.material_max_bytes,
                                        max_pages=config.material_max_pages)
        self.teaching_aid = MaterialTeachingAid(self.service, self.materials, self._language)
        self._tasks = BackgroundTasks("ContentFeature")
        # Load shedding switches these off under heavy load (see degrade()).
        self.visuals_allowed = True
        self.expensive_ai_allowed = True

    # -- the feature contract ----------------------------------------------------------------

    def routes(self) -> Sequence[Route[Any]]:
        async def on_request(conn: Connection, msg: ContentRequestMessage,
                             via: str) -> dict[str, Any]:
            return await self.request(conn.identity, msg.request, msg.to.audience())

        async def on_stop(conn: Connection, msg: ContentStop, via: str) -> None:
            self.stop(conn.identity, msg.generation_id)

        async def on_confused(conn: Connection, msg: Confused, via: str) -> dict[str, Any]:
            return await self.confused(conn.identity, msg.detail, msg.generation_id)

        return (Route(ContentRequestMessage, on_request), Route(ContentStop, on_stop),
                Route(Confused, on_confused))

    async def snapshot(self, who: Identity) -> dict[str, Any] | None:
        """The lesson so far as ``who`` may see it: the class's recent content (finished,
        and streaming now from this process) and the material list."""
        # The newest few entries only: a join must not read the whole history.
        history = await self.classroom.store.recent_history(who.session_id, "content",
                                                            SNAPSHOT_SCAN)
        groups = await self._groups_of(who)
        finished = [_summary(e) for e in history
                    if _visible(e.get("audience") or {}, who, groups)][-SNAPSHOT_LESSONS:]
        streaming = [g.progress() for g in self.service.in_progress(who.session_id)
                     if _visible(g.audience.as_dict(), who, groups)]
        return {"lessons": finished, "streaming": streaming,
                "materials": await self.materials.listing(who)}

    async def _groups_of(self, who: Identity) -> set[str]:
        room = self.classroom.rooms.get(who.session_id)
        return set(room.groups_of(who.user_id, who.role)) if room is not None else set()

    def provides(self) -> Mapping[ServiceKey[Any], object]:
        return {TEACHING_AID: self.teaching_aid}

    async def _language(self, session_id: str) -> str:
        record = await self.classroom.get_session(session_id, history=False)
        return record.language or "en"

    def degrade(self, state: LoadState) -> None:
        self.visuals_allowed = state.visuals_allowed
        self.expensive_ai_allowed = state.expensive_ai_allowed

    async def on_answer_evaluated(self, evaluated: AnswerEvaluated) -> None:
        await self.answer_evaluated(evaluated.session_id, evaluated.user_id, evaluated.correct,
                                    evaluated.question_text)

    def collect(self) -> Iterable[Metric]:
        for name, value in sorted(self.service.stats.snapshot().items()):
            yield GaugeMetricFamily(f"classroom_content_{name}", f"Content pipeline: {name}",
                                    value=value)

    # -- plumbing ----------------------------------------------------------------------------

    async def _publish(self, to: Destination, type: EventType, payload: dict[str, Any]) -> None:
        if type == ev.STARTED:
            started = self._started.setdefault(to.session_id, deque(maxlen=STARTED_KEPT))
            started.append(str(payload.get("generation_id")))
        await self.classroom.publish(to.session_id, to.audience, type, payload)
        if type in ev.MIRRORED_TO_TEACHER and to.kind != "session" and (
                to.audience != Audience.teachers()):
            await self.classroom.publish(to.session_id, Audience.teachers(), type,
                                         {**payload, "mirrored": True})

    def _coalescing_ms(self, to: Destination) -> float:
        """The window chunks to ``to`` are merged in: each chunk costs one send per
        recipient here, so the window grows with them — 0.12 ms per recipient (about twice
        a data-channel send) keeps the fan-out under half of the time, capped at 250 ms
        (1,000 students: 120 ms; below ~330, the 40 ms default rules)."""
        room = self.classroom.rooms.get(to.session_id)
        if room is None:
            return 0.0
        recipients = room.count(to.audience)
        return min(COALESCE_MAX_MS, recipients * COALESCE_MS_PER_RECIPIENT)

    async def _history(self, session_id: str, record: ContentRecord) -> None:
        await self.classroom.store.append_history(session_id, "content", record.as_dict())

    async def _context(self, session_id: str) -> dict[str, Any]:
        record = await self.classroom.active_session(session_id, history=False)
        history = await self.classroom.store.recent_history(session_id, "content", 50)
        covered = [str(e.get("topic") or e.get("title") or "") for e in history]
        return {"subject": record.subject, "grade": record.grade_level,
                "current_topic": record.current_topic, "language": record.language,
                "covered_topics": [c for c in covered if c][-10:]}

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return self._tasks.spawn(coro, name)

    # -- requests -----------------------------------------------------------------------------

    async def request(self, who: Identity, request: dict[str, Any],
                      to: Audience) -> dict[str, Any]:
        """Start a generation for ``to``; return at once with what was started."""
        require_staff(who, "request generated content")
        session_id = who.session_id
        context = await self._context(session_id)
        material = await self.materials.for_generation(session_id)
        audience = Destination(session_id, to)
        kind = request.get("kind")
        try:
            if kind == "visual":
                if not self.visuals_allowed:
                    raise InvalidRequest("visual generation is paused: the server is under "
                                         "heavy load")
                # Validated before it is accepted: a bad field is the sender's error reply,
                # not a failure in the background task after content.accepted.
                parse_content_request(request, max_prompt_chars=self.service.max_prompt_chars)
                self._spawn(self.service.generate_visual(session_id, request, audience,
                                                         context=context, material=material),
                            "visual")
                return {"type": "content.accepted", "kind": kind}
            if kind == "personalized":
                if not self.expensive_ai_allowed:
                    raise InvalidRequest("personalised generation is paused: the server is "
                                         "under heavy load")
                parse_content_request(request, max_prompt_chars=self.service.max_prompt_chars)
                groups_ready: asyncio.Future[list[ProfileGroup]] = (
                    asyncio.get_running_loop().create_future())

                async def make_groups(groups: list[ProfileGroup]) -> None:
                    for group in groups:
                        await self.classroom.set_group(who, group.name, list(group.members), [])
                    groups_ready.set_result(groups)

                task = self._spawn(self.service.generate_personalized(
                    session_id, request, context=context, before_start=make_groups,
                    material=material), "personalized")
                await asyncio.wait({groups_ready, task}, timeout=10,
                                   return_when=asyncio.FIRST_COMPLETED)
                if not groups_ready.done():
                    raise InvalidRequest("personalised generation could not start")
                groups = groups_ready.result()
                return {"type": "content.accepted", "kind": kind,
                        "groups": [g.as_dict() for g in groups]}
            self.service.validate(request)
        except InvalidContentRequest as exc:
            raise InvalidRequest(f"content request field {exc.field!r}: {exc.message}") from exc
        generation_id = secrets.token_hex(8)
        self._spawn(self.service.generate(session_id, request, audience, context=context,
                                          generation_id=generation_id, material=material),
                    "generation")
        return {"type": "content.accepted", "kind": kind, "generation_id": generation_id}

    def stop(self, who: Identity, generation_id: str) -> None:
        require_staff(who, "stop a generation")
        try:
            self.service.cancel(generation_id, session_id=who.session_id)
        except GenerationNotFound as exc:
            raise InvalidRequest(f"no running generation {generation_id!r} in this class"
                                 ) from exc

    async def confused(self, who: Identity, detail: str,
                       generation_id: str | None = None) -> dict[str, Any]:
        """A student signals confusion, about ``generation_id`` (a generation of their
        session) if given; act now if enough of the class is lost."""
        require_student(who, "signal confusion")
        if generation_id is not None and not await self._has_generation(who.session_id,
                                                                         generation_id):
            raise UnknownGeneration(f"field 'generation_id': no generation {generation_id!r} "
                                    "in this class")
        now_ms = time.monotonic() * 1000
        policy = self._policy(who.session_id)
        policy.record_confusion(who.user_id, now_ms, detail)
        await self.classroom.publish(who.session_id, Audience.teachers(), ev.CONFUSION,
                                     {"user": who.user_id, "name": who.name, "detail": detail,
                                      "generation_id": generation_id})
        return await self._maybe_supplement(who.session_id, now_ms)

    async def _has_generation(self, session_id: str, generation_id: str) -> bool:
        """Whether ``session_id`` has that generation: started here (streaming, stopped or
        failed), or finished anywhere (its content history)."""
        if generation_id in self._started.get(session_id, ()):
            return True
        history = await self.classroom.store.recent_history(session_id, "content",
                                                            HISTORY_MAX)
        return any(e.get("generation_id") == generation_id for e in history)

    async def answer_evaluated(self, session_id: str, user_id: str, correct: bool,
                               detail: str = "") -> None:
        """Called by the interactions feature for each evaluated answer."""
        now_ms = time.monotonic() * 1000
        self._policy(session_id).record_answer(user_id, correct, now_ms, detail)
        await self._maybe_supplement(session_id, now_ms)

    def _policy(self, session_id: str) -> SupplementPolicy:
        policy = self._supplements.get(session_id)
        if policy is None:
            policy = self._supplements[session_id] = SupplementPolicy()
        return policy

    async def _maybe_supplement(self, session_id: str, now_ms: float) -> dict[str, Any]:
        # Students connected to this process: with several processes each one decides on
        # the signals it received, which is what its students need.
        room = self.classroom.rooms.get(session_id)
        class_size = len({c.user_id for c in room.connections.values()
                          if c.role == "student"}) if room else 0
        if not self.expensive_ai_allowed:
            return {"type": "ack", "supplement": False, "paused": "server under heavy load"}
        supplement = self._policy(session_id).decide(
            now_ms, class_size=max(class_size, 1), topic=None)
        if supplement is None:
            return {"type": "ack", "supplement": False}
        # Read the session only when acting (this runs for every evaluated answer).
        record = await self.classroom.get_session(session_id)
        if record.current_topic:
            supplement = supplement.model_copy(update={"topic": record.current_topic})
        group = f"supplement-{secrets.token_hex(3)}"
        await self.classroom.set_group(Identity.system(session_id, "supplement"), group,
                                       list(supplement.affected_users), [])
        generation_id = secrets.token_hex(8)
        self._spawn(self.service.generate(
            session_id, supplement, Destination.group(session_id, group),
            context=await self._context(session_id), generation_id=generation_id,
            material=await self.materials.for_generation(session_id)),
            "supplement")
        return {"type": "ack", "supplement": True, "generation_id": generation_id}

    async def close(self) -> None:
        await self.service.close()
        await self._tasks.close()


#: Coalescing window per recipient in this process, and its cap (see _coalescing_ms).
COALESCE_MS_PER_RECIPIENT = 0.12
COALESCE_MAX_MS = 250.0
#: Generations a process remembers per session for confusion signals (beyond: the history).
STARTED_KEPT = 200
#: Finished generations a (re)joining client gets in its snapshot.
SNAPSHOT_LESSONS = 3
#: How far back in the content history the snapshot looks for them.
SNAPSHOT_SCAN = 30


def _summary(entry: dict[str, Any]) -> dict[str, Any]:
    return {"generation_id": entry.get("generation_id"), "kind": entry.get("kind"),
            "audience": entry.get("audience"), "provider": entry.get("provider"),
            "text": entry.get("text", ""), "sections": entry.get("sections", []),
            "done": True}


def _visible(audience: dict[str, Any], who: Identity, groups: set[str]) -> bool:
    """Whether content sent to ``audience`` (a Destination's dict) reached ``who``."""
    kind, name = audience.get("kind"), audience.get("name")
    if kind == "session" or who.is_staff:
        return True
    if kind == "user":
        return bool(name == who.user_id)
    return name in groups


def build(services: Services) -> ContentFeature:
    materials = services.storage.choose(
        memory=MemoryMaterialStore,
        redis=lambda client, prefix: RedisMaterialStore(client, key_prefix=prefix))
    return ContentFeature(services, materials)
