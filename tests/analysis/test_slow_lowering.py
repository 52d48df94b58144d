"""Slow lowerings (4 s and more, as heavy slow resistance prescribes): the rep must not be
measured before the lowering's gentle tail has ended, or its fit sees a cut-off tail and the
lowering comes out tenths of a second short."""

from __future__ import annotations

import pytest

sim = pytest.importorskip("companion.sim", reason="the simulator (companion.sim) is not available")

from companion.analysis import analyze_session  # noqa: E402

SLOW = """
ankle_pumps = 0
description = "slow lowerings for tests"
[[blocks]]
kind = "calf_raise"
sets = 1
reps = 6
rise_s = 1.0
hold_s = 1.0
lower_s = {lower}
rest_s = 0.5
set_rest_s = 10.0
rom_deg = 35.0
"""


@pytest.mark.parametrize(("lower_s", "seed"), [(4.2, 429497919), (5.0, 1)])
def test_slow_lowering_is_timed_to_its_end(tmp_path, lower_s: float, seed: int) -> None:
    p = tmp_path / "slow.toml"
    p.write_text(SLOW.format(lower=lower_s), encoding="utf-8")
    # Ideal sensors: what is left is the segmentation, not the sensor errors.
    ses = sim.simulate(p, seed=seed, sensor_faults=sim.SensorFaults.none())
    truth = [a for a in ses.annotations if a["kind"] == "truth.rep"]
    res = analyze_session(ses, exercise_hint="calf_raise")
    assert len(res.reps) == len(truth) == 6
    for r, t in zip(res.reps, truth, strict=True):
        assert r.t_hold_end_s == pytest.approx(t["t_hold_end_s"], abs=0.1)
        assert r.t_lower_end_s == pytest.approx(t["t_lower_end_s"], abs=0.1)
        assert r.lower_s == pytest.approx(t["lower_s"], abs=0.1)
