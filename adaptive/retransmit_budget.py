"""Retransmissions within a budget, so that repairing loss does not cause more of it.

A receiver NACKs every packet it misses, again each round trip while the
packet does not come; a sender that answers every NACK (aiortc does) adds
the lost share of the stream on top of the stream, and on a link that is
already full the retransmissions are lost too and NACKed again. Measured
with Chromium on a 1,500 kbit ``tc tbf`` link after a join at 720p: about
1.4 Mbps of retransmissions and keyframes on top of a ~1.1 Mbps stream,
~100 packets dropped per second at the shaper, 25 s of freezes in 35 s.
libwebrtc bounds its retransmissions in the same two ways:

* a packet is resent at most once per ``min_interval_ms`` (about one round
  trip: a second NACK sooner means the first copy is still on its way);
* retransmissions may use at most ``RETRANSMIT_SHARE`` of the step's rate,
  counted in a token bucket holding ``BUCKET_MS`` worth of it; past that a
  NACK goes unanswered, and the receiver asks for a keyframe if the frame
  cannot be completed.

On a floor step the share is ``FLOOR_RETRANSMIT_SHARE`` (:func:`retransmit_share`):
the floor is where a link cannot carry the lowest rung, so what it carries
above the step is little by construction. On an 800 kbit link the 15 fps
step needs ~680 kbit on the wire; 30 % of its rate in retransmissions
(~180 kbps) kept the shaper's queue full after the down-step from 480p, the
loss they repaired came back as new loss, and two seconds later the student
was sent down to a quarter of the frames. (Bounding retransmissions by the
estimate's headroom over what is sent, as libwebrtc's ``RateLimiter`` does,
was tried: after a failed probe the estimate sits at the receiver's cut,
about the step's own rate, and the probe's lost packets were no longer
repaired -- every probe froze the picture for a moment.)
"""

from __future__ import annotations

from collections import OrderedDict

from .levels import QualityLevel

#: Retransmissions may add at most this share of the step's rate.
RETRANSMIT_SHARE = 0.3
#: ... or this share on a floor step (see the module doc).
FLOOR_RETRANSMIT_SHARE = 0.1
#: The bucket holds this many milliseconds of the retransmission rate (a burst of NACKs).
BUCKET_MS = 500.0
#: A packet is resent at most once per this long (raised to the RTT when known).
MIN_RESEND_INTERVAL_MS = 100.0
#: Sequence numbers remembered for the interval rule.
REMEMBERED = 512


class RetransmitBudget:
    """Whether to answer a NACK for one packet, for one viewer's stream."""

    def __init__(self, *, rate_bps: float, share: float = RETRANSMIT_SHARE) -> None:
        self._share = share
        self._rate_bps = rate_bps
        self._tokens_bits = self._capacity_bits()
        self._at_ms: float | None = None
        self._resent: OrderedDict[int, float] = OrderedDict()
        self.rtt_ms: float | None = None
        self.allowed = 0
        self.refused = 0

    def _capacity_bits(self) -> float:
        return self._rate_bps * self._share * BUCKET_MS / 1000

    @property
    def refill_bps(self) -> float:
        """The rate retransmissions may use."""
        return self._rate_bps * self._share

    def set_level(self, level: QualityLevel) -> None:
        """The viewer's step: its rate and its share (:func:`retransmit_share`)."""
        self._rate_bps = level.total_bps
        self._share = retransmit_share(level)
        self._tokens_bits = min(self._tokens_bits, self._capacity_bits())

    def allow(self, now_ms: float, sequence_number: int, size_bytes: int) -> bool:
        """May packet ``sequence_number`` (``size_bytes``) be resent now? Spends if so."""
        if self._at_ms is not None:
            refill = self._rate_bps * self._share * max(0.0, now_ms - self._at_ms) / 1000
            self._tokens_bits = min(self._capacity_bits(), self._tokens_bits + refill)
        self._at_ms = now_ms
        interval = max(MIN_RESEND_INTERVAL_MS, self.rtt_ms or 0.0)
        last = self._resent.get(sequence_number)
        bits = size_bytes * 8
        if (last is not None and now_ms - last < interval) or bits > self._tokens_bits:
            self.refused += 1
            return False
        self._tokens_bits -= bits
        self._resent[sequence_number] = now_ms
        self._resent.move_to_end(sequence_number)
        while len(self._resent) > REMEMBERED:
            self._resent.popitem(last=False)
        self.allowed += 1
        return True


def retransmit_share(level: QualityLevel) -> float:
    """The share of ``level``'s rate its retransmissions may use."""
    return RETRANSMIT_SHARE if level.is_rung else FLOOR_RETRANSMIT_SHARE
