"""Client messages of the chat feature."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from rtc_server.base.messages import ClientMessageBase, Name, Target

__all__ = ["ChatMute", "ChatSend", "MESSAGES"]

MessageRef = Annotated[str, Field(min_length=1, max_length=64)]


class ChatSend(ClientMessageBase):
    """A text message (and optional data) to the session, a group or a user.

    ``reply_to`` names the ``message_id`` of the message this answers, so the
    teacher's reply is shown under the student's question.
    """

    type: Literal["message"]
    to: Target
    text: Annotated[str, Field(max_length=8000)] = ""
    data: dict[str, Any] | None = None
    reply_to: MessageRef | None = None


class ChatMute(ClientMessageBase):
    """Staff: stop (or allow again) a student's chat messages."""

    type: Literal["chat.mute"]
    user: Name
    muted: bool = True


MESSAGES: tuple[type[ClientMessageBase], ...] = (ChatSend, ChatMute)
