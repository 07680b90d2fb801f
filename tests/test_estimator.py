"""BandwidthEstimator: unit behaviour and trace-driven tracking."""

from __future__ import annotations

import pytest

from adaptive import BandwidthEstimator
from adaptive.estimator import INITIAL_BPS, REMB_STALE_MS, RTT_STALE_MS
from tests.support.adaptive_traces import LinkSimulator, Trace, feed, steps


def test_estimate_without_inputs_is_initial_and_unconfident() -> None:
    estimate = BandwidthEstimator().estimate(0)

    assert estimate.available_bps == INITIAL_BPS
    assert estimate.confidence == "none"
    assert estimate.source == "initial"
    assert estimate.rtt_ms is None
    assert estimate.input_age_ms is None


def test_remb_that_drops_from_its_peak_bounds_the_estimate() -> None:
    estimator = BandwidthEstimator()
    for t in range(0, 10_000, 1000):
        estimator.on_sent_bitrate(t, 3_000_000)
        estimator.on_receiver_report(t, 0.0, 5.0, 40.0)
        estimator.on_remb(t, 4_000_000)
    estimator.on_remb(10_000, 2_000_000)  # the receiver saw over-use and cut
    estimator.on_receiver_report(10_000, 0.0, 5.0, 40.0)

    estimate = estimator.estimate(10_000)

    assert estimator.remb_congested(10_000)
    assert estimate.available_bps == 2_000_000
    assert estimate.source == "remb"
    assert estimate.confidence == "high"
    assert estimate.loss_based_bps is not None and estimate.loss_based_bps > 3_000_000


def test_a_clean_remb_still_ramping_is_not_a_bound() -> None:
    # aiortc's receiver starts its REMB near 200 kbps and climbs ~8 %/s; without loss or
    # a drop it says nothing about the link's capacity.
    estimator = BandwidthEstimator()
    for t in range(0, 6000, 1000):
        estimator.on_sent_bitrate(t, 1_000_000)
        estimator.on_remb(t, 200_000 * 1.08 ** (t / 1000))
        estimator.on_receiver_report(t, 0.0, 5.0, 2.0)

    estimate = estimator.estimate(5000)

    assert not estimator.remb_congested(5000)
    assert estimate.source == "loss" and estimate.available_bps >= 1_000_000
    assert estimate.remb_bps is not None and estimate.remb_bps < 400_000


def test_remb_below_what_we_send_with_loss_is_congestion() -> None:
    estimator = BandwidthEstimator()
    estimator.on_sent_bitrate(0, 3_000_000)
    estimator.on_remb(0, 1_500_000)
    estimator.on_receiver_report(0, 0.05, 30.0, 60.0)

    assert estimator.remb_congested(0)
    assert estimator.estimate(0).available_bps == 1_500_000


def test_remb_expires_and_loss_estimate_takes_over() -> None:
    estimator = BandwidthEstimator()
    estimator.on_sent_bitrate(0, 3_000_000)
    estimator.on_remb(0, 4_000_000)
    estimator.on_remb(500, 1_000_000)
    for t in range(0, REMB_STALE_MS + 2000, 1000):
        estimator.on_receiver_report(t, 0.0, 5.0, 40.0)

    fresh = estimator.estimate(1000)
    stale = estimator.estimate(REMB_STALE_MS + 1000)

    assert fresh.source == "remb"
    assert stale.source == "loss"
    assert stale.remb_bps is None
    assert stale.available_bps >= 3_000_000


def test_high_loss_cuts_from_the_rate_actually_sent() -> None:
    estimator = BandwidthEstimator(initial_bps=10_000_000)
    estimator.on_sent_bitrate(0, 4_000_000)
    estimator.on_receiver_report(0, 0.30, 20.0)

    # Cut from the 4 Mbps we sent, not from the optimistic 10 Mbps start, and to no more
    # than the 70 % of it that got through.
    assert estimator.estimate(0).available_bps == pytest.approx(4_000_000 * (1 - 0.30))


def test_low_loss_grows_about_eight_percent_per_second() -> None:
    estimator = BandwidthEstimator()
    estimator.on_delivered(0, 1_000_000)  # goodput keeps the cap out of the way
    estimator.on_sent_bitrate(0, 1_000_000)
    estimator.on_receiver_report(0, 0.0, 5.0)
    for t in range(1000, 4000, 1000):
        estimator.on_sent_bitrate(t, 1_000_000)
        estimator.on_delivered(t, 1_000_000)
        estimator.on_receiver_report(t, 0.01, 5.0)

    assert estimator.estimate(3000).loss_based_bps == pytest.approx(1_000_000 * 1.08**3)


def test_moderate_loss_holds_the_estimate() -> None:
    estimator = BandwidthEstimator()
    estimator.on_sent_bitrate(0, 2_000_000)
    estimator.on_receiver_report(0, 0.0, 5.0)
    before = estimator.estimate(0).loss_based_bps
    for t in range(1000, 6000, 1000):
        estimator.on_sent_bitrate(t, 2_000_000)
        estimator.on_receiver_report(t, 0.05, 5.0)

    assert estimator.estimate(5000).loss_based_bps == before


def test_loss_estimate_stays_within_reach_of_what_was_carried() -> None:
    estimator = BandwidthEstimator()
    for t in range(0, 60_000, 1000):
        estimator.on_sent_bitrate(t, 1_000_000)
        estimator.on_receiver_report(t, 0.0, 5.0)

    assert estimator.estimate(59_000).available_bps == pytest.approx(1_500_000)


def test_rtt_is_smoothed_across_reports_and_pings() -> None:
    estimator = BandwidthEstimator()
    for t in range(0, 5000, 500):
        estimator.on_probe_rtt(t, 100.0)
    estimator.on_receiver_report(5000, 0.0, 5.0, rtt_ms=300.0)

    rtt = estimator.estimate(5000).rtt_ms
    assert rtt is not None and 140 < rtt < 160  # one spike moves it a quarter of the way


def test_rtt_expires() -> None:
    estimator = BandwidthEstimator()
    estimator.on_probe_rtt(0, 80.0)

    assert estimator.estimate(RTT_STALE_MS).rtt_ms == 80.0
    assert estimator.estimate(RTT_STALE_MS + 1).rtt_ms is None


def test_data_only_client_is_estimated_from_goodput_and_pings() -> None:
    estimator = BandwidthEstimator()
    for t in range(0, 4000, 100):
        estimator.on_delivered(t, 25_000)  # 2 Mbit/s acknowledged
        estimator.on_probe_rtt(t, 30.0)

    estimate = estimator.estimate(3900)

    assert estimate.source == "goodput"
    assert estimate.confidence == "low"
    assert estimate.available_bps == pytest.approx(2_000_000, rel=0.1)
    assert estimate.rtt_ms == pytest.approx(30.0)


def test_everything_stale_reports_no_confidence_but_keeps_last_value() -> None:
    estimator = BandwidthEstimator()
    estimator.on_remb(0, 3_000_000)
    estimator.on_receiver_report(0, 0.0, 5.0, 40.0)
    assert estimator.estimate(0).available_bps == 3_000_000

    late = estimator.estimate(60_000)

    assert late.confidence == "none"
    assert late.available_bps == 3_000_000
    assert late.input_age_ms == 60_000


def test_estimate_follows_a_capacity_drop_within_two_reports() -> None:
    trace = Trace("drop", 40_000, steps((0, 10e6), (20_000, 1.5e6)))
    link = LinkSimulator(trace, seed=3)
    estimator = BandwidthEstimator()
    estimates = {}
    while link.now_ms < trace.duration_ms:
        report = link.step(4_600_000)  # a sender stuck at the high rung
        if report is not None:
            feed(estimator, report)
            estimates[report.at_ms] = estimator.estimate(report.at_ms)

    before = estimates[19_000]
    assert before.available_bps > 4_600_000
    for t in (22_000, 30_000, 40_000):
        assert estimates[t].available_bps < 1_500_000
        assert estimates[t].loss_fraction > 0.5
        rtt = estimates[t].rtt_ms
        assert rtt is not None and rtt > 150  # the queue is full
