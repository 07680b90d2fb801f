"""Per-peer bandwidth estimate from RTCP feedback and data-channel pings.

Model (a simplified send-side GCC, after draft-ietf-rmcat-gcc-02 and
libwebrtc's ``SendSideBandwidthEstimation``):

* **Delay-based bound: REMB, when it signals congestion.** The receiver's
  own estimate (aiortc and browsers send ``goog-remb`` about once a second,
  and at once when it drops) is an AIMD controller of its own: it starts low
  (aiortc: about 200 kbps) and climbs by about 8 % a second, so on a clean
  link it trails far behind what the link carries and would pin every viewer
  to the lowest rung. It is therefore an upper bound only while it says
  "congestion" (:mod:`adaptive.remb_tracker`): when it has fallen below
  ``REMB_DROP_FRACTION`` of its recent peak (the receiver's delay detector
  saw over-use and cut), or is below what we send while loss confirms it.
  Otherwise it is kept for reference (``remb_bps``) and the loss-based
  controller decides.
* **Loss-based controller**, stepped on each receiver report:

  - loss above ``HIGH_LOSS_FRACTION`` (10 %): ``A = A * (1 - 0.5 * loss)``,
    where ``A`` is first clamped to what we actually sent, so the cut starts
    from the rate that caused the loss and not from an optimistic estimate,
    and then to ``sent * (1 - loss)``, what got through;
  - loss below ``LOW_LOSS_FRACTION`` (2 %): grow by ``GROWTH_PER_S`` (8 %)
    per second of report interval; the link just carried what we sent, so
    ``A`` is also at least ``sent * (1 - loss)``;
  - in between: hold.

  ``A`` is never more than ``CARRIED_CAP_FACTOR`` (1.5x) above the highest
  rate the link has demonstrably carried (sent rate, data-channel goodput),
  the same cap GCC puts on its delay-based estimate, so a quiet sender does
  not talk itself into an unbounded estimate.
* **Available bandwidth** = min(REMB, A) when both are fresh, else whichever
  is fresh; data-channel goodput (bytes the peer acknowledged) is a floor, as
  the path demonstrably carried it. A data-only client without RTP has only
  goodput and ping RTTs.
* **RTT, jitter and loss** are smoothed with EWMAs (loss is also reported
  as the latest report's value, which reacts faster) (RTT with weight 1/4, as
  ``RTT_WEIGHT``, like TCP's SRTT but faster because samples come only once
  a second). RTT samples come from RTCP receiver reports and from the data
  channel ping (``on_probe_rtt``), so data-only clients get an RTT too.
* **Staleness.** Every input expires (``*_STALE_MS``); an estimate whose
  inputs have all expired says so (``confidence == "none"``) and keeps the
  last value rather than inventing one.
* **Joins: a ramping REMB is not capacity.** aiortc's receiver starts its
  REMB near 300 kbps and climbs ~8 %/s; the first receiver reports reach the
  server a second or more after the first REMB. Read alone, that start
  value dropped an unshaped student to 480p 2 s after joining (issue 14).
  So from the first REMB until it has reached ``REMB_RAMPED_FRACTION`` of
  what we send (or ``REMB_RAMP_MAX_MS`` has passed) REMB bounds nothing;
  until receiver reports arrive the estimate is the start value
  (``initial_bps``: the client's declared or last-known capacity) with
  ``confidence == "none"``, on which the policy holds the join step. Loss
  still acts from the first report, so a join on a link that is really too
  slow steps down as fast as ever.
* **Keyframe bursts are not congestion** (:mod:`adaptive.keyframe_window`):
  the media path tells the estimator about each keyframe it sends
  (``on_keyframe_sent``); loss in a report that covers a burst is forgiven
  up to the burst's size, and a REMB cut right after a burst is not a bound
  until the REMB has recovered to what we send, unless loss confirms it.
* **Probes** (:mod:`adaptive.probe_judge`): after a padding probe window the
  media path reports what it sent (``on_probe_sent``); when a covering
  report shows it carried, the loss-based estimate rises to the probe's rate
  (the link just carried it), which is what lets the policy step up.

Nothing here reads a clock: every method takes ``now_ms``.
"""

from __future__ import annotations

from collections import deque

from .estimate import Confidence, Estimate, ProbeOutcome, ReportSample, Source
from .keyframe_window import KeyframeWindow
from .probe_judge import ProbeJudge
from .remb_tracker import REMB_STALE_MS, RembTracker

#: REMBs kept for :meth:`BandwidthEstimator.remb_fell_since`.
REMB_HISTORY_MS = 10_000
#: A REMB this far below the last one before a probe window stops the probe (Chromium
#: sends a REMB at once when its estimate falls by more than 3 %).
PROBE_REMB_DROP = 0.97

__all__ = [
    "REMB_STALE_MS", "BandwidthEstimator", "Confidence", "Estimate", "ProbeOutcome", "Source"]

#: Receiver reports arrive every 1-5 s depending on the stack.
REPORT_STALE_MS = 6_000
#: Sent-rate samples older than this no longer anchor the loss controller.
SENT_STALE_MS = 3_000
#: RTT samples (RTCP or data-channel pings) older than this are forgotten.
RTT_STALE_MS = 10_000
#: Window over which data-channel goodput is averaged.
GOODPUT_WINDOW_MS = 2_000
#: Shortest span a goodput average is computed over (avoids 1-sample spikes).
GOODPUT_MIN_SPAN_MS = 500

#: Estimate before any feedback arrived (libwebrtc's default start rate).
INITIAL_BPS = 300_000
HIGH_LOSS_FRACTION = 0.10
LOW_LOSS_FRACTION = 0.02
#: Multiplicative growth of the loss-based estimate per second without loss.
GROWTH_PER_S = 0.08
#: Growth is computed over at most this much time, so a long report gap
#: does not turn into a jump.
MAX_GROWTH_STEP_MS = 2_000
#: The loss-based estimate stays within this factor of what was carried.
CARRIED_CAP_FACTOR = 1.5
#: "Carried" is the highest sent rate of this window: a stream at 7.5 fps with a keyframe
#: every 3 s sends 0.24 Mbps one second and 0.46 the next, and capping on the latest
#: second alone kept the estimate under 1.25x what was sent, so a restored link was
#: never probed (Chromium, 800 kbit then unshaped: 30 s on the floor).
CARRIED_WINDOW_MS = 3_000
#: Report interval assumed for the first report (to size a keyframe's share).
DEFAULT_REPORT_INTERVAL_MS = 1_000

RTT_WEIGHT = 0.25
#: ``rtt_base_ms`` is the lowest RTT sample of this window: the path without a queue.
RTT_BASE_WINDOW_MS = 30_000
JITTER_WEIGHT = 0.25
LOSS_WEIGHT = 0.5

def _fresh(sample_ms: float | None, now_ms: float, stale_ms: float) -> bool:
    return sample_ms is not None and now_ms - sample_ms <= stale_ms


def _ewma(previous: float | None, sample: float, weight: float) -> float:
    return sample if previous is None else (1 - weight) * previous + weight * sample


class BandwidthEstimator:
    """Combines REMB, receiver reports, pings, goodput and probes for one peer."""

    def __init__(
        self, *, initial_bps: float = INITIAL_BPS, ignore_ramping_remb: bool = True
    ) -> None:
        """``initial_bps``: the start value (the client's declared or last-known
        capacity, else libwebrtc's 300 kbps). ``ignore_ramping_remb=False``
        takes REMB as a bound from its first value (the behaviour before the
        join ramp was recognised; kept for comparisons).
        """
        self._initial_bps = float(initial_bps)
        self._remb = RembTracker(ignore_ramping=ignore_ramping_remb)
        self._loss_based_bps: float | None = None
        self._report_ms: float | None = None
        self._loss: float | None = None
        self._last_loss = 0.0
        self._keyframe_loss = 0.0
        self._jitter_ms: float | None = None
        self._rtt_ms: float | None = None
        self._rtt_sample_ms: float | None = None
        self._rtt_samples: deque[tuple[float, float]] = deque()
        self._sent_bps: float | None = None
        #: Recent REMBs: (ms, bps, right after a keyframe burst), for probe windows.
        self._rembs: deque[tuple[float, float, bool]] = deque()
        self._sent_ms: float | None = None
        self._sent_history: deque[tuple[float, float]] = deque()
        self._probe_carried: tuple[float, float] | None = None  # (ms, bps)
        self._delivered: deque[tuple[float, int]] = deque()
        self._first_delivery_ms: float | None = None
        self._last_available_bps = float(initial_bps)
        self._keyframes = KeyframeWindow()
        self._judge = ProbeJudge()

    # -- inputs ---------------------------------------------------------

    def on_remb(self, now_ms: float, bitrate_bps: float) -> None:
        """The receiver's estimate (RTCP REMB)."""
        bps = max(0.0, float(bitrate_bps))
        after_keyframe = self._keyframes.in_window(now_ms)
        self._rembs.append((now_ms, bps, after_keyframe))
        while self._rembs and self._rembs[0][0] < now_ms - REMB_HISTORY_MS:
            self._rembs.popleft()
        counted = self._remb.on_remb(now_ms, bps, after_keyframe=after_keyframe,
                                     sent_bps=self._fresh_sent(now_ms))
        if counted:
            self._apply_probe(self._judge.on_remb_cut(now_ms))

    def remb_fell_since(self, since_ms: float) -> tuple[float, float, float] | None:
        """The first REMB after ``since_ms`` below ``PROBE_REMB_DROP`` of the last one
        before it, as (ms, before bps, after bps); ``None`` if none (or none to compare).

        A padding probe in flight stops on it: while the receiver gets more than before,
        its estimate only falls when its delay detector sees the queue grow (GCC sets
        0.85x what arrives). Chromium on 480p under a 2.6 Mbps probe into 1.5 Mbit had
        sent ~1.1 Mbps as its estimate and then 5 % and 9 % less, 175 and 381 ms into
        the window; the shaper began to drop at ~360 ms. A dip right after a keyframe
        burst is not counted (the burst's own queue).
        """
        before = [bps for at, bps, _ in self._rembs if at <= since_ms]
        if not before:
            return None
        reference = before[-1]
        for at, bps, after_keyframe in self._rembs:
            if at > since_ms and not after_keyframe and bps < reference * PROBE_REMB_DROP:
                return at, reference, bps
        return None

    def remb_congested(self, now_ms: float) -> bool:
        """Does the receiver's estimate say the path is congested right now?"""
        return self._remb.congested(now_ms, self._fresh_sent(now_ms),
                                    self._last_loss > LOW_LOSS_FRACTION)

    def on_sent_bitrate(self, now_ms: float, bps: float) -> None:
        """What we actually sent to this peer over the last interval (padding included)."""
        self._sent_bps = max(0.0, float(bps))
        self._sent_ms = now_ms
        self._sent_history.append((now_ms, self._sent_bps))
        while self._sent_history and self._sent_history[0][0] < now_ms - CARRIED_WINDOW_MS:
            self._sent_history.popleft()
        self._remb.end_suspension(now_ms, self._sent_bps)

    def on_keyframe_sent(self, now_ms: float, size_bytes: int) -> None:
        """A keyframe of ``size_bytes`` (all its packets) was sent to this peer."""
        self._keyframes.on_keyframe_sent(now_ms, size_bytes)

    def on_probe_sent(self, now_ms: float, start_ms: float, end_ms: float,
                      sent_bytes: int, aborted: str | None = None) -> None:
        """A probe window ended: ``sent_bytes`` (media plus padding) went out in it
        (``aborted``: stopped early on this evidence of loss, see the probe judge)."""
        self._apply_probe(self._judge.on_probe_sent(now_ms, start_ms, end_ms, sent_bytes,
                                                    aborted))

    def on_padding_report(self, now_ms: float, loss_fraction: float) -> None:
        """A receiver report about the stream that carries probe padding (RTX copies):
        its loss judges the probe (it is not the media's loss, so nothing else)."""
        self._apply_probe(self._judge.on_padding_report(now_ms, min(1.0, max(0.0,
                                                                             loss_fraction))))

    def on_probe_rtt(self, now_ms: float, rtt_ms: float) -> None:
        """A data-channel ping round trip."""
        self._add_rtt(now_ms, rtt_ms)

    def on_delivered(self, now_ms: float, delivered_bytes: int) -> None:
        """Data-channel bytes the peer acknowledged since the previous call."""
        if self._first_delivery_ms is None:
            self._first_delivery_ms = now_ms
        self._delivered.append((now_ms, max(0, delivered_bytes)))
        self._trim_deliveries(now_ms)

    def on_receiver_report(
        self,
        now_ms: float,
        fraction_lost: float,
        jitter_ms: float,
        rtt_ms: float | None = None,
    ) -> None:
        """An RTCP receiver report block about our stream to this peer.

        ``fraction_lost`` is 0..1 (the RTCP field divided by 256).
        """
        raw = min(1.0, max(0.0, float(fraction_lost)))
        sent = self._sent_bps if _fresh(self._sent_ms, now_ms, SENT_STALE_MS) else None
        interval_ms = (DEFAULT_REPORT_INTERVAL_MS if self._report_ms is None
                       else now_ms - self._report_ms)
        interval_bytes = None if sent is None else sent * interval_ms / 8000
        self._keyframe_loss = self._keyframes.forgive(
            now_ms, self._report_ms, raw, interval_bytes, self._rtt_ms)
        loss = raw - self._keyframe_loss
        self._loss = _ewma(self._loss, loss, LOSS_WEIGHT)
        self._last_loss = loss
        self._jitter_ms = _ewma(self._jitter_ms, max(0.0, float(jitter_ms)), JITTER_WEIGHT)
        if rtt_ms is not None:
            self._add_rtt(now_ms, rtt_ms)
        self._step_loss_controller(now_ms, loss)
        self._report_ms = now_ms
        sample = ReportSample(at_ms=now_ms, loss_fraction=loss, raw_loss_fraction=raw,
                              rtt_ms=rtt_ms)
        self._apply_probe(self._judge.on_report(sample))

    # -- output ---------------------------------------------------------

    def estimate(self, now_ms: float) -> Estimate:
        self._judge.poll(now_ms)
        report_fresh = _fresh(self._report_ms, now_ms, REPORT_STALE_MS)
        goodput = self.goodput_bps(now_ms)
        congested = self.remb_congested(now_ms)

        available: float
        source: Source
        confidence: Confidence
        remb = self._remb.fresh_bps(now_ms)
        # While suspended (join ramp, keyframe recovery) REMB bounds only when loss confirms.
        remb_bound = self._remb.bound_bps(now_ms, congested)
        loss_based = self._loss_based_bps if report_fresh else None
        if remb_bound is not None and loss_based is not None and not congested:
            # A clean REMB is the receiver still ramping up: not a bound (see the model).
            available, source, confidence = loss_based, "loss", "high"
        elif remb_bound is not None and loss_based is not None:
            available, source = ((remb_bound, "remb") if remb_bound <= loss_based
                                 else (loss_based, "loss"))
            confidence = "high"
        elif remb_bound is not None:
            available, source, confidence = remb_bound, "remb", "medium"
        elif loss_based is not None:
            available, source, confidence = loss_based, "loss", "medium"
        elif goodput is not None:
            available, source, confidence = goodput, "goodput", "low"
        else:
            available, source = self._last_available_bps, "initial"
            confidence = "none"
        if goodput is not None and goodput > available:
            available, source = goodput, "goodput"
        self._last_available_bps = available

        rtt_fresh = _fresh(self._rtt_sample_ms, now_ms, RTT_STALE_MS)
        sent_fresh = _fresh(self._sent_ms, now_ms, SENT_STALE_MS)
        input_times = [t for t in (self._remb.at_ms, self._report_ms) if t is not None]
        if self._delivered:
            input_times.append(self._delivered[-1][0])
        return Estimate(
            at_ms=now_ms,
            available_bps=available,
            rtt_ms=self._rtt_ms if rtt_fresh else None,
            rtt_base_ms=(min(rtt for _, rtt in self._rtt_samples)
                         if rtt_fresh and self._rtt_samples else None),
            loss_fraction=self._last_loss if report_fresh else 0.0,
            smoothed_loss_fraction=(self._loss or 0.0) if report_fresh else 0.0,
            jitter_ms=self._jitter_ms if report_fresh else None,
            source=source,
            confidence=confidence,
            input_age_ms=now_ms - max(input_times) if input_times else None,
            remb_bps=remb,
            loss_based_bps=loss_based,
            goodput_bps=goodput,
            sent_bps=self._sent_bps if sent_fresh else None,
            report_at_ms=self._report_ms,
            keyframe_loss_fraction=self._keyframe_loss if report_fresh else 0.0,
            remb_ignored=self._remb.suspended if remb is not None and not congested else None,
            remb_congested=congested,
            probe=self._judge.latest,
        )

    def goodput_bps(self, now_ms: float) -> float | None:
        """Data-channel goodput over ``GOODPUT_WINDOW_MS``; ``None`` if none."""
        self._trim_deliveries(now_ms)
        if not self._delivered or self._first_delivery_ms is None:
            return None
        span_ms = min(GOODPUT_WINDOW_MS, now_ms - self._first_delivery_ms)
        span_ms = max(span_ms, GOODPUT_MIN_SPAN_MS)
        total_bytes = sum(size for _, size in self._delivered)
        return total_bytes * 8 * 1000 / span_ms

    # -- internals ------------------------------------------------------

    def _fresh_sent(self, now_ms: float) -> float | None:
        return self._sent_bps if _fresh(self._sent_ms, now_ms, SENT_STALE_MS) else None

    def _apply_probe(self, outcome: ProbeOutcome | None) -> None:
        if outcome is None or not outcome.carried:
            return
        # The link just carried the probe's rate: the loss-based estimate starts there.
        carried = outcome.bps * (1 - outcome.loss_fraction)
        self._probe_carried = (outcome.at_ms, carried)
        if self._loss_based_bps is None or self._loss_based_bps < carried:
            self._loss_based_bps = carried

    def _add_rtt(self, now_ms: float, rtt_ms: float) -> None:
        if rtt_ms < 0:
            return
        if not _fresh(self._rtt_sample_ms, now_ms, RTT_STALE_MS):
            self._rtt_ms = None  # an old average says nothing about the path now
        self._rtt_ms = _ewma(self._rtt_ms, float(rtt_ms), RTT_WEIGHT)
        self._rtt_sample_ms = now_ms
        samples = self._rtt_samples
        samples.append((now_ms, float(rtt_ms)))
        while samples and samples[0][0] < now_ms - RTT_BASE_WINDOW_MS:
            samples.popleft()

    def _trim_deliveries(self, now_ms: float) -> None:
        while self._delivered and self._delivered[0][0] <= now_ms - GOODPUT_WINDOW_MS:
            self._delivered.popleft()

    def _carried_bps(self, now_ms: float) -> float | None:
        """The highest rate the link recently carried, as far as we know."""
        probe = self._probe_carried
        carried = [
            rate
            for rate in (
                max((bps for at, bps in self._sent_history if at >= now_ms - CARRIED_WINDOW_MS),
                    default=None),
                self.goodput_bps(now_ms),
                probe[1] if probe is not None and _fresh(probe[0], now_ms, SENT_STALE_MS)
                else None,
            )
            if rate is not None
        ]
        return max(carried) if carried else None

    def _step_loss_controller(self, now_ms: float, loss: float) -> None:
        sent = self._sent_bps if _fresh(self._sent_ms, now_ms, SENT_STALE_MS) else None
        current = self._loss_based_bps
        if current is None:
            # Start from the best anchor there is: what we send, else the receiver's view,
            # else the start value; a REMB still ramping never pulls below the start value.
            remb = self._remb.fresh_bps(now_ms)
            if remb is not None and self._remb.ramping:
                remb = max(remb, self._initial_bps)
            current = sent if sent is not None else remb if remb is not None else self._initial_bps
        if loss > HIGH_LOSS_FRACTION:
            # Cut from what caused the loss, not from an optimistic estimate; and never
            # above what demonstrably got through, so that a rung far above the link's
            # capacity is left for one that fits in one step.
            base = min(current, sent) if sent is not None else current
            updated = base * (1 - 0.5 * loss)
            if sent is not None:
                updated = min(updated, sent * (1 - loss))
        elif loss < LOW_LOSS_FRACTION:
            elapsed_ms = 0.0 if self._report_ms is None else now_ms - self._report_ms
            elapsed_s = min(max(elapsed_ms, 0.0), MAX_GROWTH_STEP_MS) / 1000
            updated = current * (1 + GROWTH_PER_S) ** elapsed_s
            carried = self._carried_bps(now_ms)
            if carried is not None:
                updated = min(updated, carried * CARRIED_CAP_FACTOR)
            if sent is not None:
                # The link has just carried what we sent (minus the little lost).
                updated = max(updated, sent * (1 - loss))
        else:
            updated = current
        self._loss_based_bps = updated
