"""A service one feature offers the others through the core: help grounded in the class's
material (hints that quote the reading, answers judged against it).

The content feature has the material and the model prompts; the interactions feature
has the questions. Neither imports the other: content *provides* a
:class:`TeachingAid` (``Feature.provides``), interactions asks the installed
features for one (``Features.service(TEACHING_AID)``) when it prepares hints or
evaluates a free-text answer. Plain data crosses: question texts, answers, verdicts.
Every method returns None when it cannot help (the class has no material), and the
caller then uses its own embedded way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .feature import ServiceKey

__all__ = ["TEACHING_AID", "TeachingAid", "Verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    correct: bool
    score: float
    feedback: str
    #: Who judged: "ai:<provider>" or "material".
    evaluator: str


@runtime_checkable
class TeachingAid(Protocol):
    async def hints(self, session_id: str, question: str, choices: Sequence[str],
                    answer: str) -> list[str] | None:
        """Progressive hints grounded in the material (None: no material to ground in)."""
        ...

    async def evaluate(self, session_id: str, question: str, reference: str,
                       answer: str) -> Verdict | None:
        """A free-text answer judged against the material by the model (None: cannot)."""
        ...


#: The key a feature offers its teaching aid under (``Feature.provides``).
TEACHING_AID: ServiceKey[TeachingAid] = ServiceKey("teaching_aid")
