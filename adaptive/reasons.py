"""Texts for decisions: the log reason and the short notice a student is shown.

Reasons compare numbers ("estimate 1.40 Mbps < 2.10 Mbps needed by medium");
:func:`compare` prints them with as many decimals as it takes for the
printed figures to obey the printed relation, so that a reason never reads
"1.89 Mbps >= 1.89 Mbps" or, worse, "1.86 Mbps >= 1.89 Mbps" (issue 14).

Notices are for the student: no figures, a cause and what they will see.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Literal

from .levels import QualityLevel

Relation = Literal["<", "<=", ">", ">="]
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}

CapCause = Literal["server load cap", "client's pinned maximum", "source maximum"]


def mbps(bps: float, decimals: int = 2) -> str:
    return f"{bps / 1e6:.{decimals}f} Mbps"


def seconds(ms: float) -> str:
    return f"{ms / 1000:.1f} s"


def percent(fraction: float) -> str:
    return f"{fraction:.1%}"


def compare(a_bps: float, relation: Relation, b_bps: float) -> str:
    """``"a <relation> b"`` in Mbps, precise enough that the printed figures agree.

    The caller states a relation that holds; this only makes sure rounding
    does not turn it into a contradiction on the page.
    """
    holds = _OPS[relation]
    for decimals in (2, 3, 4, 6):
        a_text, b_text = mbps(a_bps, decimals), mbps(b_bps, decimals)
        if holds(round(a_bps / 1e6, decimals), round(b_bps / 1e6, decimals)):
            return f"{a_text} {relation} {b_text}"
    return f"{mbps(a_bps, 6)} {relation} {mbps(b_bps, 6)}"


def label(level: QualityLevel) -> str:
    """What a student would call a step: "720p", "480p at half frame rate", ..."""
    if level.audio_only:
        return "audio with a still picture"
    if level.frame_rate_fraction == 0.5:
        return f"{level.height}p at half frame rate"
    if level.frame_rate_fraction == 0.25:
        return f"{level.height}p at a quarter of the frame rate"
    return f"{level.height}p"


def notice(previous: QualityLevel, level: QualityLevel, kind: str,
           cause: CapCause | None = None) -> str:
    """The sentence a student sees for a switch from ``previous`` to ``level``."""
    if kind == "cap":
        if cause == "server load cap":
            return f"The server is busy: video is limited to {label(level)} for now."
        if cause == "client's pinned maximum":
            return f"Video is limited to {label(level)}, as you chose."
        return f"The teacher's video is at most {label(level)}."
    if kind == "down":
        if level.audio_only:
            return ("Your connection is too slow for video: you hear the class and see "
                    "a still picture every few seconds.")
        if not level.is_rung:
            return "Your connection is slow: showing fewer frames."
        return "Your connection is slower: showing a lower resolution."
    if previous.audio_only:
        return "Your connection improved: the video is moving again."
    if not level.is_rung:
        return "Your connection improved: showing more frames."
    if not previous.is_rung:
        return "Your connection improved: full frame rate again."
    return "Your connection improved: showing a higher resolution."
