"""RetransmitBudget: which NACKs are answered, within a share of the step's rate."""

from __future__ import annotations

from adaptive import LOW, LOW_HALF, LOW_QUARTER, MEDIUM
from adaptive.retransmit_budget import (
    BUCKET_MS,
    FLOOR_RETRANSMIT_SHARE,
    RETRANSMIT_SHARE,
    RetransmitBudget,
    retransmit_share,
)

PACKET = 1_200  # bytes


def _answered_in(budget: RetransmitBudget, seconds: int, per_second: int = 200) -> int:
    """NACKs for distinct packets, ``per_second`` of them, evenly for ``seconds``."""
    answered = 0
    for i in range(seconds * per_second):
        answered += budget.allow(i * 1000 / per_second, i, PACKET)
    return answered


def _expected(rate_bps: float, share: float, seconds: int) -> float:
    """The bucket's first half second plus the share's refill, in packets."""
    return rate_bps * share * (BUCKET_MS / 1000 + seconds) / (PACKET * 8)


def test_a_rung_retransmits_within_its_share_of_the_steps_rate() -> None:
    budget = RetransmitBudget(rate_bps=MEDIUM.total_bps, share=retransmit_share(MEDIUM))

    answered = _answered_in(budget, 10)

    assert abs(answered - _expected(MEDIUM.total_bps, RETRANSMIT_SHARE, 10)) <= 2
    assert budget.refused == 2000 - answered


def test_a_floor_step_retransmits_less_than_the_link_has_spare() -> None:
    # 15 fps of the low rung on an 800 kbit link: ~680 kbit on the wire, ~120 to spare.
    # 30 % of the step (~180 kbps) in repairs kept the shaper's queue full after the
    # down-step; the floor's share fits in what is spare.
    assert retransmit_share(LOW) == RETRANSMIT_SHARE
    assert retransmit_share(LOW_HALF) == retransmit_share(LOW_QUARTER) == FLOOR_RETRANSMIT_SHARE
    budget = RetransmitBudget(rate_bps=LOW.total_bps)
    budget.set_level(LOW_HALF)

    answered = _answered_in(budget, 10)

    assert budget.refill_bps == LOW_HALF.total_bps * FLOOR_RETRANSMIT_SHARE < 120_000
    # (the bucket was filled at the rung's share before the step; set_rate only trims it)
    assert answered <= _expected(LOW_HALF.total_bps, FLOOR_RETRANSMIT_SHARE, 10) + 1
    assert answered >= 50  # lost packets are still repaired, a few a second


def test_a_packet_is_resent_at_most_once_per_round_trip() -> None:
    budget = RetransmitBudget(rate_bps=MEDIUM.total_bps)
    budget.rtt_ms = 150.0

    assert budget.allow(0, 7, PACKET)
    assert not budget.allow(100, 7, PACKET)  # the first copy is still on its way
    assert budget.allow(160, 7, PACKET)
    assert (budget.allowed, budget.refused) == (2, 1)
