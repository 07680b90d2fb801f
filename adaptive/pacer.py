"""Per-viewer pacing: a leaky bucket at a multiple of the step's rate, and probe padding.

Without pacing every frame leaves in one burst at line rate, and a keyframe
(several times a delta frame) overflows a shallow shaper on a link that
carries the step's *average* rate twice over (issue 14: ``tc tbf burst 20kb
latency 60ms`` at 4,000 kbit lost 13-17 packets per keyframe). Real SFUs
and libwebrtc pace each stream at a multiple of its target rate
(libwebrtc's ``kDefaultPaceMultiplier`` is 2.5), which spreads a 40 kB
720p keyframe over ~60 ms instead of sending it in one go.

:class:`Pacer` is the pure schedule; the media path owns the timer:

* :meth:`Pacer.schedule` takes the sizes of the packets to send now and
  returns the time each may leave (ms, same clock as ``now_ms``). Bytes
  worth ``burst_ms`` at the pacing rate go at once (one timer tick's worth),
  the rest are spaced at ``rate_bps * factor``. A backlog is never allowed to
  take more than ``max_queue_ms`` to drain: past that the new packets are
  squeezed in, since pacing must not add seconds of latency to a live class.
* :meth:`Pacer.padding_bytes` says how many bytes of padding (or RTX
  duplicates) to add now so that media plus padding reach a probe's
  ``target_bps`` (``PolicyState.padding_target_bps(now_ms)``); media and
  padding both go through :meth:`schedule`, which spends the padding budget.
* ``sent_bytes`` counts every byte scheduled, so the media path can report a
  probe window's total to ``BandwidthEstimator.on_probe_sent``.

Audio is not paced (20 ms Opus packets are small and late audio is worse
than a late video packet); the rate given to the pacer is the step's total,
audio included, so the budget stays on the safe side.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Pacing rate as a multiple of the step's rate (libwebrtc's default).
PACING_FACTOR = 2.5
#: Bytes worth this long at the pacing rate may leave at once.
BURST_MS = 5.0
#: A backlog longer than this is squeezed: pacing must not add latency beyond it.
MAX_QUEUE_MS = 250.0
#: Padding owed (or media above the probe target) is counted over at most this long.
PADDING_WINDOW_MS = 50.0
#: Padding below this many bytes waits for the next call (one small packet is waste).
MIN_PADDING_BYTES = 200


class Pacer:
    """Release times for one viewer's packets, and the padding a probe needs."""

    def __init__(
        self,
        *,
        rate_bps: float,
        factor: float = PACING_FACTOR,
        burst_ms: float = BURST_MS,
        max_queue_ms: float = MAX_QUEUE_MS,
    ) -> None:
        if rate_bps <= 0 or factor <= 0:
            raise ValueError(f"pacing needs a positive rate and factor, got {rate_bps}, {factor}")
        self._rate_bps = float(rate_bps)
        self._factor = factor
        self._burst_ms = burst_ms
        self._max_queue_ms = max_queue_ms
        #: When everything scheduled so far will have drained (virtual finish time).
        self._free_at_ms: float | None = None
        self._padding_bits = 0.0
        self._padding_ms: float | None = None
        self._padding_target_bps = 0.0
        self.sent_bytes = 0

    @property
    def pacing_bps(self) -> float:
        return self._rate_bps * self._factor

    def set_rate(self, rate_bps: float) -> None:
        """The step's total rate changed (a switch); packets already scheduled keep their times."""
        if rate_bps <= 0:
            raise ValueError(f"pacing needs a positive rate, got {rate_bps}")
        self._rate_bps = float(rate_bps)

    def queue_ms(self, now_ms: float) -> float:
        """How long until everything scheduled so far has left."""
        return 0.0 if self._free_at_ms is None else max(0.0, self._free_at_ms - now_ms)

    def schedule(self, now_ms: float, sizes: Sequence[int]) -> list[float]:
        """Release time (ms) for each packet of ``sizes`` (bytes), in order."""
        rate = self.pacing_bps
        free_at = now_ms - self._burst_ms if self._free_at_ms is None else self._free_at_ms
        # An idle bucket refills only up to the burst: a long pause buys no big burst later.
        free_at = max(free_at, now_ms - self._burst_ms)
        # Nor does a backlog grow past max_queue_ms: a stream above the pacing rate (a
        # rung switched up before the rate was) handed over packet by packet would
        # otherwise be delayed further with every packet, seconds after a few seconds.
        free_at = min(free_at, now_ms + self._max_queue_ms)
        times: list[float] = []
        for size in sizes:
            times.append(max(now_ms, free_at))
            free_at += size * 8 * 1000 / rate
        if times and times[-1] > now_ms + self._max_queue_ms:
            # Squeeze the new packets so the backlog drains within max_queue_ms.
            first = times[0]
            span = times[-1] - first
            room = max(0.0, now_ms + self._max_queue_ms - first)
            scale = room / span if span > 0 else 0.0
            times = [first + (t - first) * scale for t in times]
            free_at = times[-1] + sizes[-1] * 8 * 1000 / rate
        self._free_at_ms = free_at
        sent = sum(sizes)
        self.sent_bytes += sent
        self._padding_bits -= sent * 8
        return times

    def padding_bytes(self, now_ms: float, target_bps: float) -> int:
        """Bytes of padding to add now so media plus padding reach ``target_bps``.

        ``target_bps`` 0 (no probe) clears what was owed. The answer is not
        spent until the padding goes through :meth:`schedule`.
        """
        if target_bps <= 0:
            self._padding_bits, self._padding_ms, self._padding_target_bps = 0.0, None, 0.0
            return 0
        if self._padding_ms is None or target_bps != self._padding_target_bps:
            self._padding_bits = 0.0
            self._padding_ms = now_ms - self._burst_ms  # start with one burst's worth
            self._padding_target_bps = target_bps
        elapsed_ms = max(0.0, now_ms - self._padding_ms)
        self._padding_ms = now_ms
        window_bits = target_bps * PADDING_WINDOW_MS / 1000
        owed = self._padding_bits + target_bps * elapsed_ms / 1000
        self._padding_bits = min(window_bits, max(-window_bits, owed))
        due = int(self._padding_bits // 8)
        return due if due >= MIN_PADDING_BYTES else 0
