"""Client messages of the media feature."""

from __future__ import annotations

from typing import Literal

from rtc_server.base.messages import ClientMessageBase, Name

Rung = Literal["high", "medium", "low"]


class SetRung(ClientMessageBase):
    """Staff: put a student's video/audio on a rung by hand, or back to "auto"."""

    type: Literal["media.set_rung"]
    user: Name
    rung: Rung | Literal["auto"]


class MaxRung(ClientMessageBase):
    """Anyone receiving media: never send me more than ``rung`` (null: no limit)."""

    type: Literal["media.max_rung"]
    rung: Rung | None = None
