"""``companion simulate``: writes a session that loads back with its truth; refuses overwrite."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from companion.commands import simulate as cmd
from companion.errors import CompanionError, UsageError


def _run(argv: list[str]) -> int:
    # A parser with only this command, so the test does not depend on the other commands.
    parser = argparse.ArgumentParser(prog="companion")
    sub = parser.add_subparsers(dest="command")
    cmd.register(sub)
    args = parser.parse_args(["simulate", *argv])
    return args.func(args)


def test_list_names_builtins(capsys) -> None:
    assert _run(["--list"]) == 0
    out = capsys.readouterr().out
    for name in ("calf-raises", "stretch-knee-in", "walking", "lunge-test"):
        assert name in out


def test_writes_a_session_with_truth(tmp_path, capsys) -> None:
    storage = pytest.importorskip("companion.storage")
    out = tmp_path / "s.calf"
    rc = _run(
        ["--scenario", "stretch-bouncing", "--seed", "3", "--duration", "40", "--out", str(out)]
    )
    assert rc == 0
    assert "wrote" in capsys.readouterr().out
    session = storage.load_session(out)
    assert session.source == "simulator"
    assert session.extra["seed"] == 3
    assert "truth_ankle_sagittal_deg" in session.references
    assert any(a["kind"] == "truth.still" for a in session.annotations)
    assert session.duration_s == pytest.approx(40.0)
    from companion.sim import simulate

    direct = simulate("stretch-bouncing", seed=3, duration_s=40.0)
    for sid, chunk in direct.chunks.items():
        assert np.allclose(session.chunks[sid].gyr_dps, chunk.gyr_dps)


def test_refuses_to_overwrite(tmp_path) -> None:
    out = tmp_path / "s.calf"
    out.write_bytes(b"keep me")
    with pytest.raises(CompanionError, match="already exists"):
        _run(["--scenario", "calf-raises", "--out", str(out)])
    assert out.read_bytes() == b"keep me"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scenario", "calf-raise", "--out", "X"], "built-in scenarios: calf-raises"),
        (["--out", "X"], "no scenario given"),
        (["--scenario", "calf-raises"], "no output file"),
        (["--scenario", "calf-raises", "--duration", "-3", "--out", "X"], "not a positive"),
        (["--scenario", "calf-raises", "--rate", "1", "--out", "X"], "out of range"),
    ],
)
def test_bad_arguments_give_one_line(tmp_path, argv, message) -> None:
    argv = [str(tmp_path / "o.calf") if a == "X" else a for a in argv]
    with pytest.raises(UsageError, match=message) as info:
        _run(argv)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "o.calf").exists()


def test_quaternions_and_realistic_faults_round_trip(tmp_path) -> None:
    storage = pytest.importorskip("companion.storage")
    out = tmp_path / "q.calf"
    argv = ["--scenario", "tibialis-raises", "--seed", "4", "--duration", "20"]
    assert _run([*argv, "--faults", "realistic", "--quaternions", "--out", str(out)]) == 0
    session = storage.load_session(out)
    from companion.sim import SensorFaults, simulate

    direct = simulate(
        "tibialis-raises",
        seed=4,
        duration_s=20.0,
        sensor_faults=SensorFaults.realistic(4),
        quaternions=True,
    )
    assert session.extra["faults"]["preset"] == "realistic"
    assert [g.to_dict() for g in session.gaps] == [g.to_dict() for g in direct.gaps]
    for sid, chunk in direct.chunks.items():
        got = session.chunks[sid]
        assert got.quat_wxyz is not None
        assert np.allclose(got.quat_wxyz, chunk.quat_wxyz)
        assert np.array_equal(got.counter, chunk.counter)
