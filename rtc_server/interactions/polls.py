"""Polls: validation, vote rules and the tally (no I/O).

One vote per student per poll; voting again *changes* the vote (the store
keeps ``user -> option``), until the poll closes. ``show_results`` decides
whether students see the live tally or only the teacher does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from .exceptions import InvalidRequest, PollClosed

__all__ = ["MAX_OPEN_POLLS", "MAX_OPTIONS", "Poll", "check_vote", "new_poll", "tally"]

MIN_OPTIONS = 2
MAX_OPTIONS = 10
#: Polls open at once in a session: every snapshot lists them with their tallies.
MAX_OPEN_POLLS = 20
PollStatus = Literal["open", "closed"]


@dataclass(frozen=True, kw_only=True)
class Poll:
    id: str
    question: str
    options: tuple[str, ...]
    show_results: bool = False
    opened_at_ms: int
    opened_by: str
    status: PollStatus = "open"
    closed_at_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["options"] = list(self.options)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Poll:
        values = dict(data)
        values["options"] = tuple(values["options"])
        return cls(**values)

    @property
    def is_open(self) -> bool:
        return self.status == "open"


def new_poll(
    *, poll_id: str, question: str, options: list[str] | tuple[str, ...], show_results: bool,
    opened_by: str, now_ms: int,
) -> Poll:
    question = question.strip()
    if not question:
        raise InvalidRequest("field 'question': a poll needs a question")
    cleaned = tuple(o.strip() for o in options)
    if not MIN_OPTIONS <= len(cleaned) <= MAX_OPTIONS:
        raise InvalidRequest(
            f"field 'options': a poll needs {MIN_OPTIONS} to {MAX_OPTIONS} options, "
            f"got {len(cleaned)}"
        )
    if any(not o for o in cleaned) or len(set(cleaned)) != len(cleaned):
        raise InvalidRequest("field 'options': options must be non-empty and differ")
    return Poll(id=poll_id, question=question, options=cleaned, show_results=show_results,
                opened_at_ms=now_ms, opened_by=opened_by)


def check_vote(poll: Poll, option: int) -> None:
    if not poll.is_open:
        raise PollClosed(f"cannot vote in poll {poll.id!r} in state 'closed'")
    if not 0 <= option < len(poll.options):
        raise InvalidRequest(
            f"field 'option': {option} is not an option of poll {poll.id!r} "
            f"(0..{len(poll.options) - 1})"
        )


def tally(poll: Poll, votes: dict[str, int]) -> dict[str, Any]:
    """Counts per option from ``user -> option``; votes for unknown options are ignored."""
    counts = [0] * len(poll.options)
    for option in votes.values():
        if 0 <= option < len(counts):
            counts[option] += 1
    return {"poll_id": poll.id, "counts": counts, "total": sum(counts),
            "options": list(poll.options)}
