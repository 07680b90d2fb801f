"""The chat feature's contract with the core: messages, events, snapshot part, and the
``message`` event a backend posts over HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rtc_server.base.identity import Identity
from rtc_server.core.connection import Connection
from rtc_server.core.feature import Feature, Post, Route
from rtc_server.core.services import Services

from . import events as ev
from .messages import ChatMute, ChatSend
from .redis_store import RedisChatStore
from .service import Chat, new_message_id
from .store import MemoryChatStore

__all__ = ["ChatFeature", "build"]


class ChatFeature(Feature):
    name = "chat"
    events = ev.CHAT_EVENTS

    def __init__(self, chat: Chat) -> None:
        self.chat = chat

    def routes(self) -> Sequence[Route[Any]]:
        async def send(conn: Connection, msg: ChatSend, via: str) -> dict[str, Any]:
            message_id = new_message_id()
            event = await self.chat.send(conn.identity, msg.to.audience(), msg.text, msg.data,
                                         client_id=msg.id, reply_to=msg.reply_to,
                                         message_id=message_id)
            # The message id too: a sender who is not in the audience (a student writing
            # to the teachers) threads the replies (``reply_to``) under its own message.
            return {"type": "ack", "id": msg.id, "seq": event.seq,
                    "message_id": message_id}

        async def mute(conn: Connection, msg: ChatMute, via: str) -> dict[str, Any]:
            await self.chat.mute(conn.identity, msg.user, msg.muted)
            return {"type": "ack", "id": msg.id, "user": msg.user, "muted": msg.muted}

        return (Route(ChatSend, send), Route(ChatMute, mute))

    def posts(self) -> Sequence[Post]:
        # A backend or the teacher's tools post a message (``POST /api/sessions/{id}/events``).
        return (Post(ev.MESSAGE, self.chat.send),)

    async def snapshot(self, who: Identity) -> dict[str, Any] | None:
        return await self.chat.snapshot(who)

    async def close(self) -> None:
        await self.chat.close()


def build(services: Services) -> ChatFeature:
    store = services.storage.choose(
        memory=MemoryChatStore,
        redis=lambda client, prefix: RedisChatStore(client, key_prefix=prefix))
    return ChatFeature(Chat(services.classroom, store))
