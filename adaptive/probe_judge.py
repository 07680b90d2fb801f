"""Verdicts on padding probes, from the receiver reports that cover them.

The policy asks the media path to send extra bytes (RTP padding or RTX
duplicates of recent packets) on the *current* rung, at a total rate of
``probe_target_bps`` until ``probe_until_ms``; the viewer keeps watching the
same picture. When the window ends the media path reports what it actually
sent (:meth:`~adaptive.estimator.BandwidthEstimator.on_probe_sent`), and
:class:`ProbeJudge` settles the question from the receiver reports that
arrived since the window opened:

* **failed** as soon as one of them shows loss at or above
  ``PROBE_LOSS_LIMIT`` (after the keyframe discount) -- in the media stream
  or in the stream that carries the padding (:meth:`ProbeJudge.on_padding_report`:
  with RTX copies as padding, the receiver's report about the RTX stream;
  the media stream's report alone cannot see a probe whose padding is what
  the shaper dropped) --, an RTT more than
  ``PROBE_DELAY_GROWTH_MS`` above the pre-probe baseline (the shaper's queue
  grew: the probe did not fit), or the receiver cut its REMB during the
  window;
* **carried** when a report arrives at least one RTT and ``PROBE_SETTLE_MS``
  (a second) after the window ended and none of the above happened: a probe
  that a shaper's bucket and queue absorbed without a loss (half a second at
  1.2 Mbps into an 800 kbit ``tc tbf`` with a 20 kB burst) shows only as
  queueing delay, which the receiver's delay detector turns into a REMB cut
  some hundreds of milliseconds later (Chromium: a probe judged on the first
  report after the window committed a student to 480p on an 800 kbit link);
* **failed** as well if no such report arrives within
  ``PROBE_VERDICT_TIMEOUT_MS``: without evidence nothing is committed.

The window is short (``PROBE_DURATION_MS`` in the policy, 0.3 s, or as long as
it takes to add ``PROBE_MIN_EXCESS_BYTES``, 64 kB, up to 2 s): a link that cannot carry the probe
fills its shaper's queue within it, and the media path sends a sender report
as the window closes, so the receiver's next reports carry the delay the window
left (RTT growth) before the shaper has to drop anything; the damage to the
media that shares the queue stays bounded even if feedback is late, because the
media path stops padding at ``probe_until_ms`` on its own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .estimate import ProbeOutcome, ReportSample

#: Loss at or above this in a report covering the window fails the probe.
PROBE_LOSS_LIMIT = 0.05
#: An RTT this far above the pre-probe baseline fails the probe.
PROBE_DELAY_GROWTH_MS = 25.0
#: The covering report must arrive at least this long after the window (and one RTT):
#: time for the receiver's delay detector to cut its REMB.
PROBE_SETTLE_MS = 1_000.0
#: Without a covering report by then, the probe is failed for lack of evidence.
PROBE_VERDICT_TIMEOUT_MS = 5_000
#: Reports kept for judging windows that are reported late.
REPORT_HISTORY_MS = 10_000
#: The RTT baseline is the lowest RTT in the reports this long before the window.
BASELINE_SPAN_MS = 5_000


@dataclass(slots=True)
class _Window:
    start_ms: float
    end_ms: float
    bps: float


class ProbeJudge:
    """Pending probe windows of one peer and their verdicts."""

    def __init__(self) -> None:
        self._reports: deque[ReportSample] = deque()
        self._remb_cuts: deque[float] = deque()
        self._pending: list[_Window] = []
        self.latest: ProbeOutcome | None = None

    def on_report(self, sample: ReportSample) -> ProbeOutcome | None:
        """A receiver report arrived; returns a verdict it settled, if any."""
        self._reports.append(sample)
        while self._reports and self._reports[0].at_ms < sample.at_ms - REPORT_HISTORY_MS:
            self._reports.popleft()
        return self._judge(sample.at_ms)

    def on_padding_report(self, now_ms: float, loss_fraction: float) -> ProbeOutcome | None:
        """A receiver report about the padding's own stream (loss only, 0..1)."""
        return self.on_report(ReportSample(at_ms=now_ms, loss_fraction=loss_fraction,
                                           raw_loss_fraction=loss_fraction, rtt_ms=None))

    def on_remb_cut(self, now_ms: float) -> ProbeOutcome | None:
        """The receiver cut its delay-based estimate (not excused by a keyframe)."""
        self._remb_cuts.append(now_ms)
        while self._remb_cuts and self._remb_cuts[0] < now_ms - REPORT_HISTORY_MS:
            self._remb_cuts.popleft()
        return self._judge(now_ms)

    def on_probe_sent(
        self, now_ms: float, start_ms: float, end_ms: float, sent_bytes: int,
        aborted: str | None = None,
    ) -> ProbeOutcome | None:
        """The media path sent ``sent_bytes`` (media plus padding) in the window.

        ``aborted``: the media path stopped padding early because of this
        evidence (the receiver NACKed media during the window: the shaper's
        queue overflowed); the window fails at once, with that reason.
        """
        if end_ms <= start_ms:
            return None
        bps = sent_bytes * 8 * 1000 / (end_ms - start_ms)
        if aborted is not None:
            self.latest = ProbeOutcome(start_ms=start_ms, end_ms=end_ms, bps=bps,
                                       carried=False, at_ms=now_ms, loss_fraction=0.0,
                                       rtt_growth_ms=None, failure=aborted)
            return self.latest
        self._pending.append(_Window(start_ms, end_ms, bps))
        return self._judge(now_ms)

    def poll(self, now_ms: float) -> ProbeOutcome | None:
        """Settle windows whose time is up (no covering report came)."""
        return self._judge(now_ms)

    def _judge(self, now_ms: float) -> ProbeOutcome | None:
        settled: ProbeOutcome | None = None
        for window in list(self._pending):
            outcome = self._verdict(window, now_ms)
            if outcome is not None:
                self._pending.remove(window)
                self.latest = settled = outcome
        return settled

    def _baseline_rtt(self, window: _Window) -> float | None:
        rtts = [r.rtt_ms for r in self._reports
                if r.rtt_ms is not None
                and window.start_ms - BASELINE_SPAN_MS <= r.at_ms <= window.start_ms]
        return min(rtts) if rtts else None

    def _verdict(self, window: _Window, now_ms: float) -> ProbeOutcome | None:
        covering = [r for r in self._reports if r.at_ms > window.start_ms]
        baseline = self._baseline_rtt(window)
        worst_loss = max((r.loss_fraction for r in covering), default=0.0)
        growths = [r.rtt_ms - baseline for r in covering
                   if r.rtt_ms is not None and baseline is not None]
        growth = max(growths) if growths else None

        def outcome(carried: bool, failure: str | None) -> ProbeOutcome:
            return ProbeOutcome(start_ms=window.start_ms, end_ms=window.end_ms, bps=window.bps,
                                carried=carried, at_ms=now_ms, loss_fraction=worst_loss,
                                rtt_growth_ms=growth, failure=failure)

        if worst_loss >= PROBE_LOSS_LIMIT:
            return outcome(False, f"loss {worst_loss:.1%} >= {PROBE_LOSS_LIMIT:.1%}")
        if growth is not None and growth >= PROBE_DELAY_GROWTH_MS:
            return outcome(False, f"RTT +{growth:.0f} ms >= +{PROBE_DELAY_GROWTH_MS:.0f} ms")
        cut = [t for t in self._remb_cuts if window.start_ms <= t]
        if cut:
            return outcome(False, "the receiver cut its estimate")
        settle_ms = window.end_ms + PROBE_SETTLE_MS + (baseline or 0.0)
        if any(r.at_ms >= settle_ms for r in covering):
            return outcome(True, None)
        if now_ms >= window.end_ms + PROBE_VERDICT_TIMEOUT_MS:
            return outcome(False, "no receiver report covered the probe")
        return None
