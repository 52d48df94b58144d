"""Truth annotations agree with the truth curves and with the scenario's script."""

from __future__ import annotations

import math

import numpy as np
import pytest

from companion.sim import Scenario, list_scenarios, simulate

REQUIRED = {
    "calf-raises",
    "calf-raises-rushed",
    "tibialis-raises",
    "stretch-straight",
    "stretch-bent",
    "stretch-bouncing",
    "stretch-knee-in",
    "lunge-test",
    "walking",
    "standing-still",
}


def _at(session, name: str, t: float) -> float:
    ref = session.references[name]
    return float(np.interp(t, ref.t_s, ref.values))


def test_builtins_listed_with_descriptions() -> None:
    listed = list_scenarios()
    assert REQUIRED <= set(listed)
    assert all(desc and "\n" not in desc for desc in listed.values())


@pytest.fixture(scope="module")
def calf():
    return simulate("calf-raises", seed=11)


def test_calf_raises_structure(calf) -> None:
    reps = [a for a in calf.annotations if a["kind"] == "truth.rep"]
    sets = [a for a in calf.annotations if a["kind"] == "truth.set"]
    assert len(reps) == 60
    assert [s["n_reps"] for s in sets] == [20, 20, 20]
    assert [s["set_index"] for s in sets] == [0, 1, 2]
    for s in sets:
        assert s["prescribed"] == {
            "rise_s": 1.0,
            "hold_s": 1.0,
            "lower_s": 3.0,
            "rest_s": 0.5,
            "rom_deg": 35.0,
        }
    # Sets are separated by the prescribed 60 s rest (plus getting in/out of position).
    assert sets[1]["t_start_s"] - sets[0]["t_end_s"] >= 60.0
    still = [a for a in calf.annotations if a["kind"] == "truth.still"]
    assert still[0]["t_start_s"] == 0.0
    assert still[0]["t_end_s"] == pytest.approx(3.0)
    pumps = [a for a in calf.annotations if a["kind"] == "truth.pumps"]
    assert pumps[0]["n_pumps"] == 3


def test_rep_phases_match_the_truth_curve(calf) -> None:
    name = "truth_ankle_sagittal_deg"
    for rep in (a for a in calf.annotations if a["kind"] == "truth.rep"):
        assert (
            rep["t_start_s"]
            < rep["t_rise_end_s"]
            <= rep["t_hold_end_s"]
            < rep["t_lower_end_s"]
            <= rep["t_end_s"]
        )
        for key, (a, b) in {
            "rise_s": ("t_start_s", "t_rise_end_s"),
            "hold_s": ("t_rise_end_s", "t_hold_end_s"),
            "lower_s": ("t_hold_end_s", "t_lower_end_s"),
            "rest_s": ("t_lower_end_s", "t_end_s"),
        }.items():
            assert rep[key] == pytest.approx(rep[b] - rep[a], abs=2e-6)
        # Prescribed tempo within the simulated person's variability (σ 4 %, clipped 2σ).
        assert rep["lower_s"] == pytest.approx(3.0, rel=0.081)
        assert rep["hold_s"] == pytest.approx(1.0, rel=0.081)
        assert rep["faults"] == []
        # The top plateau is the peak, the bottom is neutral, ROM is their difference.
        mid_hold = 0.5 * (rep["t_rise_end_s"] + rep["t_hold_end_s"])
        assert _at(calf, name, mid_hold) == pytest.approx(rep["peak_angle_deg"], abs=1e-4)
        assert _at(calf, name, rep["t_lower_end_s"]) == pytest.approx(0.0, abs=1e-4)
        assert rep["peak_angle_deg"] < -30.0
        assert rep["rom_deg"] == pytest.approx(rep["bottom_angle_deg"] - rep["peak_angle_deg"])
        # Monotone rise and lowering (no reversal inside a phase).
        ref = calf.references[name]
        rise = (ref.t_s > rep["t_start_s"]) & (ref.t_s < rep["t_rise_end_s"])
        lower = (ref.t_s > rep["t_hold_end_s"]) & (ref.t_s < rep["t_lower_end_s"])
        assert np.all(np.diff(ref.values[rise]) < 0)
        assert np.all(np.diff(ref.values[lower]) > 0)


def test_rushed_scenario_labels_faults_from_performed_tempo() -> None:
    session = simulate("calf-raises-rushed", seed=5)
    reps = [a for a in session.annotations if a["kind"] == "truth.rep"]
    by = {(r["set_index"], r["rep_index"]): r for r in reps}
    assert by[(0, 0)]["faults"] == []
    assert by[(0, 12)]["faults"] == ["rushed_lowering"]
    assert by[(0, 12)]["lower_s"] < 1.4
    assert by[(1, 0)]["faults"] == ["rushed_lowering", "no_hold"]
    assert by[(1, 0)]["hold_s"] == 0.0
    assert by[(2, 15)]["faults"] == ["rushed_lowering", "no_hold", "partial"]
    assert by[(2, 15)]["rom_deg"] < 0.8 * 35.0
    for r in reps:
        assert ("rushed_lowering" in r["faults"]) == (r["lower_s"] < 0.75 * 3.0)
        assert ("no_hold" in r["faults"]) == (r["hold_s"] < 0.5)


def test_tibialis_raise_top_is_dorsiflexion_heel_down() -> None:
    session = simulate("tibialis-raises", seed=2, duration_s=60.0)
    reps = [a for a in session.annotations if a["kind"] == "truth.rep"]
    assert reps
    for rep in reps:
        assert rep["exercise"] == "tibialis_raise"
        assert rep["peak_angle_deg"] > rep["bottom_angle_deg"] + 20.0
        mid_hold = 0.5 * (rep["t_rise_end_s"] + rep["t_hold_end_s"])
        # The shin stays leaning back against the wall while the toes lift.
        assert _at(session, "truth_shin_inclination_deg", mid_hold) == pytest.approx(-10.0)


@pytest.mark.parametrize(
    ("scenario", "knee", "lo", "hi", "bouncing", "knee_in"),
    [
        ("stretch-straight", "straight", 20.0, 27.0, False, False),
        ("stretch-bent", "bent", 30.0, 37.0, False, False),
        ("stretch-bouncing", "straight", 20.0, 30.0, True, False),
        ("stretch-knee-in", "bent", 30.0, 37.0, False, True),
    ],
)
def test_stretch_holds(scenario, knee, lo, hi, bouncing, knee_in) -> None:
    session = simulate(scenario, seed=0)
    holds = [a for a in session.annotations if a["kind"] == "truth.hold"]
    assert holds
    ref = session.references["truth_ankle_sagittal_deg"]
    for h in holds:
        assert h["exercise"] == "stretch"
        assert h["knee"] == knee
        assert h["bouncing"] is bouncing
        assert h["knee_in"] is knee_in
        assert h["t_end_s"] - h["t_start_s"] == pytest.approx(30.0)
        assert lo < h["hold_angle_deg"] < hi
        inside = (ref.t_s >= h["t_start_s"]) & (ref.t_s <= h["t_end_s"])
        assert np.mean(ref.values[inside]) == pytest.approx(h["hold_angle_deg"], abs=0.1)
        swing = h["hold_angle_max_deg"] - h["hold_angle_min_deg"]
        if bouncing:
            assert h["n_bounces"] == 36
            assert swing == pytest.approx(5.0, abs=0.3)
            # Count the bounces in the truth curve: local maxima above the mid-level.
            v = ref.values[inside]
            peaks = np.flatnonzero((v[1:-1] > v[:-2]) & (v[1:-1] >= v[2:]) & (v[1:-1] > v.mean()))
            assert len(peaks) == h["n_bounces"]
        else:
            assert h["n_bounces"] == 0
            assert swing < 3.5  # slow deepening on the out-breaths, no bouncing
        if knee_in:
            assert h["knee_tracking_deg"] == pytest.approx(-8.0, abs=0.5)
        else:
            assert h["knee_tracking_deg"] == pytest.approx(3.0, abs=0.5)


def test_bent_knee_stretch_has_toes_raised_and_shin_tilt_smaller_than_ankle() -> None:
    session = simulate("stretch-bent", seed=0)
    h = next(a for a in session.annotations if a["kind"] == "truth.hold")
    # Toes up 10° on the wall: the ankle angle is the shin tilt plus the foot's pitch.
    assert h["hold_angle_deg"] - h["shin_inclination_deg"] == pytest.approx(10.0, abs=0.2)


def test_lunge_and_negative_controls() -> None:
    lunge = simulate("lunge-test", seed=0)
    holds = [a for a in lunge.annotations if a["kind"] == "truth.hold"]
    assert [round(h["shin_inclination_deg"]) for h in holds] == [36, 40, 43]
    for name in ("walking", "standing-still", "squats"):
        s = simulate(name, seed=0)
        kinds = {a["kind"] for a in s.annotations}
        assert not kinds & {"truth.rep", "truth.set", "truth.hold"}, name
    walk = simulate("walking", seed=0)
    w = next(a for a in walk.annotations if a["kind"] == "truth.walk")
    assert w["n_strides"] == 30
    assert len(w["heel_strikes_s"]) == 30
    foot = walk.chunks["foot_left"]
    # Heel strikes: an upward jolt on the foot sensor near every strike.
    norm = np.linalg.norm(foot.acc_m_s2, axis=1)
    for ts in w["heel_strikes_s"][2:-2]:
        near = np.abs(foot.t_s - ts) < 0.05
        assert norm[near].max() > 20.0
    # Foot pitch cycles once per stride: the foot's pitch rate repeats every 1.1 s.
    inside = (foot.t_s > w["t_start_s"] + 3) & (foot.t_s < w["t_end_s"] - 3)
    v = foot.gyr_dps[inside, 1] - foot.gyr_dps[inside, 1].mean()
    lags = np.arange(50, 160)
    corr = [np.dot(v[:-lag], v[lag:]) / np.dot(v, v) for lag in lags]
    assert lags[int(np.argmax(corr))] == pytest.approx(110, abs=1)
    assert max(corr) > 0.8
    assert np.ptp(v) > 400.0  # hundreds of °/s: a swinging foot, not an exercise


def test_duration_repeats_and_cuts() -> None:
    once = simulate("stretch-bouncing", seed=1)
    long = simulate("stretch-bouncing", seed=1, duration_s=150.0)
    assert long.duration_s == pytest.approx(150.0)
    for chunk in long.chunks.values():
        assert len(chunk) == 15001
    holds = [a for a in long.annotations if a["kind"] == "truth.hold"]
    n_full = int(150.0 // once.duration_s)
    assert len(holds) in (n_full, n_full + 1)
    assert {h["repeat_index"] for h in holds} == set(range(len(holds)))
    assert all(h["t_end_s"] <= 150.0 for h in holds)
    stills = [a for a in long.annotations if a["kind"] == "truth.still"]
    assert len(stills) >= n_full
    short = simulate("calf-raises", seed=1, duration_s=30.0)
    assert short.duration_s == pytest.approx(30.0)
    assert all(a["t_end_s"] <= 30.0 for a in short.annotations)
    assert not [a for a in short.annotations if a["kind"] == "truth.set"]


def test_scenario_round_trips_through_dict() -> None:
    sc = Scenario.builtin("calf-raises-rushed")
    again = Scenario.from_dict(sc.to_dict(), source="round trip")
    assert again == sc
    assert math.isclose(sc.blocks[0].prescribed_rom_deg, 35.0)


def test_heel_rise_test_fades_to_partial_reps() -> None:
    session = simulate("heel-rise-test", seed=1)
    reps = [a for a in session.annotations if a["kind"] == "truth.rep"]
    (the_set,) = [a for a in session.annotations if a["kind"] == "truth.set"]
    assert the_set["test"] is True
    assert len(reps) == 26
    assert all(r["stance"] == "single" for r in reps)
    assert all(r["hold_s"] == 0.0 and r["rest_s"] == 0.0 for r in reps)  # 60 bpm, no pauses
    assert [("partial" in r["faults"]) for r in reps] == [False] * 22 + [True] * 4
    assert reps[-1]["rom_deg"] < reps[0]["rom_deg"] - 10.0
    # One leg: the knee drifts sideways at the top and is back over the foot at the bottom.
    knee = session.references["truth_knee_tracking_deg"]
    tops = [np.interp(r["t_rise_end_s"], knee.t_s, knee.values) for r in reps]
    bottoms = [np.interp(r["t_lower_end_s"], knee.t_s, knee.values) for r in reps]
    assert 0.5 < np.std(tops) < 3.0
    assert np.allclose(bottoms, 0.0, atol=1e-3)
    double = simulate("calf-raises", seed=1, duration_s=40.0)
    assert np.allclose(double.references["truth_knee_tracking_deg"].values, 0.0, atol=1e-9)
