"""Pacer: leaky-bucket release times for one viewer, and the padding a probe needs."""

from __future__ import annotations

import pytest

from adaptive.levels import MEDIUM
from adaptive.pacer import BURST_MS, MAX_QUEUE_MS, PACING_FACTOR, Pacer

PACKET = 1200


def test_packets_leave_at_the_pacing_rate_after_one_burst() -> None:
    pacer = Pacer(rate_bps=MEDIUM.total_bps)
    gap_ms = PACKET * 8 * 1000 / (MEDIUM.total_bps * PACING_FACTOR)

    times = pacer.schedule(1000.0, [PACKET] * 10)

    burst = int(BURST_MS / gap_ms) + 1  # what fits in the bucket leaves at once
    assert times[:burst] == [1000.0] * burst
    assert times[burst] > 1000.0
    gaps = [b - a for a, b in zip(times[burst:], times[burst + 1:], strict=False)]
    assert gaps == pytest.approx([gap_ms] * len(gaps))
    assert pacer.sent_bytes == 10 * PACKET


def test_a_720p_keyframe_is_spread_over_about_a_tenth_of_a_second() -> None:
    pacer = Pacer(rate_bps=MEDIUM.total_bps)
    keyframe = [PACKET] * (68_000 // PACKET)

    times = pacer.schedule(0.0, keyframe)

    # 68 kB at 2.5 x 2.1 Mbit/s: ~100 ms instead of one line-rate burst, so a
    # 4 Mbit/s shaper's ~100 ms queue never fills (issue 14's 13-17 lost packets).
    assert 90 <= times[-1] <= 105
    assert times == sorted(times)
    assert pacer.queue_ms(0.0) == pytest.approx(times[-1] + PACKET * 8000
                                                / (MEDIUM.total_bps * PACING_FACTOR), rel=0.02)


def test_an_idle_pacer_does_not_save_up_a_big_burst() -> None:
    pacer = Pacer(rate_bps=1_000_000)
    pacer.schedule(0.0, [PACKET])

    times = pacer.schedule(60_000.0, [PACKET] * 20)

    assert sum(1 for t in times if t == 60_000.0) <= 2
    assert times[-1] > 60_000.0 + 50


def test_a_backlog_never_takes_longer_than_the_queue_limit_to_drain() -> None:
    pacer = Pacer(rate_bps=300_000)  # 750 kbit/s pacing: 1 MB would take ~11 s

    times = pacer.schedule(0.0, [PACKET] * 850)

    assert times[-1] <= MAX_QUEUE_MS + 1e-6
    assert times == sorted(times)


def test_a_lower_rate_spaces_later_packets_wider() -> None:
    pacer = Pacer(rate_bps=4_000_000)
    fast = pacer.schedule(0.0, [PACKET] * 20)
    pacer.set_rate(1_000_000)

    slow = pacer.schedule(1000.0, [PACKET] * 20)

    assert (slow[-1] - slow[-2]) == pytest.approx(4 * (fast[-1] - fast[-2]))


def test_padding_tops_media_up_to_the_probe_target() -> None:
    pacer = Pacer(rate_bps=964_000)
    target = 2_640_000
    media_per_frame = 964_000 // 8 // 30
    sent = 0
    for tick in range(0, 500, 5):  # 5 ms timer, a frame every ~33 ms, for 0.5 s
        now = float(tick)
        sizes = [media_per_frame] if tick % 33 < 5 else []
        padding = pacer.padding_bytes(now, target)
        sizes += [PACKET] * (padding // PACKET) + ([padding % PACKET] if padding % PACKET else [])
        pacer.schedule(now, sizes)
        sent += sum(sizes)

    assert sent * 8 / 0.5 == pytest.approx(target, rel=0.05)
    assert pacer.padding_bytes(500.0, 0) == 0  # probe over: nothing owed any more
    assert pacer.padding_bytes(505.0, 0) == 0


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive rate"):
        Pacer(rate_bps=0)


def test_packets_handed_over_one_by_one_above_the_pacing_rate_wait_at_most_the_queue_limit() -> None:
    # A viewer switched to 1080p (4.6 Mbps) while the pacer still paces 480p (2.4 Mbps):
    # the media path schedules each packet alone, 10 s of it.
    pacer = Pacer(rate_bps=964_000)
    worst = 0.0
    for i in range(4_800):
        now = i * 1200 * 8 / 4.6e6 * 1000
        (release,) = pacer.schedule(now, [1200])
        worst = max(worst, release - now)
    assert worst <= MAX_QUEUE_MS + 1e-6
