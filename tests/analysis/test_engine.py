"""The engine against the simulator's truth: counts, phases, chunking, negative controls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sim = pytest.importorskip("companion.sim", reason="the simulator (companion.sim) is not available")

from companion.analysis import (  # noqa: E402
    HoldEnded,
    RepCompleted,
    SessionAnalyzer,
    analyze_session,
)
from companion.model import ImuChunk, Session  # noqa: E402

SHORT_CALF = """
description = "short calf-raise set for tests"
[[blocks]]
kind = "calf_raise"
sets = 1
reps = 5
rise_s = 1.0
hold_s = 1.0
lower_s = 3.0
rest_s = 0.5
set_rest_s = 10.0
rom_deg = 35.0
"""


def _scenario(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "scenario.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def short_calf(tmp_path_factory: pytest.TempPathFactory) -> Session:
    p = _scenario(tmp_path_factory.mktemp("sc"), SHORT_CALF)
    return sim.simulate(p, seed=3, sensor_faults=sim.SensorFaults.realistic(3))


def _truth(session: Session, kind: str) -> list[dict]:
    return [a for a in session.annotations if a["kind"] == kind]


def test_short_calf_set_count_is_exact(short_calf: Session) -> None:
    res = analyze_session(short_calf)
    assert len(res.reps) == len(_truth(short_calf, "truth.rep"))


def test_short_calf_set_phases(short_calf: Session) -> None:
    res = analyze_session(short_calf)
    truth = _truth(short_calf, "truth.rep")
    assert res.reps
    assert all(r.exercise == "calf_raise" for r in res.reps)
    for r in res.reps:
        t = min(truth, key=lambda a: abs(a["t_start_s"] - r.t_start_s))
        assert r.t_start_s == pytest.approx(t["t_start_s"], abs=0.1)
        assert r.hold_s == pytest.approx(t["hold_s"], abs=0.1)
        assert r.lower_s == pytest.approx(t["lower_s"], abs=0.1)
    assert not res.calibration.flagged_fallback


def test_short_calf_set_angle_and_rom(short_calf: Session) -> None:
    res = analyze_session(short_calf)
    truth = _truth(short_calf, "truth.rep")
    for r in res.reps:
        t = min(truth, key=lambda a: abs(a["t_start_s"] - r.t_start_s))
        assert r.rom_deg == pytest.approx(t["rom_deg"], abs=3.0)
    ref = short_calf.references["truth_ankle_sagittal_deg"]
    ch = res.channels
    tr = np.interp(ch.t_s, ref.t_s, ref.values)
    rmse = float(np.sqrt(np.mean((ch.ankle_sagittal_deg[ch.valid] - tr[ch.valid]) ** 2)))
    assert rmse < 1.5


def test_rep_completed_arrives_within_half_a_second(short_calf: Session) -> None:
    an = SessionAnalyzer(side="left")
    shin, foot = short_calf.chunks["shin_left"], short_calf.chunks["foot_left"]
    n = max(len(shin), len(foot))
    arrivals = []
    step = 5
    for k in range(0, n, step):
        for c in (shin, foot):
            for e in an.feed(c.slice(k, k + step)):
                if isinstance(e, RepCompleted):
                    arrivals.append(
                        (
                            e.rep,
                            float(
                                min(
                                    shin.t_s[min(k + step, len(shin)) - 1],
                                    foot.t_s[min(k + step, len(foot)) - 1],
                                )
                            ),
                        )
                    )
    an.finish()
    # Calibration ends during the first reps; after it, every rep is reported promptly.
    late = [
        (r.t_end_s, t)
        for r, t in arrivals
        if r.t_start_s > an.calibration.t_done_s and t - r.t_end_s > 0.5
    ]
    assert arrivals
    assert late == []


def _events_key(events) -> list:
    out = []
    for e in events:
        out.append(
            (
                type(e).__name__,
                round(e.t_s, 9),
                repr(getattr(e, "rep", None)),
                repr(getattr(e, "hold", None)),
            )
        )
    return out


@settings(max_examples=3, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=1, max_size=30))
def test_streaming_equals_batch_for_any_chunking(short_calf: Session, sizes: list[int]) -> None:
    batch = analyze_session(short_calf)
    an = SessionAnalyzer(side="left")
    shin, foot = short_calf.chunks["shin_left"], short_calf.chunks["foot_left"]
    events = []
    pos = {"s": 0, "f": 0}
    k = 0
    sizes = [1, *sizes]  # always include 1-sample chunks
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
    assert np.array_equal(
        an.frames().ankle_sagittal_deg, batch.channels.ankle_sagittal_deg, equal_nan=True
    )


@pytest.mark.parametrize("name", ["walking", "standing-still"])
def test_negative_controls_give_no_calf_raise(name: str) -> None:
    res = analyze_session(sim.simulate(name, seed=1, sensor_faults=sim.SensorFaults.realistic(1)))
    assert [r for r in res.reps if r.exercise == "calf_raise"] == []


def test_gap_creates_no_fake_rep(short_calf: Session) -> None:
    # Blank 0.6 s of the foot in the middle of the set (a disconnect).
    foot = short_calf.chunks["foot_left"]
    keep = (foot.t_s < 20.0) | (foot.t_s > 20.6)
    acc = foot.acc_m_s2.copy()
    acc[~keep] = np.nan  # NaN samples are gaps, never data
    holed = ImuChunk(
        sensor_id=foot.sensor_id,
        placement=foot.placement,
        t_s=foot.t_s,
        acc_m_s2=acc,
        gyr_dps=foot.gyr_dps,
    )
    s2 = Session(sensors=short_calf.sensors, chunks={**short_calf.chunks, "foot_left": holed})
    res = analyze_session(s2)
    truth = _truth(short_calf, "truth.rep")
    assert len(res.reps) <= len(truth)
    for r in res.reps:
        assert np.isfinite([r.t_start_s, r.t_end_s, r.rom_deg, r.lower_s]).all()
        assert any(abs(r.t_start_s - t["t_start_s"]) < 0.15 for t in truth)


def test_bouncing_is_detected() -> None:
    ses = sim.simulate("stretch-bouncing", seed=2, sensor_faults=sim.SensorFaults.realistic(2))
    res = analyze_session(ses)
    holds = [e.hold for e in res.events if isinstance(e, HoldEnded)]
    assert len(holds) == 1
    assert holds[0].bouncing
    assert any(w.kind == "bounce" for w in res.warnings)
    calm = analyze_session(
        sim.simulate("stretch-straight", seed=2, sensor_faults=sim.SensorFaults.realistic(2))
    )
    assert calm.holds
    assert not any(h.bouncing for h in calm.holds)


def _finite_event_numbers(events) -> bool:
    import dataclasses as dc

    for e in events:
        for f in dc.fields(e):
            v = getattr(e, f.name)
            inner = [v] if not dc.is_dataclass(v) else [getattr(v, g.name) for g in dc.fields(v)]
            for x in inner:
                if isinstance(x, float) and not np.isfinite(x):
                    return False
    return True


def test_knee_caving_in_is_detected_and_mirrored() -> None:
    for side in ("left", "right"):
        ses = sim.simulate(
            "stretch-knee-in", seed=4, side=side, sensor_faults=sim.SensorFaults.realistic(4)
        )
        res = analyze_session(ses)
        assert len(res.holds) == 1, side
        h = res.holds[0]
        assert h.knee_in, side
        assert h.knee_tracking_mean_deg == pytest.approx(-8.0, abs=2.0)
        assert any(w.kind == "knee_in" for w in res.warnings)
        assert _finite_event_numbers(res.events)
    calm = analyze_session(
        sim.simulate(
            "stretch-bent", seed=4, side="right", sensor_faults=sim.SensorFaults.realistic(4)
        )
    )
    assert calm.holds
    assert not any(h.knee_in for h in calm.holds)


def test_right_leg_counts_and_signs(tmp_path: Path) -> None:
    ses = sim.simulate(
        _scenario(tmp_path, SHORT_CALF),
        seed=5,
        side="right",
        sensor_faults=sim.SensorFaults.realistic(5),
    )
    res = analyze_session(ses)
    assert res.side == "right"
    assert len(res.reps) == 5
    assert all(r.exercise == "calf_raise" and r.peak_angle_deg < -25.0 for r in res.reps)


def test_no_stance_gives_a_flagged_fallback(short_calf: Session) -> None:
    # Start the recording at the first rise: no stance at all, only the short pauses at the
    # bottom of the reps. The analysis must still run, flagged.
    t0 = _truth(short_calf, "truth.rep")[0]["t_start_s"] - 0.05
    chunks = {}
    for sid, c in short_calf.chunks.items():
        k = int(np.searchsorted(c.t_s, t0))
        chunks[sid] = c.slice(k, len(c))
    res = analyze_session(Session(sensors=short_calf.sensors, chunks=chunks))
    assert res.calibration is not None
    assert res.calibration.flagged_fallback
    assert any(w.kind == "calibration_fallback" for w in res.warnings)


def test_reps_without_a_top_hold(tmp_path: Path) -> None:
    # Rise and lowering meet at the top: the hold must come out ~0, not a made-up plateau.
    text = SHORT_CALF.replace("hold_s = 1.0", "hold_s = 0.0").replace(
        "lower_s = 3.0", "lower_s = 2.5"
    )
    ses = sim.simulate(
        _scenario(tmp_path, text), seed=6, sensor_faults=sim.SensorFaults.realistic(6)
    )
    res = analyze_session(ses, exercise_hint="calf_raise")
    truth = _truth(ses, "truth.rep")
    assert len(res.reps) == len(truth)
    for r, t in zip(res.reps, truth, strict=True):
        assert r.hold_s == pytest.approx(t["hold_s"], abs=0.1)
        assert r.lower_s == pytest.approx(t["lower_s"], abs=0.1)
        assert r.no_hold
