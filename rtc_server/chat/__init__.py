"""The chat feature: messages to the teacher, to groups and to the class, with replies.

A student writes to the teacher (the teacher's inbox), a teacher replies to one
student or to the whole class, and can mute a student's chat. Messages are
kept (the last :data:`~.store.HISTORY_MAX` per session), so a reloaded page
or a late joiner gets the conversation from the snapshot.

Built only through the feature contract: this folder and one line in the
app's feature list (``signaling/app.py``).
"""

from .feature import ChatFeature, build
from .service import Chat
from .store import ChatStore, MemoryChatStore

__all__ = ["Chat", "ChatFeature", "ChatStore", "MemoryChatStore", "build"]
