"""The analysis on real public recordings in ../shared/data (read in place, never copied)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from companion.analysis import analyze_session, gyro_sagittal_angle

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
ENCODER = DATA / "ankle_encoder_shank_foot_mpu6050" / "parsed"
MOCAP = DATA / "calf_raise_mocap_loadsol"


def _principal_axis(g: np.ndarray) -> np.ndarray:
    _, vecs = np.linalg.eigh(g.T @ g)
    a = vecs[:, -1]
    return a * np.sign(a[2])


@pytest.mark.skipif(not ENCODER.is_dir(), reason=f"real encoder data not found at {ENCODER}")
def test_gyro_path_tracks_the_optical_encoder() -> None:
    with gzip.open(ENCODER / "LOG25.csv.gz", "rt") as fh:
        head = fh.readline().strip().split(",")
        arr = np.loadtxt(fh, delimiter=",")
    col = {h: i for i, h in enumerate(head)}
    t = arr[:, col["time_ms"]] / 1000.0
    keep = np.concatenate([[True], np.diff(t) > 0])
    arr, t = arr[keep], t[keep]
    enc = arr[:, col["angle_deg"]]
    foot = arr[:, [col["mpu1_gx"], col["mpu1_gy"], col["mpu1_gz"]]]
    shank = arr[:, [col["mpu2_gx"], col["mpu2_gy"], col["mpu2_gz"]]]
    est = -gyro_sagittal_angle(
        t, shank, foot, _principal_axis(shank), _principal_axis(foot), highpass_hz=0.2
    )
    z = np.array([0.0, 0.0, 1.0])
    enc_hp = gyro_sagittal_angle(
        t, np.gradient(enc, t)[:, None] * z, np.zeros_like(foot), z, z, highpass_hz=0.2
    )
    r = float(np.corrcoef(est, enc_hp)[0, 1])
    rmse = float(np.sqrt(np.mean((est - enc_hp) ** 2)))
    assert r > 0.95
    assert rmse < 2.5


@pytest.mark.skipif(not MOCAP.is_dir(), reason=f"real mocap data not found at {MOCAP}")
@pytest.mark.parametrize(("name", "surface"), [("Subject07G", "floor"), ("Subject04E", "step")])
def test_real_calf_raise_counts_one_rep(name: str, surface: str) -> None:
    sim = pytest.importorskip("companion.sim", reason="the simulator is not available")
    trial = sim.load_mocap_trial(MOCAP / f"{name}.csv")
    ses = sim.from_angle_curve(
        trial.t_s, trial.flexion_deg, exercise="calf_raise", seed=1, surface=surface
    )
    res = analyze_session(ses)
    assert len(res.reps) == 1
    rep = res.reps[0]
    assert rep.exercise == "calf_raise"
    if surface == "floor":
        # Heel-off / heel-on from the insole (session time = trial time - t0 + 4 s).
        off = float(trial.t_s[0]) - 4.0
        unloaded = np.flatnonzero(np.nan_to_num(trial.heel_force_n, nan=np.inf) < 10.0)
        runs = np.split(unloaded, np.flatnonzero(np.diff(unloaded) > 1) + 1)
        run = max(runs, key=len)
        t_off = float(trial.t_s[run[0]]) - off
        t_on = float(trial.t_s[run[-1] + 1]) - off
        assert rep.t_start_s == pytest.approx(t_off, abs=0.25)
        assert rep.t_lower_end_s == pytest.approx(t_on, abs=0.25)


_GROUNDED = sorted(p.stem for p in MOCAP.glob("Subject*G.csv")) if MOCAP.is_dir() else []


@pytest.mark.skipif(not _GROUNDED, reason=f"real mocap data not found at {MOCAP}")
@pytest.mark.parametrize("name", _GROUNDED)
def test_rise_and_lowering_match_the_heel_insole_within_0_1_s(name: str) -> None:
    """Issue 5's done-when on every floor trial: the rise starts within 0.1 s of the
    insole's heel-off and the lowering ends within 0.1 s of its heel-on."""
    sim = pytest.importorskip("companion.sim", reason="the simulator is not available")
    trial = sim.load_mocap_trial(MOCAP / f"{name}.csv")
    events = sim.heel_events(trial)
    assert events is not None
    off = float(trial.t_s[0]) - 4.0  # session time = trial time - t0 + 4 s
    ses = sim.from_angle_curve(
        trial.t_s, trial.flexion_deg, exercise="calf_raise", seed=1, surface="floor"
    )
    (rep,) = analyze_session(ses).reps
    assert rep.t_start_s == pytest.approx(events[0] - off, abs=0.1)
    assert rep.t_lower_end_s == pytest.approx(events[1] - off, abs=0.1)


def test_heel_events_from_a_synthetic_insole() -> None:
    sim = pytest.importorskip("companion.sim", reason="the simulator is not available")
    t = np.arange(500) / 100.0
    force = np.full(500, 200.0)
    force[120:125] = 5.0  # a brief unloading (a wobble) ...
    force[200:380] = 3.0  # ... and the heel-off interval, the longest run
    trial = sim.mocap.MocapTrial(
        path="synthetic",
        t_s=t,
        flexion_deg=np.zeros(500),
        inversion_deg=np.zeros(500),
        heel_force_n=force,
        grounded=True,
    )
    assert sim.heel_events(trial) == (2.0, 3.8)
    step = sim.mocap.MocapTrial(
        path="synthetic",
        t_s=t,
        flexion_deg=np.zeros(500),
        inversion_deg=np.zeros(500),
        heel_force_n=np.zeros(500),
        grounded=False,
    )
    assert sim.heel_events(step) is None
    flat = sim.mocap.MocapTrial(
        path="synthetic",
        t_s=t,
        flexion_deg=np.zeros(500),
        inversion_deg=np.zeros(500),
        heel_force_n=np.full(500, 200.0),
        grounded=True,
    )
    assert sim.heel_events(flat) is None
