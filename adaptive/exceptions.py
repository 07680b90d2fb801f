"""Errors raised by the adaptive-quality core.

    AdaptiveError
    └── UnknownLevelError   (a quality step name that does not exist)

The core is pure; callers (the ``rtc_server`` adapter, signaling handlers)
decide what an error means on the wire.
"""

from __future__ import annotations

from collections.abc import Sequence


class AdaptiveError(Exception):
    """Base class of every error the ``adaptive`` package raises."""


class UnknownLevelError(AdaptiveError, ValueError):
    """A quality step was asked for by a name that does not exist."""

    def __init__(self, name: str, known: Sequence[str] = ("low", "medium", "high")) -> None:
        expected = ", ".join(repr(k) for k in known)
        super().__init__(f"unknown quality level {name!r} (expected one of {expected})")
        self.name = name
