"""What the window shows, as plain data: the coaching state fed by a sample stream.

:class:`CoachState` consumes :data:`~companion.sources.base.SourceItem`\\ s (samples, gaps,
link states, statistics), runs the streaming analysis on the samples, and keeps everything
the window draws: ring buffers of the per-sample channels, the reps and their verdicts against
the plan's targets, the phase now in progress, the stretch hold, recent warnings and each
sensor's link status. It imports no Qt, so it is tested without a display; the window only
*reads* it on its redraw timer.

The analysis engine is :class:`companion.analysis.SessionAnalyzer`; this module adapts to it
in one place (:func:`_drain_channels`) and takes any object with ``feed(chunk) -> events`` for
tests.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from companion.analysis.events import (
    AnalysisEvent,
    CalibrationDone,
    Hold,
    HoldEnded,
    HoldStarted,
    HoldUpdate,
    PhaseChanged,
    Rep,
    RepCompleted,
    RepDiscarded,
    RepStarted,
    SetCompleted,
    SetSummary,
    Warning,
)
from companion.analysis.settings import DEFAULT_SETTINGS
from companion.errors import UsageError
from companion.model import Gap, ImuChunk, SensorInfo
from companion.scoring import PhaseTarget, Plan, Tempo, load_plan, resolve_plan
from companion.scoring.score import DEFAULT_HOLD_S, DEFAULT_TEMPO, exercise_hint
from companion.sources.base import LinkState, LinkStateChanged, SensorStats, SourceItem
from companion.ui.ring import RingBuffer

log = logging.getLogger(__name__)

__all__ = [
    "CHANNELS",
    "PHASE_CODES",
    "Analysed",
    "CoachState",
    "DeviceStatus",
    "RepView",
    "Targets",
    "Verdict",
    "default_preview_factory",
    "load_targets",
]

CHANNELS = (
    "ankle_sagittal_deg",
    "shin_inclination_deg",
    "foot_pitch_deg",
    "knee_tracking_deg",
    "phase_code",
)
"""Columns of :attr:`CoachState.ring` after ``t_s``."""

PHASE_CODES = {"rest": 0.0, "rise": 1.0, "hold": 2.0, "lower": 3.0}

KNEE_IN_TEXT = "Knee caving in: push it over the little toe."
BOUNCE_TEXT = "Bouncing: ease into the stretch and hold it still."


class Verdict(enum.StrEnum):
    """How one phase's duration compares with its target (the scoring module's words)."""

    OK = "ok"
    SHORT = "short"
    LONG = "long"
    NONE = "no_target"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockTargets:
    """One exercise of the plan, as the window uses it."""

    exercise: str
    """``calf_raise``, ``tibialis_raise`` or ``stretch``."""
    label: str
    sets: int | None
    reps: int | None
    tempo: Tempo | None = None
    hold_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Targets:
    """The plan's targets per exercise: set/rep counts, the tempo of each rep phase (the
    scoring module's :class:`~companion.scoring.Tempo`, so the window and ``companion score``
    give identical verdicts), and the stretch hold time."""

    name: str
    blocks: tuple[BlockTargets, ...]
    plan: Plan | None = None

    def block(self, exercise: str) -> BlockTargets:
        for b in self.blocks:
            if b.exercise == exercise:
                return b
        if exercise == "stretch":
            return BlockTargets(
                exercise="stretch", label="stretch", sets=None, reps=None, hold_s=DEFAULT_HOLD_S
            )
        return BlockTargets(
            exercise=exercise,
            label=exercise.replace("_", " "),
            sets=None,
            reps=None,
            tempo=DEFAULT_TEMPO,
        )

    @property
    def exercise(self) -> str:
        """The first exercise of the plan (what the window expects first)."""
        return self.blocks[0].exercise if self.blocks else "calf_raise"

    def phase_targets(self, exercise: str) -> tuple[PhaseTarget | None, ...]:
        tempo = self.block(exercise).tempo or DEFAULT_TEMPO
        return tempo.rise, tempo.hold, tempo.lower

    def verdicts(self, rep: Rep) -> tuple[Verdict, Verdict, Verdict]:
        out = []
        for target, value in zip(
            self.phase_targets(rep.exercise), (rep.rise_s, rep.hold_s, rep.lower_s)
        ):
            out.append(Verdict.NONE if target is None else Verdict(target.verdict(value)))
        return out[0], out[1], out[2]

    def nominal_s(self, exercise: str, phase: str) -> float:
        """The value the pacing cue fills over: target, else the upper bound, else 0."""
        rise, hold, lower = self.phase_targets(exercise)
        t = {"rise": rise, "hold": hold, "lower": lower}.get(phase)
        if t is None:
            return 0.0
        if t.target_s is not None:
            return float(t.target_s)
        return float(t.max_s) if math.isfinite(t.max_s) else float(t.min_s)

    @property
    def stretch_hold_s(self) -> float:
        return float(self.block("stretch").hold_s or DEFAULT_HOLD_S)

    @property
    def exercise_hint(self) -> str | None:
        """What ``companion score`` tells the analysis to look for under this plan."""
        return exercise_hint(self.plan)


DEFAULT_TARGETS_NAME = "no plan: 3 s down, quick up, 1 s hold; stretches 30 s"


def targets_from_plan(plan: Plan | None) -> Targets:
    """Targets for the window from a scoring :class:`Plan` (``None``: the seed defaults)."""
    if plan is None:
        return Targets(name=DEFAULT_TARGETS_NAME, blocks=())
    blocks = []
    for b in plan.exercises:
        ex = b.rep_exercise or ("stretch" if b.kind in ("stretch", "lunge_test") else b.kind)
        if any(x.exercise == ex for x in blocks):
            continue
        blocks.append(
            BlockTargets(
                exercise=ex,
                label=b.label,
                sets=b.holds if ex == "stretch" else b.sets,
                reps=b.reps,
                tempo=b.tempo if b.is_rep_block else None,
                hold_s=b.hold_s,
            )
        )
    return Targets(name=plan.name, blocks=tuple(blocks), plan=plan)


def load_targets(
    plan_arg: str | None, session_plan: dict[str, Any] | None = None
) -> tuple[Targets, dict[str, Any] | None]:
    """Resolve ``--plan`` (a TOML file or a preset name) or the session's own plan, exactly
    as ``companion score`` does; returns the targets and the plan as stored in a session."""
    override = load_plan(plan_arg) if plan_arg is not None else None
    plan = resolve_plan(session_plan, override)
    raw = None if plan is None else (plan.raw or plan.to_dict())
    return targets_from_plan(plan), raw


@dataclass(frozen=True, slots=True, kw_only=True)
class RepView:
    """A finished rep with its verdicts, as the tempo bars draw it."""

    rep: Rep
    rise: Verdict
    hold: Verdict
    lower: Verdict

    @property
    def good(self) -> bool:
        return (
            all(
                v in (Verdict.OK, Verdict.NONE, Verdict.UNKNOWN)
                for v in (self.rise, self.hold, self.lower)
            )
            and not self.rep.partial
        )


@dataclass(slots=True)
class DeviceStatus:
    """One sensor's link, as the device panel shows it."""

    info: SensorInfo
    state: LinkState = LinkState.DISCONNECTED
    message: str = ""
    battery_pct: float | None = None
    effective_rate_hz: float | None = None
    loss_pct: float | None = None
    last_sample_t_s: float = math.nan
    samples: int = 0
    gaps: int = 0


@dataclass(slots=True)
class HoldView:
    t_start_s: float
    angle_deg: float
    """The latest reported angle of the hold, deg."""
    held_angle_deg: float = math.nan
    """The angle the hold started at (what the knee position is inferred from), deg."""
    time_in_position_s: float = 0.0
    in_position: bool = True
    t_update_s: float = math.nan
    ended: Hold | None = None


@dataclass(slots=True)
class WarningView:
    kind: str
    message: str
    t_s: float


class Analyzer(Protocol):
    def feed(self, chunk: ImuChunk) -> list[AnalysisEvent]: ...


@dataclass(slots=True)
class ChannelBlock:
    t_s: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)


def _drain_channels(analyzer: object) -> ChannelBlock | None:
    """New per-sample rows the analyzer computed since the last call (adapter seam)."""
    for name in ("frames_since_last", "take_channels"):
        fn = getattr(analyzer, name, None)
        if fn is None:
            continue
        block = fn()
        if block is None:
            return None
        if isinstance(block, dict):
            t = block.get("t_s")
            cols = block
        else:
            t = getattr(block, "t_s", None)
            cols = {c: getattr(block, c, None) for c in (*CHANNELS[:-1], "phase")}
        if t is None or len(t) == 0:
            return None
        return ChannelBlock(t_s=np.asarray(t, dtype=np.float64), columns=dict(cols))
    return None


AnalyzerFactory = Callable[..., Analyzer]
"""``(side, exercise_hint, sampling_rate_hz) -> analyzer``."""


def default_analyzer_factory(
    side: str, exercise_hint: str | None, sampling_rate_hz: float = 100.0
) -> Analyzer:
    """A fresh :class:`companion.analysis.SessionAnalyzer`, set up as ``analyze_session``
    (and therefore ``companion score``) sets it up for the same recording."""
    from companion.analysis import SessionAnalyzer

    return SessionAnalyzer(  # type: ignore[no-any-return]
        side=side, exercise_hint=exercise_hint, sampling_rate_hz=sampling_rate_hz
    )


def default_preview_factory(
    side: str, exercise_hint: str | None, sampling_rate_hz: float = 100.0
) -> Analyzer | None:
    """A :class:`~companion.analysis.SessionAnalyzer` with ``angles_only=True``: it computes
    the per-sample angles (orientation, calibration, angles) and detects no reps or holds, so
    it never runs a phase fit. Its rows equal the full analyzer's (``tests/ui/test_coach.py``
    checks it on a simulated session), and the window draws them while the full analysis may
    still be fitting a rep."""
    from companion.analysis import SessionAnalyzer

    return SessionAnalyzer(  # type: ignore[no-any-return]
        side=side,
        exercise_hint=exercise_hint,
        sampling_rate_hz=sampling_rate_hz,
        angles_only=True,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Analysed:
    """What the analysis made of one chunk (computed off the coaching state's lock)."""

    events: list[AnalysisEvent]
    block: ChannelBlock | None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class CoachState:
    """The coaching model behind the window (Qt-free).

    Parameters
    ----------
    sensors
        The source's sensors (placement decides the side of the analysis).
    targets
        Plan targets for verdicts and the pacing cue.
    window_s
        Length of the scrolling plot's buffer, s.
    analyzer_factory
        ``(side, exercise_hint) -> analyzer``; the default builds a ``SessionAnalyzer``.
    preview_factory
        ``(side, exercise_hint) -> analyzer or None``: a second, angles-only analyzer whose
        rows fill the plot's ring buffer, so a slow step of the full analysis (a rep's phase
        fit) never holds the curve back. Default: :func:`default_preview_factory` with the
        default analyzer, none with any other (the full analyzer's rows are drawn then).
    clock
        Monotonic clock for the notification→drawn latency probe.

    Threads: :meth:`push` does everything in one call. The window instead splits the work:
    :meth:`note_input` and :meth:`apply_analysis` / :meth:`apply_preview` mutate the state
    (under the window's lock, briefly), :meth:`analyse` and :meth:`preview_rows` run the
    analyzers without the lock; the window reads the state under the same lock.
    """

    def __init__(
        self,
        sensors: list[SensorInfo],
        *,
        targets: Targets | None = None,
        window_s: float = 30.0,
        output_rate_hz: float = 100.0,
        analyzer_factory: AnalyzerFactory = default_analyzer_factory,
        preview_factory: Callable[..., Analyzer | None] | str | None = "auto",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sensors = list(sensors)
        self.targets = targets or targets_from_plan(None)
        self.side = self.sensors[0].placement.side.value if self.sensors else "left"
        shin = [s for s in self.sensors if s.placement.segment.value == "shin"]
        self._sensor_rate_hz = float(shin[0].sampling_rate_hz) if shin else 100.0
        self.window_s = float(window_s)
        self._rate_hz = float(output_rate_hz)
        self._factory = analyzer_factory
        if preview_factory == "auto":
            preview_factory = (
                default_preview_factory if analyzer_factory is default_analyzer_factory else None
            )
        self._preview_factory: Callable[..., Analyzer | None] | None = (
            None if isinstance(preview_factory, str) else preview_factory
        )
        self._clock = clock
        self.ring = RingBuffer(round(self.window_s * self._rate_hz) + 1, len(CHANNELS))
        self.devices: dict[str, DeviceStatus] = {
            s.sensor_id: DeviceStatus(info=s) for s in self.sensors
        }
        self.error: str = ""
        self.reset()

    # -- lifecycle ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget all analysis state (a seek backwards, a new calibration)."""
        hint = self.targets.exercise_hint
        try:
            self.analyzer: Analyzer | None = self._factory(self.side, hint, self._sensor_rate_hz)
        except UsageError as exc:
            self.analyzer = None
            self.error = str(exc)
        self.preview: Analyzer | None = None
        """The angles-only analyzer that fills the ring (None: the full analyzer does)."""
        if self.analyzer is not None and self._preview_factory is not None:
            try:
                self.preview = self._preview_factory(self.side, hint, self._sensor_rate_hz)
            except Exception:  # the full analysis still draws; the log says why
                log.exception("the preview analysis could not be set up")
        self.ring.clear()
        self.reps: list[RepView] = []
        self.sets: list[SetSummary] = []
        self.holds: list[Hold] = []
        self.warnings: deque[WarningView] = deque(maxlen=50)
        self.events: list[AnalysisEvent] = []
        self.phase = "rest"
        self.phase_t_s = math.nan
        self.rep_in_progress: RepStarted | None = None
        self.set_index = 0
        self._set_index_before = 0
        self.hold: HoldView | None = None
        self.calibrated: CalibrationDone | None = None
        self.latest_t_s = math.nan
        """Session time of the newest sample the full analysis has seen (its events are
        complete up to here; the plot may already show later rows)."""
        self.latest_input_t_s = math.nan
        """Session time of the newest sample received (the analysis may lag behind it)."""
        self.t_first_s = math.nan
        self.items_seen = 0
        self.pending_arrivals: deque[tuple[float, float]] = deque(maxlen=4096)
        """(session t_s of a chunk's last sample, monotonic arrival time) not yet drawn."""
        self.dirty = True
        for d in self.devices.values():
            d.last_sample_t_s = math.nan

    # -- input ------------------------------------------------------------------------------------
    def push(self, item: SourceItem, *, arrival_s: float | None = None) -> list[AnalysisEvent]:
        """Take one item from the source; returns the analysis events it produced."""
        self.items_seen += 1
        if isinstance(item, ImuChunk):
            return self._push_chunk(item, arrival_s)
        if isinstance(item, Gap):
            d = self.devices.get(item.sensor_id)
            if d is not None:
                d.gaps += 1
            return []
        if isinstance(item, LinkStateChanged):
            d = self.devices.get(item.sensor_id)
            if d is not None:
                d.state = item.state
                d.message = item.message
            self.dirty = True
            return []
        if isinstance(item, SensorStats):
            d = self.devices.get(item.sensor_id)
            if d is not None:
                d.effective_rate_hz = item.effective_rate_hz
                d.loss_pct = item.loss_pct
                if item.battery_pct is not None:
                    d.battery_pct = item.battery_pct
            return []
        return []

    def _push_chunk(self, chunk: ImuChunk, arrival_s: float | None) -> list[AnalysisEvent]:
        if len(chunk) == 0:
            return []
        arrival = self._clock() if arrival_s is None else arrival_s
        self._note_chunk(chunk)
        preview = self.preview
        if preview is not None:
            self.apply_preview(chunk, self.preview_rows(preview, chunk), arrival)
        else:
            self._note_arrival(chunk, arrival)
        if self.analyzer is None:
            return []
        return self.apply_analysis(self.analyse(self.analyzer, chunk))

    # -- the same, in steps (the window's threads) ------------------------------------------
    def note_input(self, item: SourceItem, *, arrival_s: float) -> None:
        """Book-keeping for one item (devices, clocks, the latency probe) without analysis."""
        if isinstance(item, ImuChunk):
            self.items_seen += 1
            if len(item):
                self._note_chunk(item)
                if self.preview is None:
                    self._note_arrival(item, arrival_s)
        else:
            self.push(item, arrival_s=arrival_s)

    @staticmethod
    def analyse(analyzer: Analyzer, chunk: ImuChunk) -> Analysed:
        """Feed ``analyzer`` (this state's, captured under the lock); touches nothing else."""
        events = list(analyzer.feed(chunk))
        return Analysed(events=events, block=_drain_channels(analyzer))

    def apply_analysis(self, analysed: Analysed) -> list[AnalysisEvent]:
        """Take in what :meth:`analyse` returned; returns its events."""
        if self.preview is None and analysed.block is not None:
            self._append_block(analysed.block)
        if analysed.block is not None:
            self.latest_t_s = float(analysed.block.t_s[-1])
        for ev in analysed.events:
            self._apply(ev)
        self.dirty = True
        return analysed.events

    @staticmethod
    def preview_rows(preview: Analyzer, chunk: ImuChunk) -> ChannelBlock | None:
        """Feed the angles-only analyzer; its new rows (touches nothing else)."""
        preview.feed(chunk)
        return _drain_channels(preview)

    def apply_preview(self, chunk: ImuChunk, block: ChannelBlock | None, arrival_s: float) -> None:
        """Draw the preview's rows; ``chunk`` counts for the latency probe from now on."""
        self._note_arrival(chunk, arrival_s)
        if block is not None:
            self._append_block(block)
            self.dirty = True

    def drop_preview(self) -> None:
        """The preview failed: the full analysis' rows fill the ring from now on."""
        self.preview = None

    def _note_chunk(self, chunk: ImuChunk) -> None:
        d = self.devices.get(chunk.sensor_id)
        if d is not None:
            d.samples += len(chunk)
            d.last_sample_t_s = float(chunk.t_s[-1])
            if d.state != LinkState.STREAMING and not d.message:
                d.state = LinkState.STREAMING
        if math.isnan(self.t_first_s):
            self.t_first_s = float(chunk.t_s[0])
        t_last = float(chunk.t_s[-1])
        if not t_last <= self.latest_input_t_s:
            self.latest_input_t_s = t_last

    def _note_arrival(self, chunk: ImuChunk, arrival_s: float) -> None:
        self.pending_arrivals.append((float(chunk.t_s[-1]), arrival_s))

    @property
    def drawn_t_s(self) -> float:
        """Session time of the newest row in the plot's ring buffer (NaN when empty)."""
        return self.ring.latest_t_s()

    def _append_block(self, block: ChannelBlock) -> None:
        t = block.t_s
        last = self.ring.latest_t_s()
        if not math.isnan(last) and t.shape[0] and t[0] <= last:
            # rows the ring already has (the full analysis taking over from a failed preview)
            keep = t > last
            block = ChannelBlock(
                t_s=t[keep],
                columns={k: np.asarray(v)[keep] for k, v in block.columns.items() if v is not None},
            )
            t = block.t_s
            if t.shape[0] == 0:
                return
        cols = np.full((t.shape[0], len(CHANNELS)), np.nan)
        for i, name in enumerate(CHANNELS[:-1]):
            v = block.columns.get(name)
            if v is not None:
                cols[:, i] = np.asarray(v, dtype=np.float64)
        phase = block.columns.get("phase")
        if phase is not None:
            cols[:, -1] = [PHASE_CODES.get(str(p), np.nan) for p in phase]
        self.ring.extend(t, cols)

    def _apply(self, ev: AnalysisEvent) -> None:
        self.events.append(ev)
        if isinstance(ev, CalibrationDone):
            self.calibrated = ev
        elif isinstance(ev, RepStarted):
            self.rep_in_progress = ev
            self._set_index_before = self.set_index
            if ev.set_index != self.set_index:
                self.set_index = ev.set_index
        elif isinstance(ev, RepDiscarded):
            # The movement was not a rep: no rep in progress, back at rest, and a set it
            # would have opened is not opened.
            self.rep_in_progress = None
            self.set_index = self._set_index_before
            self.phase = "rest"
            self.phase_t_s = ev.t_s
        elif isinstance(ev, PhaseChanged):
            self.phase = ev.phase
            self.phase_t_s = ev.t_s
        elif isinstance(ev, RepCompleted):
            r = ev.rep
            self.set_index = r.set_index
            rise, hold, lower = self.targets.verdicts(r)
            self.reps.append(RepView(rep=r, rise=rise, hold=hold, lower=lower))
            self.rep_in_progress = None
        elif isinstance(ev, SetCompleted):
            self.sets.append(ev.set)
        elif isinstance(ev, HoldStarted):
            self.rep_in_progress = None  # a candidate rep the analysis dropped
            self.hold = HoldView(
                t_start_s=ev.t_s,
                angle_deg=ev.angle_deg,
                held_angle_deg=ev.angle_deg,
                t_update_s=ev.t_s,
            )
        elif isinstance(ev, HoldUpdate):
            if self.hold is None or self.hold.ended is not None:
                self.hold = HoldView(
                    t_start_s=ev.t_s, angle_deg=ev.angle_deg, held_angle_deg=ev.angle_deg
                )
            self.hold.time_in_position_s = ev.time_in_position_s
            self.hold.in_position = ev.in_position
            self.hold.angle_deg = ev.angle_deg
            self.hold.t_update_s = ev.t_s
        elif isinstance(ev, HoldEnded):
            self.holds.append(ev.hold)
            if self.hold is None:
                self.hold = HoldView(t_start_s=ev.hold.t_start_s, angle_deg=ev.hold.mean_angle_deg)
            self.hold.ended = ev.hold
            self.hold.time_in_position_s = ev.hold.time_in_position_s
        elif isinstance(ev, Warning):
            text = {"knee_in": KNEE_IN_TEXT, "bounce": BOUNCE_TEXT}.get(ev.kind, ev.message)
            self.warnings.append(WarningView(kind=ev.kind, message=text, t_s=ev.t_s))

    def analysis_result(self, session_t0_s: float) -> Any | None:
        """The streaming analysis as an ``AnalysisResult`` (what ``analyze_session`` returns)
        when it has seen the session from its first sample, else None. Streaming and batch
        analysis are identical by construction (``tests/analysis``), so the end-of-session
        score can reuse it instead of analysing the recording a second time."""
        an = self.analyzer
        if an is None or not self.t_first_s <= session_t0_s + 1e-9:
            return None
        frames = getattr(an, "frames", None)
        if frames is None:
            return None
        from companion.analysis import AnalysisResult

        evs = self.events
        return AnalysisResult(
            reps=[e.rep for e in evs if isinstance(e, RepCompleted)],
            sets=[e.set for e in evs if isinstance(e, SetCompleted)],
            holds=[e.hold for e in evs if isinstance(e, HoldEnded)],
            warnings=[e for e in evs if isinstance(e, Warning)],
            channels=frames(),
            calibration=getattr(an, "calibration", None),
            events=list(evs),
            side=self.side,
        )

    def finish(self) -> list[AnalysisEvent]:
        """The source ended: let the analysis close what is open (a last rep or hold)."""
        pfin = getattr(self.preview, "finish", None)
        if pfin is not None:
            try:
                pfin()
                block = _drain_channels(self.preview)
                if block is not None:
                    self._append_block(block)
            except Exception:
                log.exception("the preview analysis failed at the end")
                self.preview = None
        fin = getattr(self.analyzer, "finish", None)
        if fin is None:
            return []
        events = list(fin())
        return self.apply_analysis(Analysed(events=events, block=_drain_channels(self.analyzer)))

    # -- derived values the window shows ---------------------------------------------------
    @property
    def now_s(self) -> float:
        """Session time of the newest analysed sample."""
        return self.latest_t_s

    @property
    def exercise(self) -> str:
        """The rep exercise in progress or last done (the plan's first one before any rep)."""
        if self.rep_in_progress is not None:
            return self.rep_in_progress.exercise
        if self.reps:
            return self.reps[-1].rep.exercise
        ex = self.targets.exercise
        return ex if ex in ("calf_raise", "tibialis_raise") else "calf_raise"

    def reps_in_set(self, set_index: int | None = None) -> list[RepView]:
        s = self.set_index if set_index is None else set_index
        ex = self.exercise
        return [r for r in self.reps if r.rep.set_index == s and r.rep.exercise == ex]

    def rep_counter(self) -> tuple[int, int | None, int, int | None]:
        """``(set number, sets planned, reps done in this set, reps planned)``, 1-based set;
        the planned counts are None when the plan does not say."""
        ex = self.exercise
        b = self.targets.block(ex)
        sets = {r.rep.set_index for r in self.reps if r.rep.exercise == ex}
        sets.add(self.set_index)
        return sorted(sets).index(self.set_index) + 1, b.sets, len(self.reps_in_set()), b.reps

    def pacing(self) -> tuple[str, float, float]:
        """The pacing cue: ``(phase, elapsed_s, target_s)`` of the phase in progress.

        The window fills a bar over ``target_s`` during the lowering (and the top hold) so the
        eye can follow the prescribed tempo; ``target_s`` is 0 for phases without one.
        """
        if math.isnan(self.phase_t_s) or math.isnan(self.latest_t_s):
            return "rest", 0.0, 0.0
        elapsed = max(0.0, self.latest_t_s - self.phase_t_s)
        return self.phase, elapsed, self.targets.nominal_s(self.exercise, self.phase)

    def hold_seconds(self) -> float:
        """Time in position of the current (or last) stretch hold, advanced between updates
        only while the analysis says the angle is in position."""
        h = self.hold
        if h is None:
            return 0.0
        if h.ended is not None:
            return h.ended.time_in_position_s
        extra = 0.0
        if h.in_position and not math.isnan(h.t_update_s) and not math.isnan(self.latest_t_s):
            extra = min(max(0.0, self.latest_t_s - h.t_update_s), 1.5)
        return h.time_in_position_s + extra

    def hold_active(self) -> bool:
        return self.hold is not None and self.hold.ended is None

    def knee_label(self) -> str:
        """``straight knee``/``bent knee`` of the current or last hold (inferred from the angle
        when the analysis has not said yet)."""
        h = self.hold
        if h is None:
            return ""
        if h.ended is not None and h.ended.knee != "unknown":
            return f"{h.ended.knee} knee"
        a = h.held_angle_deg if math.isfinite(h.held_angle_deg) else h.angle_deg
        if a >= DEFAULT_SETTINGS.bent_knee_min_deg:
            return "bent knee (soleus)"
        if a <= DEFAULT_SETTINGS.straight_knee_max_deg:
            return "straight knee (gastrocnemius)"
        return ""

    def active_warnings(self, within_s: float = 4.0) -> list[WarningView]:
        """Warnings raised in the last ``within_s`` seconds of session time, newest first;
        a bounce or knee warning stays up (for up to 10 s) while its stretch hold lasts."""
        if math.isnan(self.latest_t_s):
            return []
        now = self.latest_t_s
        hold_t0 = self.hold.t_start_s if self.hold_active() and self.hold is not None else math.inf

        def shown(w: WarningView) -> bool:
            age = now - w.t_s
            if w.kind in ("bounce", "knee_in") and w.t_s >= hold_t0 - 1.0:
                return age <= 10.0
            return age <= within_s

        out = [w for w in self.warnings if shown(w)]
        seen: set[str] = set()
        uniq = []
        for w in reversed(out):
            if w.kind not in seen:
                seen.add(w.kind)
                uniq.append(w)
        return uniq

    def _set_number(self, exercise: str, set_index: int) -> int:
        sets = sorted({r.rep.set_index for r in self.reps if r.rep.exercise == exercise})
        return sets.index(set_index) + 1 if set_index in sets else len(sets) + 1

    def target_band(self) -> tuple[float, float] | None:
        """Where the ankle should get to, deg: for raises the top of a full rep (from 70 % of
        this set's median peak — below that the analysis calls a rep partial — to 5° past
        it); for a stretch the hold band around the held angle; None when unknown."""
        if self.hold_active() and self.hold is not None:
            a = self.hold.angle_deg
            return (a - 5.0, a + 5.0)
        if (
            self.rep_in_progress is None
            and not self.reps
            and (self.targets.exercise == "stretch" or self.hold is not None)
        ):
            return self._stretch_band()
        ex = self.exercise
        peaks = [r.rep.peak_angle_deg for r in self.reps_in_set()[-10:]]
        if peaks:
            p = float(np.median(peaks))
            lo, hi = sorted((0.7 * p, p + math.copysign(5.0, p)))
            return (lo, hi)
        return (-45.0, -20.0) if ex == "calf_raise" else (12.0, 30.0)

    def _stretch_band(self) -> tuple[float, float]:
        """Where a stretch is held (dorsiflexion is positive), before a hold or between holds:
        around the last hold's angle, else the range of the plan's knee position."""
        band = DEFAULT_SETTINGS.hold_band_deg
        h = self.hold
        if h is not None:
            a = h.held_angle_deg if math.isfinite(h.held_angle_deg) else h.angle_deg
            if math.isfinite(a):
                return (a - band, a + band)
        bent_min = DEFAULT_SETTINGS.bent_knee_min_deg
        straight_max = DEFAULT_SETTINGS.straight_knee_max_deg
        knee = self._plan_stretch_knee()
        if knee == "bent":
            return (bent_min, bent_min + 2 * band)
        if knee == "straight":
            return (straight_max - 2 * band, straight_max)
        return (straight_max - 2 * band, bent_min + 2 * band)

    def _plan_stretch_knee(self) -> str:
        plan = self.targets.plan
        for b in plan.exercises if plan is not None else ():
            if b.kind == "stretch":
                return str(b.knee)
        return "any"

    def set_summary_lines(self, exercise: str, set_index: int) -> list[str]:
        """The end-of-set summary from the analysis' per-rep numbers against the targets."""
        reps = [r for r in self.reps if r.rep.exercise == exercise and r.rep.set_index == set_index]
        if not reps:
            return []
        rise_t, hold_t, lower_t = self.targets.phase_targets(exercise)
        good = sum(r.good for r in reps)
        name = "Calf raises" if exercise == "calf_raise" else "Tibialis raises"

        def med(vals: list[float]) -> float:
            return float(np.median(np.asarray(vals, dtype=np.float64)))

        def tgt(t: PhaseTarget | None) -> str:
            return "" if t is None else f" (target {t.describe()})"

        lines = [
            f"{name}, set {self._set_number(exercise, set_index)}: "
            f"{_plural(len(reps), 'rep')}, {good} on tempo",
            f"lowering {med([r.rep.lower_s for r in reps]):.1f} s{tgt(lower_t)}",
            f"hold at the top {med([r.rep.hold_s for r in reps]):.1f} s{tgt(hold_t)}",
            f"rise {med([r.rep.rise_s for r in reps]):.1f} s{tgt(rise_t)}",
            f"range of motion {med([r.rep.rom_deg for r in reps]):.0f}° (median)",
        ]
        rushed = sum(r.lower == Verdict.SHORT for r in reps)
        if rushed:
            lines.append(f"{_plural(rushed, 'rep')} lowered too fast: count 1-2-3 on the way down")
        no_hold = sum(r.hold == Verdict.SHORT for r in reps)
        if no_hold:
            lines.append(f"{_plural(no_hold, 'rep')} without the pause at the top: hold it 1 s")
        partial = sum(r.rep.partial for r in reps)
        if partial:
            lines.append(
                f"{_plural(partial, 'partial rep')}: rise all the way onto the balls of the feet"
            )
        return lines

    # -- latency probe ---------------------------------------------------------------------------
    def mark_drawn(self, drawn_up_to_t_s: float, now_s: float | None = None) -> list[float]:
        """Pop arrivals whose samples are now on screen; returns their latencies in s."""
        now = self._clock() if now_s is None else now_s
        out = []
        while self.pending_arrivals and self.pending_arrivals[0][0] <= drawn_up_to_t_s + 1e-9:
            _, arrived = self.pending_arrivals.popleft()
            out.append(now - arrived)
        return out
