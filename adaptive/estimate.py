"""What the estimator tells the policy: plain, immutable snapshots.

* :class:`Estimate` -- what the path to one peer can do, as of ``at_ms``.
* :class:`ReportSample` -- one receiver report as the estimator kept it
  (loss after the keyframe-burst discount, RTT).
* :class:`ProbeOutcome` -- the verdict on one padding probe: did the link
  carry the probe's rate without loss or delay growth?
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Source = Literal["remb", "loss", "goodput", "initial"]
Confidence = Literal["high", "medium", "low", "none"]


@dataclass(frozen=True, slots=True)
class ReportSample:
    """One receiver report, as used to judge probes."""

    at_ms: float
    #: Loss counted as congestion (after the keyframe-burst discount), 0..1.
    loss_fraction: float
    #: Loss the report carried, 0..1.
    raw_loss_fraction: float
    rtt_ms: float | None


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """Whether the link carried one probe window (media plus padding)."""

    start_ms: float
    end_ms: float
    #: Total rate sent during the window (what the media path reported).
    bps: float
    carried: bool
    #: When the verdict was reached (the receiver report that settled it).
    at_ms: float
    #: Worst loss (after the keyframe discount) among the reports covering the window.
    loss_fraction: float
    #: Largest RTT rise over the pre-probe baseline seen in those reports.
    rtt_growth_ms: float | None
    #: Why it was not carried ("loss 21.0 % >= 5.0 %"); ``None`` when carried.
    failure: str | None = None

    @property
    def duration_ms(self) -> float:
        return self.end_ms - self.start_ms


@dataclass(frozen=True, slots=True)
class Estimate:
    """A snapshot of what the path to one peer can do, as of ``at_ms``."""

    at_ms: float
    #: Best guess of the rate the path carries now, in bit/s.
    available_bps: float
    #: Smoothed round-trip time; ``None`` if no fresh sample.
    rtt_ms: float | None
    #: Fraction of packets lost (0..1) in the latest fresh report, after the
    #: keyframe-burst discount; 0 without reports.
    loss_fraction: float
    #: EWMA of ``loss_fraction`` (weight ``LOSS_WEIGHT``); 0 without reports.
    smoothed_loss_fraction: float
    #: Smoothed interarrival jitter; ``None`` without fresh reports.
    jitter_ms: float | None
    #: Which input decided ``available_bps``.
    source: Source
    #: high = REMB and reports fresh; medium = one of them; low = goodput
    #: only; none = no input that may bound the rate (``available_bps`` is the
    #: last value, or the start value before any).
    confidence: Confidence
    #: Age of the freshest rate input (REMB, report, goodput); ``None`` = never.
    input_age_ms: float | None
    remb_bps: float | None
    loss_based_bps: float | None
    goodput_bps: float | None
    sent_bps: float | None
    #: When the latest receiver report arrived (``None`` = never).
    report_at_ms: float | None = None
    #: Loss in the latest report forgiven as a keyframe burst (0..1).
    keyframe_loss_fraction: float = 0.0
    #: Why a fresh REMB is not taken as a bound right now, if it is not
    #: ("ramping after join", "recovering from a keyframe burst").
    remb_ignored: str | None = None
    #: The receiver's delay-based estimate says congestion (see the estimator).
    remb_congested: bool = False
    #: The latest probe verdict, if any.
    probe: ProbeOutcome | None = None
    #: Lowest RTT sample of the last 30 s (the path without a queue); ``None`` without
    #: a fresh RTT.
    rtt_base_ms: float | None = None

    @property
    def available_kbps(self) -> float:
        return self.available_bps / 1000
