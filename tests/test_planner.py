"""Plan skeletons and section tracking (pure)."""

from __future__ import annotations

import pytest

from rtc_server.content import plan_sections, understanding_from_responses
from rtc_server.content.planner import SectionTracker


def test_understanding_weights_confident_answers_more() -> None:
    assert understanding_from_responses([]) is None
    assert understanding_from_responses([(True, None), (True, 1.0)]) == 1.0
    confident_wrong = understanding_from_responses([(True, 0.0), (False, 1.0)])
    hesitant_wrong = understanding_from_responses([(True, 1.0), (False, 0.0)])
    assert confident_wrong < 0.5 < hesitant_wrong


@pytest.mark.parametrize("minutes", [1, 2, 3, 5, 7, 12, 45, 240])
@pytest.mark.parametrize("understanding", [None, 0.1, 0.6, 0.95])
def test_sections_fit_minutes_remaining(minutes: int, understanding: float | None) -> None:
    sections = plan_sections(minutes, understanding)
    assert sections
    assert sum(s.estimated_minutes for s in sections) == minutes
    assert all(s.estimated_minutes >= 1 for s in sections)


def test_low_understanding_plans_review_and_slower_practice() -> None:
    low = plan_sections(20, 0.2)
    mid = plan_sections(20, 0.65)
    assert [s.type for s in low][:2] == ["review", "guided_practice"]
    assert {s.difficulty for s in low} == {"beginner"}
    assert "review" not in [s.type for s in mid]
    low_practice = sum(
        s.estimated_minutes for s in low if "practice" in s.type or s.type == "review"
    )
    mid_practice = sum(s.estimated_minutes for s in mid if "practice" in s.type)
    assert low_practice > mid_practice


def test_high_understanding_adds_challenge() -> None:
    assert "challenge" in [s.type for s in plan_sections(20, 0.9)]


def test_short_time_keeps_most_important_sections() -> None:
    # Check and wrap-up go first; what is left stays in lesson order.
    assert [s.type for s in plan_sections(2, 0.2)] == ["review", "guided_practice"]
    assert [s.type for s in plan_sections(1, 0.2)] == ["guided_practice"]
    assert plan_sections(0, 0.5) == ()


def test_tracker_emits_section_when_next_heading_line_completes() -> None:
    specs = plan_sections(10, 0.65)
    tracker = SectionTracker(specs)
    assert tracker.feed("# Plan\nintro\n## 1. Quick recap (2 min)\nRecall ") == []
    assert tracker.feed("fractions.\n## 2. New") == []  # heading line not finished yet
    done = tracker.feed(" idea (4 min)\nText")
    assert [(d.index, d.spec.type, d.content) for d in done] == [(0, "recap", "Recall fractions.")]
    assert done[0].heading == "1. Quick recap (2 min)"
    tracker.feed("\n## 3. Practice\nDo it.\n## 4. Wrap-up\nBye.\n## 5. Extra\nmore")
    rest = tracker.finish()
    assert [d.index for d in rest] == [3]
    assert rest[0].content.startswith("Bye.") and "Extra" in rest[0].content


def test_tracker_finish_fills_missing_sections() -> None:
    specs = plan_sections(10, 0.65)
    tracker = SectionTracker(specs)
    tracker.feed("no headings at all")
    out = tracker.finish()
    assert [d.index for d in out] == list(range(len(specs)))
    assert all(d.content == "" for d in out)
