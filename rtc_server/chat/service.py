"""The chat of a class: who may write to whom, muting, and the conversation so far.

Rules (checked here, never trusted from clients):

* staff (teachers, admins, the system) write to anyone: the class, a group, one user;
* students write only to the teacher (``{"group": "teacher"}`` or a staff user), and
  not while the teacher has muted them;
* observers only read.

Every message gets a server ``message_id``; a reply names the message it
answers with ``reply_to``. The last messages are kept per session, so the
snapshot of a (re)joining client holds the conversation it may see.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from rtc_server.base.access import require_sender, require_staff
from rtc_server.base.exceptions import InvalidRequest, PermissionDenied
from rtc_server.base.identity import Identity
from rtc_server.base.protocol import BUILTIN_GROUPS, Audience, Event
from rtc_server.core.classroom import Classroom

from .events import CHAT_MUTED, MESSAGE
from .store import REPLY_WINDOW, ChatStore

__all__ = ["Chat", "ChatMuted", "MessageNotFound"]

logger = logging.getLogger(__name__)


class ChatMuted(PermissionDenied):
    code = "chat_muted"


class MessageNotFound(InvalidRequest):
    """``reply_to`` names no message of this session (another class's, or unknown)."""

    code = "not_found"


class Chat:
    def __init__(self, classroom: Classroom, store: ChatStore) -> None:
        self.classroom = classroom
        self.store = store

    async def send(
        self, who: Identity, to: Audience, text: str, data: dict[str, Any] | None = None, *,
        client_id: str | None = None, reply_to: str | None = None,
        message_id: str | None = None,
    ) -> Event:
        """Publish a message from ``who`` to ``to``; return the event (its ``seq``)."""
        require_sender(who, "send messages")
        sid = who.session_id
        if not who.is_staff:
            allowed = to == Audience.teachers() or (
                to.kind == "user" and await self.classroom.is_staff_user(sid, to.name or ""))
            if not allowed:
                raise PermissionDenied(
                    "students may send only to the teacher (to: {\"group\": \"teacher\"})")
            if await self.store.is_muted(sid, who.user_id):
                raise ChatMuted("the teacher has paused your messages for now")
        if to.kind == "group" and not await self.classroom.group_exists(sid, to.name or ""):
            raise InvalidRequest(f"group {to.name!r} does not exist")
        if reply_to is not None and not await self.store.has_message(sid, reply_to):
            raise MessageNotFound(f"field 'reply_to': no message {reply_to!r} in this session "
                                  f"(a reply names one of its last {REPLY_WINDOW} messages)")
        payload: dict[str, Any] = {
            "message_id": message_id or new_message_id(),
            "from": {"user": who.user_id, "name": who.name, "role": who.role},
            "to": to.to_json(),
            "text": text,
        }
        if data is not None:
            payload["data"] = data
        if client_id is not None:
            payload["id"] = client_id
        if reply_to is not None:
            payload["reply_to"] = reply_to
        event = await self.classroom.publish(sid, to, MESSAGE, payload)
        await self.store.append(sid, {**payload, "seq": event.seq, "ts": event.ts_ms})
        return event

    async def mute(self, who: Identity, user_id: str, muted: bool) -> None:
        require_staff(who, "mute a student's messages")
        await self.classroom.require_active(who.session_id)
        await self.store.set_muted(who.session_id, user_id, muted)
        payload = {"user": user_id, "muted": muted, "by": who.user_id}
        await self.classroom.publish(who.session_id, Audience.user(user_id), CHAT_MUTED,
                                     payload)
        await self.classroom.publish(who.session_id, Audience.teachers(), CHAT_MUTED, payload)

    async def snapshot(self, who: Identity) -> dict[str, Any]:
        """The kept messages ``who`` may see, and who is muted (staff) or whether I am."""
        sid = who.session_id
        messages = await self.store.recent(sid)
        muted = await self.store.muted(sid)
        if who.is_staff:
            return {"messages": messages, "muted": sorted(muted)}
        groups = await self._groups_of(who)
        visible = [m for m in messages if _visible(m, who.user_id, groups)]
        return {"messages": visible, "muted": who.user_id in muted}

    async def _groups_of(self, who: Identity) -> set[str]:
        room = self.classroom.rooms.get(who.session_id)
        if room is not None:
            return set(room.groups_of(who.user_id, who.role))
        record = await self.classroom.get_session(who.session_id)
        named = {g for g, members in record.groups.items() if who.user_id in members}
        return named | {g for g in BUILTIN_GROUPS if g == _builtin(who.role)}

    async def close(self) -> None:
        await self.store.close()


def new_message_id() -> str:
    return f"m-{uuid.uuid4().hex[:12]}"


def _builtin(role: str) -> str:
    return {"student": "students", "observer": "observers"}.get(role, "teacher")


def _visible(message: dict[str, Any], user_id: str, groups: set[str]) -> bool:
    to = message.get("to", {})
    return (message.get("from", {}).get("user") == user_id or bool(to.get("session"))
            or to.get("user") == user_id or to.get("group") in groups)
