"""Batch analysis with the foot's AHRS loop in a forked child (``run_beside``): the same
events and channels as the in-process path, and the child is always reaped."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

sim = pytest.importorskip("companion.sim", reason="the simulator (companion.sim) is not available")

import companion.analysis.orientation as orientation  # noqa: E402
from companion.analysis import analyze_session  # noqa: E402


def _key(res) -> list[str]:
    return [repr(e) for e in res.events]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")
def test_forked_foot_gives_identical_results(monkeypatch: pytest.MonkeyPatch) -> None:
    if threading.active_count() != 1:
        pytest.skip("other threads are running in this test process: run_beside never forks then")
    ses = sim.simulate(
        "calf-raises", seed=4, duration_s=60.0, sensor_faults=sim.SensorFaults.realistic(4)
    )
    monkeypatch.setattr(orientation, "_BESIDE_MIN_SAMPLES", 10**12)
    serial = analyze_session(ses)
    forks: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(orientation, "_BESIDE_MIN_SAMPLES", 0)
    monkeypatch.setattr(orientation.os, "fork", counting_fork)
    forked = analyze_session(ses)
    assert len(forks) == 1
    # The child was reaped (waitpid in the parent): it no longer exists.
    with pytest.raises(ChildProcessError):
        os.waitpid(forks[0], os.WNOHANG)
    assert _key(forked) == _key(serial)
    assert len(forked.reps) == len(serial.reps) > 0
    for name, col in serial.channels.as_dict().items():
        other = forked.channels.as_dict()[name]
        same = np.array_equal(other, col, equal_nan=col.dtype.kind == "f")
        assert same, name


def test_failing_child_falls_back_to_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = os.getpid()

    def job() -> int:
        if os.getpid() != parent:
            raise RuntimeError("fails in the child only")
        return 42

    if not hasattr(os, "fork") or threading.active_count() != 1:
        pytest.skip("run_beside never forks here (no os.fork, or other threads running)")
    forks: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(orientation, "_BESIDE_MIN_SAMPLES", 0)
    monkeypatch.setattr(orientation.os, "fork", counting_fork)
    assert orientation.run_beside(job, 1)() == 42
    assert len(forks) == 1
