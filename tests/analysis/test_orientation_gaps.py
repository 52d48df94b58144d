"""Lost samples inside a movement: the orientation is bridged on the gyroscope alone."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from companion.analysis import analyze_session

sim = pytest.importorskip("companion.sim", reason="the simulator is not available")

SCENARIO = """
ankle_pumps = 0
description = "three slow calf raises"
[[blocks]]
kind = "calf_raise"
sets = 1
reps = 3
rise_s = 1.0
hold_s = 1.0
lower_s = 4.0
rest_s = 1.0
set_rest_s = 10.0
rom_deg = 35.0
"""


def _without(chunk, t0_s: float, t1_s: float):
    keep = ~((chunk.t_s > t0_s) & (chunk.t_s < t1_s))
    return dataclasses.replace(
        chunk,
        t_s=chunk.t_s[keep],
        acc_m_s2=chunk.acc_m_s2[keep],
        gyr_dps=chunk.gyr_dps[keep],
        counter=None if chunk.counter is None else chunk.counter[keep],
    )


@pytest.mark.parametrize("gap_s", [0.05, 0.15, 0.27])
@pytest.mark.parametrize("sensor", ["foot_left", "shin_left"])
def test_a_gap_in_a_lowering_does_not_tilt_the_angle(tmp_path: Path, gap_s: float, sensor: str):
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    faults = sim.SensorFaults.realistic(5)
    no_drops = dataclasses.replace(
        faults,
        shin=dataclasses.replace(faults.shin, drop_probability=0.0),
        foot=dataclasses.replace(faults.foot, drop_probability=0.0),
        preset="custom",
    )
    ses = sim.simulate(path, seed=5, sensor_faults=no_drops)
    rep = [a for a in ses.annotations if a["kind"] == "truth.rep"][1]
    t_mid = 0.5 * (rep["t_hold_end_s"] + rep["t_lower_end_s"])  # the fastest part
    cut = dataclasses.replace(
        ses, chunks={**ses.chunks, sensor: _without(ses.chunks[sensor], t_mid, t_mid + gap_s)}
    )
    whole = analyze_session(ses).channels
    gapped = analyze_session(cut).channels
    after = (whole.t_s > t_mid + gap_s + 0.05) & (whole.t_s < t_mid + gap_s + 1.0)
    assert np.all(gapped.valid[after])
    diff = gapped.ankle_sagittal_deg[after] - whole.ankle_sagittal_deg[after]
    # One long AHRS step fed the post-gap specific force for the whole gap: 0.7 deg after
    # a 0.27 s foot gap. Bridged on the gyroscope: a few hundredths.
    assert float(np.max(np.abs(diff))) < 0.1


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_a_long_gap_over_the_end_of_a_rise_is_resolved_at_the_top(tmp_path: Path, seed: int):
    """A gap hiding the deceleration cannot be bridged from the rates at its ends; the
    first still sample after it gives the tilt."""
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    faults = sim.SensorFaults.realistic(seed)
    no_drops = dataclasses.replace(
        faults,
        shin=dataclasses.replace(faults.shin, drop_probability=0.0),
        foot=dataclasses.replace(faults.foot, drop_probability=0.0),
        preset="custom",
    )
    ses = sim.simulate(path, seed=seed, sensor_faults=no_drops)
    rep = [a for a in ses.annotations if a["kind"] == "truth.rep"][1]
    t0, t1 = rep["t_rise_end_s"] - 0.3, rep["t_rise_end_s"] + 0.15
    cut = dataclasses.replace(
        ses, chunks={**ses.chunks, "foot_left": _without(ses.chunks["foot_left"], t0, t1)}
    )
    whole = analyze_session(ses).channels
    gapped = analyze_session(cut).channels
    top = (whole.t_s > t1 + 0.1) & (whole.t_s < rep["t_hold_end_s"])
    diff = gapped.ankle_sagittal_deg[top] - whole.ankle_sagittal_deg[top]
    # Bridged on the rates at its ends alone: 4.9 deg off on seed 5.
    assert float(np.max(np.abs(diff))) < 0.5
