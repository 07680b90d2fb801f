"""ProbeJudge: verdicts on padding windows from the receiver reports that cover them."""

from __future__ import annotations

import pytest

from adaptive.estimate import ReportSample
from adaptive.probe_judge import PROBE_VERDICT_TIMEOUT_MS, ProbeJudge


def _report(at_ms: float, loss: float = 0.0, rtt_ms: float | None = 40.0) -> ReportSample:
    return ReportSample(at_ms=at_ms, loss_fraction=loss, raw_loss_fraction=loss, rtt_ms=rtt_ms)


def _judge_with_history() -> ProbeJudge:
    judge = ProbeJudge()
    for t in (1000, 2000, 3000):
        judge.on_report(_report(t))
    return judge


def test_a_window_is_carried_once_a_clean_report_covers_its_end() -> None:
    judge = _judge_with_history()
    assert judge.on_probe_sent(3600, 3100, 3600, 165_000) is None  # no covering report yet
    assert judge.on_report(_report(3620)) is None  # too soon after the window's end
    # ... and still too soon: a receiver's REMB cut after a probe that filled a shaper's
    # bucket and queue without a loss (0.5 s at 1.2 Mbps into 800 kbit) comes later.
    assert judge.on_report(_report(4000, rtt_ms=43.0)) is None

    outcome = judge.on_report(_report(4700, rtt_ms=43.0))

    assert outcome is not None and outcome.carried
    assert outcome.bps == pytest.approx(165_000 * 8 / 0.5)
    assert outcome.rtt_growth_ms == pytest.approx(3.0)
    assert judge.latest is outcome


def test_loss_in_a_report_that_arrived_during_the_window_fails_it() -> None:
    judge = _judge_with_history()
    judge.on_report(_report(3400, loss=0.12))  # arrived while padding, before the report

    outcome = judge.on_probe_sent(3600, 3100, 3600, 165_000)

    assert outcome is not None and not outcome.carried
    assert outcome.failure == "loss 12.0% >= 5.0%"


def test_delay_growth_fails_the_window() -> None:
    judge = _judge_with_history()
    judge.on_probe_sent(3600, 3100, 3600, 165_000)

    outcome = judge.on_report(_report(4000, rtt_ms=95.0))

    assert outcome is not None and not outcome.carried
    assert outcome.failure == "RTT +55 ms >= +25 ms"


def test_a_remb_cut_during_the_window_fails_it() -> None:
    judge = _judge_with_history()
    judge.on_remb_cut(3300)

    outcome = judge.on_probe_sent(3600, 3100, 3600, 165_000)

    assert outcome is not None and not outcome.carried
    assert outcome.failure == "the receiver cut its estimate"


def test_without_a_covering_report_the_window_fails_for_lack_of_evidence() -> None:
    judge = _judge_with_history()
    judge.on_probe_sent(3600, 3100, 3600, 165_000)

    assert judge.on_remb_cut(2000) is None  # an old cut says nothing about the window
    outcome = judge.on_report(_report(3590))  # before the window ended
    assert outcome is None
    assert judge.poll(3600 + PROBE_VERDICT_TIMEOUT_MS - 1) is None
    late = judge.poll(3600 + PROBE_VERDICT_TIMEOUT_MS)
    assert late is not None and not late.carried
    assert late.failure == "no receiver report covered the probe"


def test_a_remb_cut_a_second_after_the_window_still_fails_it() -> None:
    judge = _judge_with_history()
    judge.on_probe_sent(3600, 3100, 3600, 165_000)
    assert judge.on_report(_report(4000)) is None

    outcome = judge.on_remb_cut(4300)

    assert outcome is not None and not outcome.carried
    assert outcome.failure == "the receiver cut its estimate"


def test_loss_of_the_padding_stream_fails_a_window_the_media_report_calls_clean() -> None:
    # Chromium on a 1,500 kbit tbf link, audio-only step: the shaper dropped the RTX
    # padding, the few media packets got through. The media report alone said "carried".
    judge = _judge_with_history()
    judge.on_probe_sent(3600, 3100, 3600, 165_000)

    outcome = judge.on_padding_report(3700, 0.66)

    assert outcome is not None and not outcome.carried
    assert outcome.failure is not None and "loss 66.0%" in outcome.failure


def test_a_window_the_media_path_aborted_fails_at_once_with_its_reason() -> None:
    judge = _judge_with_history()

    outcome = judge.on_probe_sent(3200, 3100, 3160, 20_000, aborted="a NACK 60 ms in")

    assert outcome is not None and not outcome.carried and outcome.failure == "a NACK 60 ms in"
    assert judge.on_report(_report(4000)) is None  # nothing left pending
