"""Stream event types of the chat feature.

=========== =============================== ==========================================
type        audience                        payload
=========== =============================== ==========================================
message     as sent                         ``message_id, from {user, name, role}, text,
                                            data?, id?, reply_to?, to``
chat.muted  the student, and group teacher  ``user, muted, by``
=========== =============================== ==========================================

A student sees what they sent from the ``ack`` and, after a reload, in the
``chat`` part of the snapshot.
"""

from __future__ import annotations

from rtc_server.base.protocol import EventCatalogue, EventType

MESSAGE = EventType("message", "as sent", "a chat message")
CHAT_MUTED = EventType("chat.muted", "user + group teacher", "a student's chat muted/unmuted")

CHAT_EVENTS = EventCatalogue("chat", (MESSAGE, CHAT_MUTED))
