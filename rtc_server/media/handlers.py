"""The media messages and their handlers."""

from __future__ import annotations

from typing import Any

from rtc_server.core.connection import Connection
from rtc_server.core.feature import Route

from .hub import MediaHub
from .messages import MaxRung, SetRung


def routes(hub: MediaHub) -> tuple[Route[Any], ...]:
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

    return (Route(SetRung, on_set_rung), Route(MaxRung, on_max_rung))
