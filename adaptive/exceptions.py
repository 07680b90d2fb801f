"""Errors raised by the adaptive-quality core.

    AdaptiveError
    └── UnknownLevelError   (a quality level name that is not high/medium/low)

The core is pure; callers (the ``rtc_server`` adapter, signaling handlers)
decide what an error means on the wire.
"""

from __future__ import annotations


class AdaptiveError(Exception):
    """Base class of every error the ``adaptive`` package raises."""


class UnknownLevelError(AdaptiveError, ValueError):
    """A quality level was asked for by a name that does not exist."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown quality level {name!r} (expected 'low', 'medium' or 'high')")
        self.name = name
