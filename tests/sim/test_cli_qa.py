"""QA regressions of `companion simulate` and the simulator: seed and duration ranges, long
sessions, scenario-file limits, --out checks, and the plural of the truth summary."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.cli import main
from companion.errors import UsageError
from companion.sim import simulate
from companion.sim.scenario import Scenario, _Timeline, compile_scenario


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("seed", ["-1", "2.5", str(2**63)])
def test_bad_seed_is_one_line(seed: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "s.calf"
    argv = ["simulate", "--scenario", "calf-raises", "--seed", seed, "--out", str(out)]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "--seed" in _one_line(capsys.readouterr().err)
    assert not out.exists()


def test_simulate_refuses_a_negative_seed_from_python() -> None:
    with pytest.raises(UsageError, match="seed -1 is out of range"):
        simulate("standing-still", seed=-1)


def test_live_refuses_a_negative_seed(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["live", "--simulate", "--seed", "-1"])
    assert info.value.code == 2
    assert "--seed" in _one_line(capsys.readouterr().err)


def test_a_20000_s_stretch_session_compiles() -> None:
    """The hold's remainder late in a long session (1e-13 s) made two equal keyframe times."""
    sc = Scenario.builtin("stretch-bent")
    once, _ = compile_scenario(sc, side_sign=1.0, rng=np.random.default_rng(0))
    rng = np.random.default_rng(np.random.SeedSequence([0, 0x4D4F]))  # simulate()'s, seed 0
    repeats = math.ceil(20000.0 / once.duration_s)
    motion, annotations = compile_scenario(sc, side_sign=1.0, rng=rng, repeats=repeats)
    assert motion.duration_s >= 20000.0
    assert sum(a["kind"] == "truth.hold" for a in annotations) == 2 * repeats


@settings(max_examples=60, deadline=None)
@given(
    start=st.floats(0.0, 1e5),
    durations=st.lists(
        st.one_of(st.floats(1e-15, 1e-6), st.floats(1e-3, 100.0)), min_size=1, max_size=20
    ),
    moves=st.lists(st.booleans(), min_size=20, max_size=20),
)
def test_timeline_keyframes_stay_strictly_increasing(start, durations, moves) -> None:
    tl = _Timeline()
    tl.move(start, tl.pose) if start > 0 else None
    for i, d in enumerate(durations):
        if moves[i]:
            tl.move(d, tl.pose + 1.0)
        else:
            tl.hold(d)
    assert np.all(np.diff(tl.kf_t) > 0.0)
    assert tl.t == pytest.approx(start + sum(durations), abs=1e-5)


def test_duration_over_24_h_is_refused_at_once(tmp_path: Path, capsys) -> None:
    out = tmp_path / "s.calf"
    argv = ["simulate", "--scenario", "calf-raises", "--duration", "1e9", "--out", str(out)]
    assert main(argv) == 2
    assert "at most 86400 s" in _one_line(capsys.readouterr().err)
    with pytest.raises(UsageError, match="at most 86400 s"):
        simulate("calf-raises", duration_s=86400.5)
    assert not out.exists()


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ('kind = "stretch"\nhold_s = 1e7', "hold_s = 1e+07 is out of range; use 0 to 3600"),
        ('kind = "stretch"\ntoes_raised_deg = 500', "toes_raised_deg = 500 is out of range"),
        ('kind = "stretch"\nangle_deg = -90', "angle_deg = -90 is out of range"),
        ('kind = "calf_raises"\nsets = 5000', "sets = 5000 is too many"),
        ('kind = "calf_raises"\nsets = 100\nreps = 100', "100 sets × 100 reps is too many"),
        ('kind = "calf_raises"\nrom_deg = 120', "rom_deg = 120 is out of range"),
        ('kind = "still"\nduration_s = 4000', "duration_s = 4000 is out of range"),
    ],
)
def test_scenario_file_limits_are_one_line(
    block: str, message: str, tmp_path: Path, capsys
) -> None:
    scenario = tmp_path / "x.toml"
    scenario.write_text(f'name = "x"\n[[blocks]]\n{block}\n')
    out = tmp_path / "s.calf"
    assert main(["simulate", "--scenario", str(scenario), "--out", str(out)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert message in line
    assert "x.toml, block 0" in line
    assert not out.exists()


def test_every_builtin_scenario_is_within_the_limits() -> None:
    from companion.sim import list_scenarios

    for name in list_scenarios():
        Scenario.builtin(name)  # raises on a limit


def test_out_is_a_folder_or_in_a_missing_folder(tmp_path: Path, capsys) -> None:
    assert main(["simulate", "--scenario", "calf-raises", "--out", str(tmp_path)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "is a folder" in line
    assert "already exists" not in line
    missing = tmp_path / "nope" / "r.calf"
    assert main(["simulate", "--scenario", "calf-raises", "--out", str(missing)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "does not exist" in line
    assert "Create it first" in line
    assert not missing.parent.exists()


def test_truth_summary_uses_plurals(tmp_path: Path, capsys) -> None:
    out = tmp_path / "s.calf"
    argv = ["simulate", "--scenario", "calf-raises", "--duration", "30", "--out", str(out)]
    assert main(argv) == 0
    summary = capsys.readouterr().out.split("truth: ")[1].strip()
    assert "1 pumps" not in summary
    assert "1 ankle-pump block" in summary
    assert " rep," not in summary + ","  # 2 reps, never "2 rep"
    assert "2 reps" in summary


def test_count_nouns() -> None:
    from companion.commands.simulate import _count

    assert _count(1, "rep") == "1 rep"
    assert _count(60, "rep") == "60 reps"
    assert _count(3, "set") == "3 sets"
    assert _count(1, "set") == "1 set"
    assert _count(2, "pumps") == "2 ankle-pump blocks"
    assert _count(1, "hold") == "1 hold"


def test_too_many_samples_are_refused_before_sampling() -> None:
    """24 h at 100 Hz would need ~13 GB: refused with a sentence, at once."""
    import time

    t0 = time.monotonic()
    with pytest.raises(UsageError, match="samples per sensor"):
        simulate("calf-raises", duration_s=86400.0, sampling_rate_hz=100.0)
    with pytest.raises(UsageError, match="shorten the duration or lower the rate"):
        simulate("standing-still", duration_s=1000.0, sampling_rate_hz=2000.0)
    assert time.monotonic() - t0 < 10.0
