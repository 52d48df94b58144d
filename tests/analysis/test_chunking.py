"""Streaming = batch, bit for bit, for any chunking: stretches (holds), losses (invalid rows
through the fast paths), a calf set with no exercise hint (reps and holds both running)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sim = pytest.importorskip("companion.sim", reason="the simulator (companion.sim) is not available")

from companion.analysis import SessionAnalyzer, analyze_session  # noqa: E402
from companion.model import Session  # noqa: E402


def _lossy(seed: int) -> sim.SensorFaults:
    f = sim.SensorFaults.realistic(seed)
    p = 0.03 / (4 * 0.97)
    return dataclasses.replace(
        f,
        shin=dataclasses.replace(f.shin, drop_probability=p, drop_burst_mean_samples=4.0),
        foot=dataclasses.replace(f.foot, drop_probability=p, drop_burst_mean_samples=4.0),
        preset="custom",
    )


def _holed(session: Session, spans: list[tuple[float, float]]) -> Session:
    """The foot's samples in ``spans`` blanked (NaN: gaps, as a disconnect leaves them)."""
    foot = session.chunks["foot_left"]
    acc = foot.acc_m_s2.copy()
    for a, b in spans:
        acc[(foot.t_s >= a) & (foot.t_s <= b)] = np.nan
    holed = dataclasses.replace(foot, acc_m_s2=acc)
    return Session(sensors=session.sensors, chunks={**session.chunks, "foot_left": holed})


@pytest.fixture(scope="module")
def sessions() -> dict[str, Session]:
    calf = sim.simulate("calf-raises", seed=5, duration_s=48.0, sensor_faults=_lossy(5))
    return {
        "stretch": sim.simulate(
            "stretch-bouncing", seed=4, duration_s=60.0, sensor_faults=sim.SensorFaults.realistic(4)
        ),
        # Short gaps (bridged), one inside a rep, one over a second (drops the rep), one at
        # the bottom.
        "lossy_calf": _holed(calf, [(20.0, 20.4), (31.0, 32.3), (38.2, 38.5)]),
    }


@pytest.fixture(scope="module")
def batches(sessions) -> dict:
    return {
        (w, h): analyze_session(s, exercise_hint=h)
        for w, s in sessions.items()
        for h in (None, "calf_raise")
    }


def _key(events) -> list:
    return [
        (type(e).__name__, e.t_s, repr(getattr(e, "rep", None)), repr(getattr(e, "hold", None)))
        for e in events
    ]


def _feed(session: Session, sizes: list[int], hint: str | None):
    an = SessionAnalyzer(side="left", exercise_hint=hint)
    shin, foot = session.chunks["shin_left"], session.chunks["foot_left"]
    events = []
    pos = {"s": 0, "f": 0}
    k = 0
    while pos["s"] < len(shin) or pos["f"] < len(foot):
        n = sizes[k % len(sizes)]
        k += 1
        key, c = ("s", shin) if k % 2 else ("f", foot)
        if pos[key] >= len(c):
            key, c = ("f", foot) if key == "s" else ("s", shin)
        events += an.feed(c.slice(pos[key], pos[key] + n))
        pos[key] += n
    events += an.finish()
    return an, events


@settings(max_examples=3, deadline=None)
@given(
    which=st.sampled_from(["stretch", "lossy_calf"]),
    hint=st.sampled_from([None, "calf_raise"]),
    sizes=st.lists(st.integers(1, 700), min_size=1, max_size=12),
)
def test_streaming_equals_batch(
    sessions, batches, which: str, hint: str | None, sizes: list[int]
) -> None:
    session = sessions[which]
    batch = batches[(which, hint)]
    an, events = _feed(session, [1, *sizes], hint)
    assert _key(events) == _key(batch.events)
    a, b = an.frames(), batch.channels
    for name in ("ankle_sagittal_deg", "knee_tracking_deg", "ankle_velocity_dps"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True)
    assert list(a.phase) == list(b.phase)
    assert list(a.rep) == list(b.rep)


def test_the_fixtures_exercise_holds_and_gaps(batches) -> None:
    # Guard against a vacuous chunking test: a hold and reps are found, and the lossy
    # session really has invalid rows inside its set.
    assert batches[("stretch", None)].holds
    res = batches[("lossy_calf", None)]
    assert res.reps
    assert (~res.channels.valid).sum() > 100
