"""Keyframe bursts, so that their loss is not read as a lasting capacity drop.

A keyframe is several times the size of a delta frame and leaves the server
in one burst. On a link with a shallow shaper (``tc tbf ... burst 20kb
latency 60ms`` drops what does not fit in ~60 ms) the burst alone can lose a
dozen packets although the link carries the rung's *average* rate twice
over (issue 14: a 4,000 kbit link, 720p, 13-17 packets lost per keyframe).
Counted as congestion, that loss cuts the estimate every 3 s.

:class:`KeyframeWindow` remembers each burst the media path sent
(``on_keyframe_sent``) and forgives, in the receiver report that covers it,
loss up to the burst's own size: a burst can at worst lose itself, so each
burst's bytes are a budget that is spent once. Loss beyond that budget, or
in reports that cover no burst, counts in full; real congestion that
happens to coincide with a keyframe is therefore still seen, and the next
report (3 s between keyframes, ~1 s between reports) shows it whole.

A receiver's delay-based estimate (REMB) also dips when a burst fills the
shaper's queue; :meth:`in_window` tells the estimator that a REMB cut came
right after a burst (see :class:`~adaptive.estimator.BandwidthEstimator`).
"""

from __future__ import annotations

from collections import deque

#: A burst's loss and queueing show in feedback that arrives this soon after it.
KEYFRAME_WINDOW_MS = 1_500
#: A report covers packets sent up to this long before the previous report
#: arrived (the receiver's interval does not end when its report reaches us).
REPORT_SLACK_MS = 200
#: Bursts older than this are forgotten.
KEYFRAME_MEMORY_MS = 10_000


class KeyframeWindow:
    """The keyframe bursts sent to one peer and the loss still forgivable for each."""

    def __init__(self) -> None:
        # [sent at ms, bytes still forgivable]
        self._bursts: deque[list[float]] = deque()

    def on_keyframe_sent(self, now_ms: float, size_bytes: int) -> None:
        """A keyframe of ``size_bytes`` (all its packets) left for this peer."""
        self._bursts.append([now_ms, float(max(0, size_bytes))])
        while self._bursts and self._bursts[0][0] < now_ms - KEYFRAME_MEMORY_MS:
            self._bursts.popleft()

    def in_window(self, now_ms: float) -> bool:
        """Was a burst sent within ``KEYFRAME_WINDOW_MS`` before ``now_ms``?"""
        return any(0 <= now_ms - sent_ms <= KEYFRAME_WINDOW_MS for sent_ms, _ in self._bursts)

    def forgive(
        self,
        now_ms: float,
        previous_report_ms: float | None,
        loss_fraction: float,
        interval_bytes: float | None,
        rtt_ms: float | None = None,
    ) -> float:
        """The part of a report's ``loss_fraction`` that the bursts it covers explain.

        ``interval_bytes`` is what was sent to the peer over the report's
        interval (``None`` = unknown: nothing is forgiven, since the share of
        the burst in the interval cannot be told).
        """
        if loss_fraction <= 0 or not interval_bytes or interval_bytes <= 0:
            return 0.0
        start_ms = (now_ms - KEYFRAME_WINDOW_MS if previous_report_ms is None
                    else previous_report_ms - (rtt_ms or 0.0) - REPORT_SLACK_MS)
        lost_bytes = loss_fraction * interval_bytes
        forgiven_bytes = 0.0
        for burst in self._bursts:
            sent_ms, budget = burst
            if not start_ms < sent_ms <= now_ms or budget <= 0:
                continue
            take = min(budget, lost_bytes - forgiven_bytes)
            burst[1] -= take
            forgiven_bytes += take
            if forgiven_bytes >= lost_bytes:
                break
        return min(loss_fraction, forgiven_bytes / interval_bytes)
