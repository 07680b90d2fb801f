"""Graceful degradation by server load (the seed's ``graceful_degradation``).

The seed sheds in three steps as system load (0..1) rises:

    =====  ===========  ====================================================
    step   load above   what is restricted (cumulative)
    =====  ===========  ====================================================
    0      --           nothing
    1      0.7          streaming quality capped (max rung medium)
    2      0.8          ... and visual (image) generation limited
    3      0.9          ... and the most expensive AI features off; streams
                        are capped at low, since encoding is what the server
                        spends most CPU on
    =====  ===========  ====================================================

The seed re-evaluates on every call and so would flap around a threshold;
worse, it reacts to a moment's CPU. A join burst -- a few peers doing their
DTLS handshakes, ICE checks and first keyframes at once -- pins the CPU (and
lags the event loop) for a second or two; with only two students that once
took the server to step 3 and capped both at 480p for 13 s (issue 14).

So the shedder compares *sustained* load with the thresholds: the figure it
acts on is the time-weighted mean of the samples over the last
``SMOOTHING_WINDOW_MS`` (6 s; no step is entered before a full window has
been seen), and a step is entered only when that mean has stayed above its
threshold for the step's own hold, longer for the costlier steps
(``ENTER_HOLDS_MS``: 2, 3, 4 s), so the steps come in order. Why sustained:
shedding pays only against cost that persists. A join costs CPU once, and
is over before a cap could relieve it, while each step costs every student
something for at least ``RECOVER_HOLD_MS`` (step 1 a keyframe and a lower
resolution, step 3 the AI features too). Sustained overload is what capping
rungs (idle encoders, fewer packets per viewer) and pausing AI work
actually reduce; a moment's spike is not. Steps are left one at a time,
when the mean has stayed below the threshold minus ``RECOVERY_MARGIN`` for
``RECOVER_HOLD_MS``.

In figures: from a 0.3 baseline, a spike to full load of up to 3 s sheds
nothing (the 6 s mean peaks at 0.65); sustained full load enters step 1
after about 5.5 s and step 3 after about 9 s.

:func:`combine_load` turns CPU use and event-loop lag into the one load
figure; the caller measures both.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .levels import HIGH, LOW, MEDIUM, QualityLevel

#: Load above ``STEP_THRESHOLDS[k]`` puts the server in step ``k + 1``.
STEP_THRESHOLDS: tuple[float, ...] = (0.7, 0.8, 0.9)
#: A step is left only when load is below its threshold minus this.
RECOVERY_MARGIN = 0.1
#: The load acted on is the time-weighted mean of the samples over this window.
SMOOTHING_WINDOW_MS = 6_000
#: How long the mean must stay above ``STEP_THRESHOLDS[k]`` to enter step ``k + 1``.
ENTER_HOLDS_MS: tuple[float, ...] = (2_000, 3_000, 4_000)
RECOVER_HOLD_MS = 5_000
#: Event-loop lag that counts as fully loaded: at 100 ms, 20 ms audio
#: frames are already five frames late.
LOOP_LAG_FULL_MS = 100.0
#: Highest rung offered to clients at each step (index = step).
DEFAULT_STEP_MAX_LEVELS: tuple[QualityLevel, ...] = (HIGH, MEDIUM, MEDIUM, LOW)
VISUALS_LIMITED_FROM_STEP = 2
EXPENSIVE_AI_OFF_FROM_STEP = 3

Feature = Literal["streaming_quality", "visuals", "expensive_ai"]


def combine_load(cpu_fraction: float, loop_lag_ms: float) -> float:
    """One load figure (0..1): the worse of CPU use and scaled event-loop lag."""
    lag_load = max(0.0, loop_lag_ms) / LOOP_LAG_FULL_MS
    return min(1.0, max(0.0, cpu_fraction, lag_load))


@dataclass(frozen=True, slots=True)
class Change:
    """One restriction switched on or off."""

    at_ms: float
    feature: Feature
    #: True when the feature is being restricted, False when restored.
    restricted: bool
    step: int
    previous_step: int
    #: For ``streaming_quality``: the new highest rung offered.
    max_level: QualityLevel | None
    reason: str


@dataclass(frozen=True, slots=True)
class LoadState:
    step: int
    #: Last load figure seen.
    load: float
    #: The figure acted on: mean over ``SMOOTHING_WINDOW_MS`` (``None`` before a full window).
    sustained_load: float | None
    #: When the current step was entered (``None`` before any update).
    since_ms: float | None
    max_level: QualityLevel
    visuals_allowed: bool
    expensive_ai_allowed: bool


class LoadShedder:
    """Server-wide load shedding; feed it one load figure per sample."""

    def __init__(
        self, *, step_max_levels: Sequence[QualityLevel] = DEFAULT_STEP_MAX_LEVELS
    ) -> None:
        if len(step_max_levels) != len(STEP_THRESHOLDS) + 1:
            raise ValueError(
                f"step_max_levels needs {len(STEP_THRESHOLDS) + 1} rungs, "
                f"got {len(step_max_levels)}"
            )
        self._step_max_levels = tuple(step_max_levels)
        self._step = 0
        self._load = 0.0
        self._since_ms: float | None = None
        # (sample time, load): each sample covers the interval since the one before.
        self._samples: deque[tuple[float, float]] = deque()
        self._first_ms: float | None = None
        self._sustained: float | None = None
        self._above_since_ms: list[float | None] = [None] * len(STEP_THRESHOLDS)
        self._below_since_ms: float | None = None

    @property
    def state(self) -> LoadState:
        return LoadState(
            step=self._step,
            load=self._load,
            sustained_load=self._sustained,
            since_ms=self._since_ms,
            max_level=self._step_max_levels[self._step],
            visuals_allowed=self._step < VISUALS_LIMITED_FROM_STEP,
            expensive_ai_allowed=self._step < EXPENSIVE_AI_OFF_FROM_STEP,
        )

    def update(self, now_ms: float, load: float) -> list[Change]:
        """Take one load sample; return the restrictions that changed."""
        load = min(1.0, max(0.0, load))
        self._load = load
        if self._since_ms is None:
            self._since_ms = now_ms
        sustained = self._smooth(now_ms, load)
        self._sustained = sustained
        if sustained is None:
            return []
        for k, threshold in enumerate(STEP_THRESHOLDS):
            if sustained <= threshold:
                self._above_since_ms[k] = None
            elif self._above_since_ms[k] is None:
                self._above_since_ms[k] = now_ms

        target = self._step
        for k in range(self._step, len(STEP_THRESHOLDS)):
            since = self._above_since_ms[k]
            if since is not None and now_ms - since >= ENTER_HOLDS_MS[k]:
                target = k + 1
        if target > self._step:
            self._below_since_ms = None
            since = self._above_since_ms[target - 1]
            assert since is not None
            why = (f"load {sustained:.2f} > {STEP_THRESHOLDS[target - 1]:.2f} for "
                   f"{(now_ms - since) / 1000:.1f} s ({SMOOTHING_WINDOW_MS / 1000:.0f} s mean)")
            return self._move(now_ms, target, why)

        if self._step == 0:
            return []
        leave_below = STEP_THRESHOLDS[self._step - 1] - RECOVERY_MARGIN
        if sustained >= leave_below:
            self._below_since_ms = None
            return []
        if self._below_since_ms is None:
            self._below_since_ms = now_ms
        held_ms = now_ms - self._below_since_ms
        if held_ms < RECOVER_HOLD_MS:
            return []
        self._below_since_ms = None
        why = (f"load {sustained:.2f} < {leave_below:.2f} for {held_ms / 1000:.1f} s "
               f"({SMOOTHING_WINDOW_MS / 1000:.0f} s mean)")
        return self._move(now_ms, self._step - 1, why)

    def _smooth(self, now_ms: float, load: float) -> float | None:
        """Time-weighted mean over the last ``SMOOTHING_WINDOW_MS``; ``None`` until full."""
        if self._first_ms is None:
            self._first_ms = now_ms  # the first sample marks the start; it covers nothing
            self._samples.append((now_ms, load))
            return None
        self._samples.append((now_ms, load))
        start_ms = now_ms - SMOOTHING_WINDOW_MS
        while len(self._samples) > 2 and self._samples[1][0] <= start_ms:
            self._samples.popleft()
        if now_ms - self._first_ms < SMOOTHING_WINDOW_MS:
            return None
        weighted = covered = 0.0
        for (before_ms, _), (at_ms, value) in zip(self._samples, list(self._samples)[1:],
                                                  strict=False):
            span = at_ms - max(before_ms, start_ms)
            if span > 0:
                weighted += value * span
                covered += span
        return weighted / covered if covered > 0 else load

    def _move(self, now_ms: float, step: int, why: str) -> list[Change]:
        before = self.state
        previous = self._step
        self._step = step
        self._since_ms = now_ms
        after = self.state
        changes: list[Change] = []

        def change(
            feature: Feature, restricted: bool, what: str, level: QualityLevel | None
        ) -> None:
            changes.append(
                Change(
                    at_ms=now_ms,
                    feature=feature,
                    restricted=restricted,
                    step=step,
                    previous_step=previous,
                    max_level=level,
                    reason=f"{why}: {what} (step {previous} -> {step})",
                )
            )

        if after.max_level != before.max_level:
            lowered = after.max_level.rank < before.max_level.rank
            verb = "capped at" if lowered else "raised to"
            change(
                "streaming_quality",
                lowered or after.max_level is not HIGH,
                f"streaming quality {verb} {after.max_level}",
                after.max_level,
            )
        if after.visuals_allowed != before.visuals_allowed:
            what = "visual generation " + ("limited" if not after.visuals_allowed else "restored")
            change("visuals", not after.visuals_allowed, what, None)
        if after.expensive_ai_allowed != before.expensive_ai_allowed:
            what = "expensive AI features " + ("off" if not after.expensive_ai_allowed else "on")
            change("expensive_ai", not after.expensive_ai_allowed, what, None)
        return changes
