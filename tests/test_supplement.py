"""SupplementPolicy: thresholds, window, cooldown (pure, synthetic clock)."""

from __future__ import annotations

from rtc_server.content import SupplementPolicy


def test_confusion_ratio_triggers_for_affected_students() -> None:
    p = SupplementPolicy(confusion_ratio=0.3, min_confused=2)
    p.record_confusion("ann", 1_000, "what is a denominator?")
    assert p.decide(1_500, class_size=10, topic="Fractions") is None  # 1 of 10
    p.record_confusion("bob", 2_000)
    p.record_confusion("bob", 2_100)  # same student twice counts once
    assert p.decide(2_500, class_size=10, topic="Fractions") is None  # 2 of 10
    p.record_confusion("cat", 3_000)
    req = p.decide(3_500, class_size=10, topic="Fractions")
    assert req is not None
    assert req.kind == "supplement" and req.trigger == "confusion"
    assert req.affected_users == ("ann", "bob", "cat")
    assert req.topic == "Fractions"
    assert "3 of 10 confused" in req.details and "denominator" in req.details


def test_wrong_answers_trigger() -> None:
    p = SupplementPolicy(wrong_answers=3)
    p.record_answer("ann", True, 0)
    p.record_answer("ann", False, 10)
    p.record_answer("bob", False, 20)
    assert p.decide(30, class_size=30, topic=None) is None
    p.record_answer("bob", False, 40, "said 1/2 + 1/3 = 2/5")
    req = p.decide(50, class_size=30, topic=None)
    assert req is not None and req.trigger == "wrong_answers"
    assert req.affected_users == ("ann", "bob")
    assert "2/5" in req.details


def test_signals_outside_window_expire() -> None:
    p = SupplementPolicy(wrong_answers=2, window_ms=1_000)
    p.record_answer("ann", False, 0)
    p.record_answer("bob", False, 1_500)
    assert p.decide(1_600, class_size=5, topic=None) is None


def test_cooldown_suppresses_repeat_actions() -> None:
    p = SupplementPolicy(wrong_answers=1, cooldown_ms=10_000)
    p.record_answer("ann", False, 0)
    assert p.decide(0, class_size=5, topic=None) is not None
    p.record_answer("bob", False, 1_000)
    assert p.decide(5_000, class_size=5, topic=None) is None
    assert p.cooling_down(5_000)
    p.record_answer("bob", False, 9_500)
    assert p.decide(10_000, class_size=5, topic=None) is not None
