"""`companion live` / `companion replay` from the command line, offscreen, and the bundled
recordings replayed in the window against `companion score`."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.cli import main
from companion.storage import load_session

REPO = Path(__file__).resolve().parents[2]
RECORDINGS = REPO / "recordings"


def test_no_display_says_so_in_one_line_and_points_at_score(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert main(["live", "--simulate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "no display" in err[0]
    assert "companion score recordings/" in err[0]
    if RECORDINGS.is_dir():
        named = err[0].split("companion score ")[1].split("`")[0]
        assert (REPO / named).is_file()


def test_live_simulate_writes_a_screenshot(tmp_path: Path, capsys) -> None:
    out = tmp_path / "live.png"
    code = main(
        [
            "live",
            "--simulate",
            "standing-still",
            "--speed",
            "16",
            "--duration",
            "1.5",
            "--screenshot",
            str(out),
        ]
    )
    assert code == 0
    assert out.stat().st_size > 10_000
    assert f"screenshot: {out}" in capsys.readouterr().out


def test_unknown_scenario_and_bad_plan_are_one_line_errors(capsys) -> None:
    assert main(["live", "--simulate", "no-such-scenario", "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert "no simulator scenario called 'no-such-scenario'" in err
    assert "Traceback" not in err
    assert main(["live", "--simulate", "--plan", "nope.toml", "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert "nope.toml" in err
    assert len(err.strip().splitlines()) == 1


def test_unwritable_screenshot_is_one_line(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(
        [
            "live",
            "--simulate",
            "standing-still",
            "--speed",
            "16",
            "--duration",
            "0.3",
            "--screenshot",
            str(blocker / "sub" / "x.png"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "does not exist" in err
    assert len(err.strip().splitlines()) == 1


def test_replay_command_to_the_end_shows_the_report(tmp_path: Path, capsys) -> None:
    if not (RECORDINGS / "stretch-bouncing.calf").is_file():
        pytest.skip("recordings/stretch-bouncing.calf is not bundled in this checkout")
    out = tmp_path / "end.png"
    code = main(
        [
            "replay",
            str(RECORDINGS / "stretch-bouncing.calf"),
            "--start",
            "end",
            "--duration",
            "2",
            "--screenshot",
            str(out),
        ]
    )
    assert code == 0
    assert out.is_file()


def _bundled() -> list:
    files = sorted(RECORDINGS.glob("*.calf")) if RECORDINGS.is_dir() else []
    assert files, f"no bundled recordings in {RECORDINGS}"
    return [pytest.param(f, id=f.name) for f in files]


@pytest.mark.parametrize("path", _bundled())
def test_bundled_recording_replays_with_the_same_reps_and_verdicts_as_score(path: Path) -> None:
    from companion.sources.replay import ReplaySource
    from companion.ui.coach import load_targets
    from tests.ui._drive import run, until

    session = load_session(path)
    targets, _ = load_targets(None, session.plan)
    source = ReplaySource(session, speed=1.0)

    async def script(w) -> None:
        w.seek_to(source.t_end_s)
        await until(lambda: w.summary_ready, 60.0, "the end-of-session report")

    w = run(source, script, targets=targets).window
    assert w.score_doc is not None  # the window's own report
    # `companion score` on the file: its own batch analysis, independent of the window's
    from companion.scoring.score import score_session

    doc = score_session(load_session(path), targets.plan)
    assert len(w.coach.reps) == len(doc["reps"])
    for rv, rd in zip(w.coach.reps, doc["reps"]):
        assert rv.rep.t_start_s == pytest.approx(rd["t_start_s"], abs=1e-3)
        got = {"rise": rv.rise.value, "hold": rv.hold.value, "lower": rv.lower.value}
        assert got == rd["verdicts"], f"rep {rd['set_number']}.{rd['rep_number']}"
    assert len(w.coach.holds) == len(doc["stretches"])
    assert w.report.toPlainText().strip() != ""
