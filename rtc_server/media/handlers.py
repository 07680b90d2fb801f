"""Registers the media messages with the dispatcher."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .hub import MediaHub
from .messages import MaxRung, SetRung

if TYPE_CHECKING:
    from ..connection import Connection
    from ..dispatcher import Dispatcher


def install(dispatcher: Dispatcher, hub: MediaHub) -> None:
    async def on_set_rung(conn: Connection, msg: SetRung, via: str) -> dict[str, Any]:
        changed = await hub.set_rung(conn.identity.is_staff, conn.session_id, msg.user,
                                     msg.rung, by=conn.user_id)
        return {"type": "ack", "id": msg.id, "viewers": changed}

    async def on_max_rung(conn: Connection, msg: MaxRung, via: str) -> dict[str, Any]:
        media = hub.session(conn.session_id)
        changed = await media.set_rung(conn.user_id, None, by=conn.user_id,
                                       reason=f"pinned to at most {msg.rung}" if msg.rung
                                       else "pin removed", pinned_max=msg.rung)
        return {"type": "ack", "id": msg.id, "viewers": changed}

    dispatcher.add(SetRung, on_set_rung)
    dispatcher.add(MaxRung, on_max_rung)
