"""CoachState (Qt-free): verdicts against plan targets, pacing cue, hold timer, warnings.

A scripted analyzer stands in for the analysis so each rule is checked against golden values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from companion.analysis.events import (
    Hold,
    HoldEnded,
    HoldStarted,
    HoldUpdate,
    PhaseChanged,
    Rep,
    RepCompleted,
    RepDiscarded,
    RepStarted,
    Warning,
)
from companion.errors import UsageError
from companion.model import ImuChunk, Placement, SensorInfo
from companion.ui.coach import CoachState, Verdict, load_targets, targets_from_plan

SENSORS = [
    SensorInfo(
        sensor_id=f"{seg}_left",
        family="simulated",
        placement=Placement(segment=seg, side="left"),
        sampling_rate_hz=100.0,
    )
    for seg in ("shin", "foot")
]


class Scripted:
    """Emits given events once the fed data reach their time; outputs one frame per chunk."""

    def __init__(self, events) -> None:
        self.events = sorted(events, key=lambda e: e.t_s)
        self.t = math.nan

    def feed(self, chunk: ImuChunk):
        self.t = float(chunk.t_s[-1])
        out = [e for e in self.events if e.t_s <= self.t]
        self.events = [e for e in self.events if e.t_s > self.t]
        return out

    def frames_since_last(self):
        return {"t_s": np.array([self.t]), "ankle_sagittal_deg": np.array([-10.0])}


def _coach(events, plan=None) -> CoachState:
    return CoachState(
        SENSORS,
        targets=targets_from_plan(plan),
        analyzer_factory=lambda side, hint, rate: Scripted(events),
    )


def _chunk(t: float) -> ImuChunk:
    return ImuChunk(
        sensor_id="shin_left",
        placement=Placement(segment="shin", side="left"),
        t_s=np.array([t]),
        acc_m_s2=np.array([[0.0, 0.0, 9.81]]),
        gyr_dps=np.zeros((1, 3)),
    )


def _rep(i: int, rise: float, hold: float, lower: float, *, t0: float = 0.0) -> Rep:
    return Rep(
        exercise="calf_raise",
        set_index=0,
        rep_index=i,
        t_start_s=t0,
        t_rise_end_s=t0 + rise,
        t_hold_end_s=t0 + rise + hold,
        t_lower_end_s=t0 + rise + hold + lower,
        t_end_s=t0 + rise + hold + lower,
        rise_s=rise,
        hold_s=hold,
        lower_s=lower,
        rest_s=0.0,
        rom_deg=35.0,
        peak_angle_deg=-35.0,
        mean_velocity_dps=30.0,
        peak_velocity_dps=80.0,
    )


# (rise, hold, lower) -> verdicts under the seed tempo: rise <= 1.5, hold 1 ± 0.5, lower 3 ± 0.5
GOLDEN = [
    ((1.0, 1.0, 3.0), ("ok", "ok", "ok")),
    ((1.0, 1.0, 1.2), ("ok", "ok", "short")),
    ((1.0, 0.2, 3.0), ("ok", "short", "ok")),
    ((2.0, 1.0, 3.0), ("long", "ok", "ok")),
    ((1.0, 2.0, 4.0), ("ok", "long", "long")),
    ((1.5, 0.5, 2.5), ("ok", "ok", "ok")),  # the edges are inside
]


@pytest.mark.parametrize(("durations", "expected"), GOLDEN)
def test_rep_verdicts_against_the_default_seed_tempo(durations, expected) -> None:
    rep = _rep(0, *durations, t0=1.0)
    c = _coach([RepCompleted(t_s=rep.t_end_s + 0.3, rep=rep)])
    c.push(_chunk(20.0))
    (rv,) = c.reps
    assert (rv.rise.value, rv.hold.value, rv.lower.value) == expected
    assert rv.good == (expected == ("ok", "ok", "ok"))


def test_a_plan_without_a_hold_target_does_not_judge_the_hold() -> None:
    targets, _ = load_targets("hsr")
    c = CoachState(
        SENSORS,
        targets=targets,
        analyzer_factory=lambda side, hint, rate: Scripted(
            [RepCompleted(t_s=9.0, rep=_rep(0, 3.0, 0.0, 3.0))]
        ),
    )
    c.push(_chunk(10.0))
    assert c.reps[0].hold in (Verdict.NONE, Verdict.OK)
    assert c.reps[0].rise == Verdict.OK  # 3 s up is the HSR prescription


def test_unknown_plan_is_one_sentence() -> None:
    with pytest.raises(UsageError, match="plan"):
        load_targets("no-such-plan-file.toml")


def test_pacing_cue_fills_over_the_prescribed_lowering() -> None:
    c = _coach(
        [
            RepStarted(t_s=5.0, exercise="calf_raise", set_index=0, rep_index=0),
            PhaseChanged(t_s=5.0, phase="rise", exercise="calf_raise"),
            PhaseChanged(t_s=6.0, phase="hold", exercise="calf_raise"),
            PhaseChanged(t_s=7.0, phase="lower", exercise="calf_raise"),
        ]
    )
    c.push(_chunk(6.5))
    assert c.pacing() == ("hold", pytest.approx(0.5), 1.0)
    c.push(_chunk(8.5))
    assert c.pacing() == ("lower", pytest.approx(1.5), 3.0)


def test_rep_counter_counts_reps_of_the_current_set() -> None:
    events = [RepCompleted(t_s=6.0 * (i + 1), rep=_rep(i, 1, 1, 3, t0=6.0 * i)) for i in range(3)]
    c = _coach(events, plan=load_targets("seed")[0].plan)
    c.push(_chunk(100.0))
    assert c.rep_counter() == (1, 3, 3, 20)


def test_hold_timer_runs_only_in_position() -> None:
    c = _coach(
        [
            HoldStarted(t_s=5.0, angle_deg=22.0),
            HoldUpdate(t_s=6.0, time_in_position_s=1.0, angle_deg=22.0, in_position=True),
            HoldUpdate(t_s=7.0, time_in_position_s=1.8, angle_deg=12.0, in_position=False),
        ]
    )
    c.push(_chunk(6.6))
    assert c.hold_seconds() == pytest.approx(1.6)  # 1.0 reported + 0.6 since, in position
    c.push(_chunk(7.9))
    assert c.hold_seconds() == pytest.approx(1.8)  # out of position: the timer waits
    assert c.hold_active()
    assert c.knee_label().startswith("straight knee")


def test_a_finished_hold_keeps_its_time_and_knee() -> None:
    hold = Hold(
        t_start_s=5.0,
        t_end_s=36.0,
        time_in_position_s=29.5,
        peak_angle_deg=34.0,
        mean_angle_deg=32.0,
        n_bounces=0,
        bouncing=False,
        knee_in=False,
        knee_tracking_mean_deg=2.0,
        knee_tracking_min_deg=1.0,
        knee_in_fraction=0.0,
        knee="bent",
        knee_source="inferred",
        shin_inclination_mean_deg=30.0,
    )
    c = _coach([HoldStarted(t_s=5.0, angle_deg=32.0), HoldEnded(t_s=36.5, hold=hold)])
    c.push(_chunk(40.0))
    assert not c.hold_active()
    assert c.hold_seconds() == 29.5
    assert c.knee_label() == "bent knee"


def test_knee_and_bounce_warnings_are_coaching_sentences() -> None:
    c = _coach(
        [
            HoldStarted(t_s=5.0, angle_deg=30.0),
            Warning(t_s=8.0, kind="knee_in", message="knee in"),
            Warning(t_s=9.0, kind="bounce", message="bounce"),
            Warning(t_s=9.5, kind="gap", message="A sensor dropped samples."),
        ]
    )
    c.push(_chunk(10.0))
    texts = [w.message for w in c.active_warnings()]
    assert "Knee caving in: push it over the little toe." in texts
    assert any(t.startswith("Bouncing") for t in texts)
    assert "A sensor dropped samples." in texts
    c.push(_chunk(16.0))  # 6.5 s later: the gap notice is gone, the hold warnings stay
    kinds = {w.kind for w in c.active_warnings()}
    assert kinds == {"knee_in", "bounce"}


def test_a_discarded_candidate_rep_is_forgotten_at_once() -> None:
    c = _coach(
        [
            RepStarted(t_s=1.0, exercise="tibialis_raise", set_index=0, rep_index=0),
            PhaseChanged(t_s=1.0, phase="rise", exercise="tibialis_raise"),
            RepDiscarded(t_s=2.5, exercise="tibialis_raise", reason="shin_moved"),
        ]
    )
    c.push(_chunk(2.0))
    assert c.exercise == "tibialis_raise"
    assert c.pacing()[0] == "rise"
    c.push(_chunk(3.0))
    assert c.rep_in_progress is None
    assert c.exercise == "calf_raise"
    assert c.pacing()[0] == "rest"


def test_a_discarded_candidate_does_not_open_a_set() -> None:
    c = _coach(
        [
            RepCompleted(t_s=6.0, rep=_rep(0, 1, 1, 3)),
            RepStarted(t_s=40.0, exercise="calf_raise", set_index=1, rep_index=0),
            RepDiscarded(t_s=41.0, exercise="calf_raise", reason="too_small"),
        ],
        plan=load_targets("seed")[0].plan,
    )
    c.push(_chunk(40.5))
    assert c.set_index == 1
    c.push(_chunk(42.0))
    assert c.set_index == 0
    set_no, _, done, _ = c.rep_counter()
    assert (set_no, done) == (1, 1)


def test_latency_probe_pops_only_drawn_chunks() -> None:
    now = [100.0]
    c = CoachState(SENSORS, analyzer_factory=lambda s, h, r: Scripted([]), clock=lambda: now[0])
    c.push(_chunk(1.0))
    now[0] = 100.01
    c.push(_chunk(2.0))
    now[0] = 100.03
    assert c.mark_drawn(1.5) == [pytest.approx(0.03)]
    assert c.mark_drawn(2.0) == [pytest.approx(0.02)]
    assert c.mark_drawn(3.0) == []


def test_the_preview_draws_exactly_the_full_analysis_angles(calf_session) -> None:
    """The plot is filled by an angles-only analyzer (no rep fits, so it never waits for
    one): its rows must equal the full analysis' rows, sample for sample, however the data
    arrive, and the events (reps) still come from the full analysis."""
    from companion.analysis import SessionAnalyzer
    from companion.ui.coach import default_preview_factory

    side = calf_session.sensors[0].placement.side.value
    rate = float(calf_session.sensors[0].sampling_rate_hz)
    preview = default_preview_factory(side, None, rate)
    assert preview is not None
    full = SessionAnalyzer(side=side, sampling_rate_hz=rate)
    rng = np.random.default_rng(5)
    shin, foot = (calf_session.chunks[s.sensor_id] for s in calf_session.sensors)
    i0 = 0
    preview_events = []
    while i0 < len(shin):
        n = int(rng.integers(1, 60))
        for c in (shin, foot) if rng.random() < 0.5 else (foot, shin):
            piece = c.slice(i0, i0 + n)
            preview_events += preview.feed(piece)
            full.feed(piece)
        i0 += n
    preview_events += preview.finish()
    full.finish()
    # no detection: the calibration only (the same as the full analysis')
    assert [type(e).__name__ for e in preview_events] == ["CalibrationDone"]
    assert preview_events[0] in full.events
    a, b = preview.frames(), full.frames()
    assert len(a) == len(b) > 3000
    for name in ("t_s", "ankle_sagittal_deg", "shin_inclination_deg", "foot_pitch_deg"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert sum(isinstance(e, RepCompleted) for e in full.events) >= 5


def test_the_coach_draws_the_preview_and_counts_the_full_analysis(calf_session) -> None:
    """CoachState with the default analyzers: the ring holds the preview's rows, which equal
    the full analysis' channels; the reps are the full analysis' (``analyze_session``)."""
    from companion.analysis import analyze_session

    c = CoachState(calf_session.sensors, window_s=30.0)
    assert c.preview is not None
    shin, foot = (calf_session.chunks[s.sensor_id] for s in calf_session.sensors)
    for i0 in range(0, len(shin), 37):
        c.push(shin.slice(i0, i0 + 37))
        c.push(foot.slice(i0, i0 + 37))
    c.finish()
    batch = analyze_session(calf_session)
    assert [r.rep.t_start_s for r in c.reps] == [r.t_start_s for r in batch.reps]
    assert len(c.reps) >= 5
    ring = c.ring.filled()
    ch = batch.channels
    k = np.searchsorted(ch.t_s, ring[0, 0])
    np.testing.assert_array_equal(ring[:, 0], ch.t_s[k : k + ring.shape[0]])
    np.testing.assert_array_equal(ring[:, 1], ch.ankle_sagittal_deg[k : k + ring.shape[0]])
    assert c.drawn_t_s == ch.t_s[-1]
    assert c.latest_t_s == ch.t_s[-1]
