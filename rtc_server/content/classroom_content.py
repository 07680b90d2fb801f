"""The content feature inside the classroom: requests from clients, events to audiences.

Glue only: it builds the :class:`ContentService` from the config, maps the
content package's :class:`~rtc_server.content.audience.Audience` onto the
classroom's, reads the session's context from the store, keeps the content
history, and turns confusion signals into supplementary explanations.
Generations run as tasks owned here; the request is answered at once with the
``generation_id`` so that the teacher can stop it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from collections.abc import Coroutine
from typing import Any

from redis.asyncio import Redis

from signaling.tokens import Identity

from ..background import BackgroundTasks
from ..classroom import Classroom, require_staff
from ..config import Config
from ..connection import Connection
from ..dispatcher import Dispatcher, target_audience
from ..events import GROUP_TEACHER
from ..events import Audience as RoomAudience
from ..exceptions import InvalidRequest, PermissionDenied
from .audience import Audience
from .cache import ContentCache
from .exceptions import GenerationNotFound, InvalidContentRequest
from .local_provider import LocalImageProvider, LocalTextProvider
from .messages import Confused, ContentRequestMessage, ContentStop
from .openai_provider import OpenAIImageProvider, OpenAISettings, OpenAITextProvider
from .provider import ImageProvider, TextProvider
from .requests import ProfileGroup, parse_content_request
from .service import ContentRecord, ContentService
from .supplement import SupplementPolicy

logger = logging.getLogger(__name__)

# Lifecycle events that also go to the teacher when the audience is not the whole class,
# so that the teacher sees (and can stop) personalised and supplementary generations.
MIRRORED_TO_TEACHER = frozenset({"content.started", "content.done", "content.stopped",
                                 "content.failed", "visual.done", "visual.failed"})


def make_providers(config: Config) -> tuple[TextProvider, ImageProvider]:
    kind = config.content_provider
    if kind == "auto":
        kind = "openai" if (config.openai_api_key or config.openai_base_url) else "local"
        if config.azure_endpoint:
            kind = "azure"
    if kind == "local":
        return LocalTextProvider(tokens_per_s=config.local_tokens_per_s), LocalImageProvider()
    if kind not in ("openai", "azure"):
        raise ValueError(f"content_provider must be local, openai, azure or auto, not {kind!r}")
    settings = OpenAISettings(
        model=config.openai_model,
        # Local servers (Ollama, vLLM, llama.cpp) accept any key; the client insists on one.
        api_key=config.openai_api_key or "not-needed",
        base_url=config.openai_base_url,
        azure_endpoint=config.azure_endpoint if kind == "azure" else None,
        api_version=config.azure_api_version,
        timeout_s=config.openai_timeout_s,
        max_retries=config.openai_max_retries,
    )
    image_settings = dataclasses.replace(settings, model=config.openai_image_model)
    return OpenAITextProvider(settings), OpenAIImageProvider(image_settings)


class ClassroomContent:
    def __init__(self, classroom: Classroom, config: Config, *,
                 text_provider: TextProvider | None = None,
                 image_provider: ImageProvider | None = None) -> None:
        self.classroom = classroom
        self.config = config
        self._redis: Redis | None = Redis.from_url(config.redis_url) if config.redis_url else None
        if text_provider is None or image_provider is None:
            text_provider, image_provider = make_providers(config)
        cache = ContentCache.build(redis=self._redis, redis_ttl_s=config.content_cache_ttl_s,
                                   redis_prefix=f"{config.redis_key_prefix}content:",
                                   directory=config.content_cache_dir)
        self.service = ContentService(
            text_provider, image_provider, cache, self._publish,
            max_concurrent=config.content_max_concurrent,
            chunk_max_delay_ms=config.content_chunk_max_delay_ms,
            max_prompt_chars=config.content_max_prompt_chars,
            history=self._history,
        )
        self._supplements: dict[str, SupplementPolicy] = {}
        self._tasks = BackgroundTasks("ClassroomContent")
        # Load shedding (rtc_server.load_monitor) switches these off under heavy load.
        self.visuals_allowed = True
        self.expensive_ai_allowed = True

    # -- plumbing ----------------------------------------------------------------------------

    async def _publish(self, audience: Audience, type: str, payload: dict[str, Any]) -> None:
        target = _room_audience(audience)
        await self.classroom.publish(audience.session_id, target, type, payload)
        if type in MIRRORED_TO_TEACHER and target.kind != "session" and target != (
                RoomAudience.group(GROUP_TEACHER)):
            await self.classroom.publish(audience.session_id, RoomAudience.group(GROUP_TEACHER),
                                         type, {**payload, "mirrored": True})

    async def _history(self, session_id: str, record: ContentRecord) -> None:
        await self.classroom.store.append_history(session_id, "content", record.as_dict())

    async def _context(self, session_id: str) -> dict[str, Any]:
        record = await self.classroom.active_session(session_id)
        covered = [str(e.get("topic") or e.get("title") or "") for e in record.content_history]
        return {"subject": record.subject, "grade": record.grade_level,
                "current_topic": record.current_topic,
                "covered_topics": [c for c in covered if c][-10:]}

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return self._tasks.spawn(coro, name)

    # -- requests -----------------------------------------------------------------------------

    async def request(self, who: Identity, request: dict[str, Any],
                      to: RoomAudience) -> dict[str, Any]:
        """Start a generation for ``to``; return at once with what was started."""
        require_staff(who, "request generated content")
        session_id = who.session_id
        context = await self._context(session_id)
        audience = _content_audience(session_id, to)
        kind = request.get("kind")
        try:
            if kind == "visual":
                if not self.visuals_allowed:
                    raise InvalidRequest("visual generation is paused: the server is under "
                                         "heavy load")
                self._spawn(self.service.generate_visual(session_id, request, audience,
                                                         context=context), "visual")
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
                    session_id, request, context=context, before_start=make_groups),
                    "personalized")
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
                                          generation_id=generation_id), "generation")
        return {"type": "content.accepted", "kind": kind, "generation_id": generation_id}

    def stop(self, who: Identity, generation_id: str) -> None:
        require_staff(who, "stop a generation")
        try:
            self.service.cancel(generation_id)
        except GenerationNotFound as exc:
            raise InvalidRequest(f"no running generation {generation_id!r}") from exc

    async def confused(self, who: Identity, detail: str) -> dict[str, Any]:
        """A student signals confusion; act now if enough of the class is lost."""
        if who.role != "student":
            raise PermissionDenied("only students signal confusion")
        now_ms = time.monotonic() * 1000
        policy = self._policy(who.session_id)
        policy.record_confusion(who.user_id, now_ms, detail)
        await self.classroom.publish(who.session_id, RoomAudience.group(GROUP_TEACHER),
                                     "content.confusion", {"user": who.user_id,
                                                           "name": who.name, "detail": detail})
        return await self._maybe_supplement(who.session_id, now_ms)

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
        staff = Identity(session_id=session_id, user_id="server", name="server", role="admin",
                         expires_at=0)
        await self.classroom.set_group(staff, group, list(supplement.affected_users), [])
        generation_id = secrets.token_hex(8)
        self._spawn(self.service.generate(
            session_id, supplement, Audience.group(session_id, group),
            context=await self._context(session_id), generation_id=generation_id),
            "supplement")
        return {"type": "ack", "supplement": True, "generation_id": generation_id}

    async def close(self) -> None:
        await self.service.close()
        await self._tasks.close()
        if self._redis is not None:
            await self._redis.aclose()


def _room_audience(audience: Audience) -> RoomAudience:
    if audience.kind == "session":
        return RoomAudience.session()
    if audience.kind == "group":
        return RoomAudience.group(audience.name or "")
    return RoomAudience.user(audience.name or "")


def _content_audience(session_id: str, to: RoomAudience) -> Audience:
    if to.kind == "session":
        return Audience.session(session_id)
    if to.kind == "group":
        return Audience.group(session_id, to.name or "")
    return Audience.user(session_id, to.name or "")


def install(dispatcher: Dispatcher, content: ClassroomContent) -> None:
    """Register the content messages with the dispatcher."""

    async def on_request(conn: Connection, msg: ContentRequestMessage,
                         via: str) -> dict[str, Any]:
        return await content.request(conn.identity, msg.request, target_audience(msg.to))

    async def on_stop(conn: Connection, msg: ContentStop, via: str) -> None:
        content.stop(conn.identity, msg.generation_id)

    async def on_confused(conn: Connection, msg: Confused, via: str) -> dict[str, Any]:
        return await content.confused(conn.identity, msg.detail)

    dispatcher.add(ContentRequestMessage, on_request)
    dispatcher.add(ContentStop, on_stop)
    dispatcher.add(Confused, on_confused)
