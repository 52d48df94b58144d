"""Continuous reps: no rest at the bottom, the next rise starting at the turnaround (the
heel-rise endurance test at 60 bpm, and rushed calf raises). Each rep must count, end at
the bottom turnaround, and have its rise / hold / lowering timed; streaming = batch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sim = pytest.importorskip("companion.sim", reason="the simulator (companion.sim) is not available")

from companion.analysis import SessionAnalyzer, analyze_session  # noqa: E402
from companion.model import Session  # noqa: E402

CONTINUOUS = """
description = "continuous calf raises for tests: no rest at the bottom"
[[blocks]]
kind = "calf_raise"
sets = 1
reps = 8
rise_s = 1.0
hold_s = 0.0
lower_s = 1.0
rest_s = 0.0
set_rest_s = 10.0
rom_deg = 30.0
"""


@pytest.fixture(scope="module")
def continuous(tmp_path_factory: pytest.TempPathFactory) -> Session:
    p = tmp_path_factory.mktemp("sc") / "continuous.toml"
    p.write_text(CONTINUOUS, encoding="utf-8")
    return sim.simulate(p, seed=2, sensor_faults=sim.SensorFaults.realistic(2))


def _truth_reps(session: Session) -> list[dict]:
    return [a for a in session.annotations if a["kind"] == "truth.rep"]


def _check_against_truth(res, truth: list[dict]) -> None:
    assert len(res.reps) == len(truth)
    for r, t in zip(res.reps, truth, strict=True):
        assert r.t_start_s == pytest.approx(t["t_start_s"], abs=0.1)
        assert r.rise_s == pytest.approx(t["rise_s"], abs=0.1)
        assert r.hold_s == pytest.approx(t["hold_s"], abs=0.1)
        assert r.lower_s == pytest.approx(t["lower_s"], abs=0.1)
    # Each rep ends at the bottom turnaround, where the next one starts.
    for a, b in zip(res.reps, res.reps[1:], strict=False):
        assert b.t_start_s - a.t_end_s == pytest.approx(0.0, abs=0.1)


def test_continuous_reps_each_count_with_phases(continuous: Session) -> None:
    truth = _truth_reps(continuous)
    assert len(truth) == 8
    assert all(t["rest_s"] == 0.0 for t in truth)
    _check_against_truth(analyze_session(continuous, exercise_hint="calf_raise"), truth)
    # Without a hint (reps and holds both looked for) the count and timing are the same.
    _check_against_truth(analyze_session(continuous), truth)


@pytest.mark.parametrize("seed", [0, 7])
def test_heel_rise_test_scenario_counts_every_rep(seed: int) -> None:
    ses = sim.simulate("heel-rise-test", seed=seed, sensor_faults=sim.SensorFaults.realistic(seed))
    truth = _truth_reps(ses)
    assert len(truth) == 26
    res = analyze_session(ses)
    _check_against_truth(res, truth)
    # The fading range: the last reps are partial, the first ones are not.
    assert [r.partial for r in res.reps] == ["partial" in t["faults"] for t in truth]


def _events_key(events) -> list:
    return [(type(e).__name__, round(e.t_s, 9), repr(getattr(e, "rep", None))) for e in events]


@settings(max_examples=3, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=1, max_size=20))
def test_continuous_streaming_equals_batch(continuous: Session, sizes: list[int]) -> None:
    batch = analyze_session(continuous)
    an = SessionAnalyzer(side="left")
    shin, foot = continuous.chunks["shin_left"], continuous.chunks["foot_left"]
    events = []
    pos = {"s": 0, "f": 0}
    k = 0
    sizes = [1, *sizes]
    while pos["s"] < len(shin) or pos["f"] < len(foot):
        n = sizes[k % len(sizes)]
        k += 1
        key, c = ("s", shin) if k % 2 else ("f", foot)
        if pos[key] >= len(c):
            key, c = ("f", foot) if key == "s" else ("s", shin)
        events += an.feed(c.slice(pos[key], pos[key] + n))
        pos[key] += n
    events += an.finish()
    assert _events_key(events) == _events_key(batch.events)
    assert sum(type(e).__name__ == "RepCompleted" for e in events) == 8
    assert np.array_equal(
        an.frames().ankle_sagittal_deg, batch.channels.ankle_sagittal_deg, equal_nan=True
    )
