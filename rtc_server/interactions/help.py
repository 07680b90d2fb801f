"""Help requests and raised hands: the queue the teacher works through (no I/O).

A student has at most one open request: asking again while one is open
returns the open one (a resent message or a double click changes nothing).
Staff resolve requests; the queue is ordered by the time of asking.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from .exceptions import InvalidRequest

__all__ = ["MAX_HELP_TEXT", "HelpKind", "HelpRequest", "new_help_request", "ordered", "queue_json"]

HelpKind = Literal["hand", "help"]
MAX_HELP_TEXT = 1000


@dataclass(frozen=True, kw_only=True)
class HelpRequest:
    id: str
    user_id: str
    name: str
    kind: HelpKind
    text: str = ""
    question_id: str | None = None
    created_at_ms: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HelpRequest:
        return cls(**data)


def new_help_request(
    *, help_id: str, user_id: str, name: str, kind: HelpKind, text: str,
    question_id: str | None, now_ms: int,
) -> HelpRequest:
    """A raised hand needs no text; a help request does (what the student is stuck on)."""
    text = text.strip()
    if kind == "help" and not text:
        raise InvalidRequest("field 'text': say what you need help with (or raise a hand)")
    if len(text) > MAX_HELP_TEXT:
        raise InvalidRequest(f"field 'text': at most {MAX_HELP_TEXT} characters")
    return HelpRequest(id=help_id, user_id=user_id, name=name, kind=kind, text=text,
                       question_id=question_id, created_at_ms=now_ms)


def ordered(requests: list[HelpRequest]) -> list[HelpRequest]:
    """First come, first served (ties broken by id so every process shows the same order)."""
    return sorted(requests, key=lambda r: (r.created_at_ms, r.id))


def queue_json(requests: list[HelpRequest]) -> list[dict[str, Any]]:
    return [r.to_json() for r in ordered(requests)]
