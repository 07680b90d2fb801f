"""Decides when confusion signals warrant supplementary material (pure).

One policy per session.  It acts when, within ``window_ms``, at least
``confusion_ratio`` of the class signalled confusion or at least
``wrong_answers`` wrong answers arrived, and not within ``cooldown_ms`` of
its last action.  The decision carries the request to stream to the
affected students, marked with its trigger.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .requests import SupplementRequest

__all__ = ["SupplementPolicy"]


@dataclass(frozen=True, slots=True)
class _Signal:
    at_ms: float
    user_id: str
    detail: str


class SupplementPolicy:
    def __init__(
        self,
        *,
        confusion_ratio: float = 0.3,
        wrong_answers: int = 3,
        window_ms: float = 60_000,
        cooldown_ms: float = 120_000,
        min_confused: int = 2,
    ) -> None:
        if not 0 < confusion_ratio <= 1:
            raise ValueError("confusion_ratio must be in (0, 1]")
        self.confusion_ratio = confusion_ratio
        self.wrong_answers = wrong_answers
        self.window_ms = window_ms
        self.cooldown_ms = cooldown_ms
        # One confused student in a class of three is not a class-wide problem.
        self.min_confused = min_confused
        self._confusion: deque[_Signal] = deque()
        self._wrong: deque[_Signal] = deque()
        self._last_action_ms: float | None = None

    def record_confusion(self, user_id: str, now_ms: float, detail: str = "") -> None:
        self._confusion.append(_Signal(now_ms, user_id, detail))

    def record_answer(self, user_id: str, correct: bool, now_ms: float, detail: str = "") -> None:
        if not correct:
            self._wrong.append(_Signal(now_ms, user_id, detail))

    def _expire(self, now_ms: float) -> None:
        for signals in (self._confusion, self._wrong):
            while signals and now_ms - signals[0].at_ms > self.window_ms:
                signals.popleft()

    def cooling_down(self, now_ms: float) -> bool:
        return self._last_action_ms is not None and now_ms - self._last_action_ms < self.cooldown_ms

    def decide(
        self, now_ms: float, *, class_size: int, topic: str | None
    ) -> SupplementRequest | None:
        """The supplement to stream now, or None.  Acting resets the window."""
        self._expire(now_ms)
        if self.cooling_down(now_ms):
            return None
        confused = sorted({s.user_id for s in self._confusion})
        request: SupplementRequest | None = None
        if (
            class_size > 0
            and len(confused) >= self.min_confused
            and len(confused) / class_size >= self.confusion_ratio
        ):
            details = self._details(self._confusion, f"{len(confused)} of {class_size} confused")
            request = SupplementRequest(
                trigger="confusion", details=details, affected_users=tuple(confused), topic=topic
            )
        elif len(self._wrong) >= self.wrong_answers:
            wrong_users = sorted({s.user_id for s in self._wrong})
            details = self._details(self._wrong, f"{len(self._wrong)} wrong answers")
            request = SupplementRequest(
                trigger="wrong_answers",
                details=details,
                affected_users=tuple(wrong_users),
                topic=topic,
            )
        if request is not None:
            self._last_action_ms = now_ms
            self._confusion.clear()
            self._wrong.clear()
        return request

    @staticmethod
    def _details(signals: deque[_Signal], summary: str) -> str:
        notes = sorted({s.detail for s in signals if s.detail})
        return summary + (": " + "; ".join(notes[:5]) if notes else "")
