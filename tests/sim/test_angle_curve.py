"""Sensor signals synthesised from measured calf-raise angle curves (real mocap data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from companion.errors import ImportFormatError, UsageError
from companion.sim import from_angle_curve, load_mocap_trial
from tests.sim._helpers import integrate_body_rates, sagittal_from

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "calf_raise_mocap_loadsol"
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"public mocap data folder {DATA} is absent on this machine"
)


@needs_data
@pytest.mark.parametrize("name", ["Subject01G.csv", "Subject05E.csv", "Subject10G.csv"])
def test_mocap_trial_to_imu_and_back(name: str) -> None:
    trial = load_mocap_trial(DATA / name)
    surface = "floor" if trial.grounded else "step"
    s = from_angle_curve(
        trial.t_s,
        trial.flexion_deg,
        frontal_deg=trial.inversion_deg,
        side="right",
        surface=surface,
        name=name,
    )
    assert set(s.chunks) == {"shin_right", "foot_right"}
    curve = next(a for a in s.annotations if a["kind"] == "truth.curve")
    ref = s.references["truth_ankle_sagittal_deg"]
    # The truth is the measured curve, re-zeroed at standing (and lightly smoothed).
    finite = np.isfinite(trial.flexion_deg)
    t_rel = trial.t_s - trial.t_s[0] + curve["t_start_s"]
    want = trial.flexion_deg[finite] - curve["neutral_deg"]
    got = np.interp(t_rel[finite], ref.t_s, ref.values)
    assert np.sqrt(np.mean((got - want) ** 2)) < 1.5
    assert np.min(ref.values) < -20.0  # a real calf raise's plantarflexion
    # And the synthesised gyroscopes carry exactly that truth.
    shin, foot = s.chunks["shin_right"], s.chunks["foot_right"]
    r_s = integrate_body_rates(shin.t_s, shin.gyr_dps, Rotation.identity())
    r_f = integrate_body_rates(foot.t_s, foot.gyr_dps, Rotation.identity())
    assert np.sqrt(np.mean((sagittal_from(r_s, r_f) - ref.values) ** 2)) < 0.5
    # Calibration stance first: gravity only.
    still = shin.t_s < 2.9
    assert np.allclose(np.linalg.norm(shin.acc_m_s2[still], axis=1), 9.80665)


@needs_data
def test_corrupt_export_gives_one_line() -> None:
    with pytest.raises(ImportFormatError, match=r"Subject03E\.csv: line") as info:
        load_mocap_trial(DATA / "Subject03E.csv")
    assert "\n" not in str(info.value)


def test_synthetic_curve_with_short_nan_gap_is_bridged() -> None:
    t = np.arange(0.0, 5.0, 0.01)
    angle = -30.0 * np.exp(-(((t - 2.5) / 0.6) ** 2))
    angle[200:205] = np.nan
    s = from_angle_curve(t, angle)
    ref = s.references["truth_ankle_sagittal_deg"]
    assert np.min(ref.values) == pytest.approx(-30.0, abs=0.5)
    angle[100:150] = np.nan
    with pytest.raises(UsageError, match="gap of 50 missing samples"):
        from_angle_curve(t, angle)
    with pytest.raises(UsageError, match="unknown exercise"):
        from_angle_curve(t, np.zeros_like(t), exercise="hop")


def test_stretch_curve_tilts_the_shin() -> None:
    t = np.arange(0.0, 10.0, 0.01)
    angle = 25.0 * np.clip((t - 2.0) / 2.0, 0.0, 1.0)
    s = from_angle_curve(t, angle, exercise="stretch", neutral_deg=0.0, lowpass_hz=2.0)
    inc = s.references["truth_shin_inclination_deg"].values
    sag = s.references["truth_ankle_sagittal_deg"].values
    assert np.allclose(inc, sag, atol=1e-9)  # foot flat: the ankle angle is the shin tilt
    assert np.max(sag) == pytest.approx(25.0, abs=0.5)
