"""QA regressions of `companion live` / `companion replay`: the screenshot target, --window,
the session file's warnings, and --side/--placement-rule with --from."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.cli import main

REPO = Path(__file__).resolve().parents[2]
RECORDINGS = REPO / "recordings"
_LIVE = ["live", "--simulate", "standing-still", "--speed", "16", "--duration", "0.5"]


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in err
    return lines[0]


def test_screenshot_refuses_an_existing_file_that_is_not_a_png(tmp_path: Path, capsys) -> None:
    target = tmp_path / "existing.calf"
    target.write_bytes(b"precious session bytes")
    assert main([*_LIVE, "--screenshot", str(target)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "png" in line.lower()
    assert target.read_bytes() == b"precious session bytes"
    # A .png name that holds something else is not replaced either.
    fake = tmp_path / "notes.png"
    fake.write_text("my notes")
    assert main([*_LIVE, "--screenshot", str(fake)]) == 2
    assert "is not a PNG image" in _one_line(capsys.readouterr().err)
    assert fake.read_text() == "my notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.calf", "notes.png"]


def test_screenshot_in_a_missing_folder_is_refused_before_the_window_and_creates_nothing(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import companion.ui.app

    def no_window(*a, **k):
        raise AssertionError("the window must not open for a bad --screenshot")

    monkeypatch.setattr(companion.ui.app, "run_window", no_window)
    target = tmp_path / "nope" / "x.png"
    assert main([*_LIVE, "--screenshot", str(target)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "does not exist" in line
    assert str(tmp_path / "nope") in line
    assert not (tmp_path / "nope").exists()


def test_screenshot_replaces_an_earlier_png_atomically(tmp_path: Path, capsys) -> None:
    from PySide6.QtGui import QImage

    target = tmp_path / "shot.png"
    img = QImage(4, 4, QImage.Format.Format_RGB32)
    img.fill(0)
    assert img.save(str(target))
    old = target.read_bytes()
    assert main([*_LIVE, "--screenshot", str(target)]) == 0
    out, err = capsys.readouterr()
    assert f"screenshot: {target}" in out
    assert err.strip() == ""
    assert target.read_bytes() != old
    assert QImage(str(target)).width() == 1280
    assert [p.name for p in tmp_path.iterdir()] == ["shot.png"]  # no temporary left over


def test_save_screenshot_failure_leaves_the_target_untouched(tmp_path: Path) -> None:
    from companion.sim import simulate
    from companion.sources.replay import ReplaySource
    from companion.ui.app import run_window
    from companion.ui.coach import targets_from_plan
    from companion.ui.window import MainWindow

    session = simulate("standing-still", seed=1, duration_s=3.0)
    target = tmp_path / "shot.png"
    target.write_bytes(b"\x89PNG\r\n\x1a\nold")
    errors: list[str] = []

    def started(w) -> None:
        w.grab = lambda: type("Pix", (), {"save": lambda self, *a: False})()

    run = run_window(
        lambda: MainWindow(
            ReplaySource.live(session, speed=16.0),
            targets=targets_from_plan(None),
            mode="simulate",
        ),
        duration_s=0.3,
        screenshot=target,
        on_started=started,
    )
    errors.append(run.window.screenshot_error)
    assert run.screenshot is None
    assert "could not write the screenshot" in errors[0]
    assert target.read_bytes() == b"\x89PNG\r\n\x1a\nold"
    assert [p.name for p in tmp_path.iterdir()] == ["shot.png"]


@pytest.mark.parametrize("value", ["5", "31", "nan", "abc"])
def test_replay_window_out_of_range_is_one_line(value: str, tmp_path: Path, capsys) -> None:
    code = None
    try:
        code = main(["replay", str(tmp_path / "x.calf"), "--window", value])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    line = _one_line(capsys.readouterr().err)
    assert "--window" in line


def test_replay_window_in_range_is_remembered_as_given(tmp_path: Path, capsys) -> None:
    from PySide6.QtCore import QSettings

    rec = RECORDINGS / "stretch-bent.calf"
    if not rec.is_file():
        pytest.skip("recordings/stretch-bent.calf is not bundled in this checkout")
    code = main(["replay", str(rec), "--duration", "0.3", "--window", "12"])
    assert code == 0
    assert float(QSettings().value("view/window_s")) == 12.0


def test_replay_shows_the_file_warnings_once(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from companion.sim import simulate
    from companion.storage import load_session_with_report, write_session
    from companion.ui.window import MainWindow

    full = tmp_path / "full.calf"
    write_session(full, simulate("standing-still", seed=2, duration_s=20.0))
    data = full.read_bytes()
    cut = tmp_path / "cut.calf"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    _session, report = load_session_with_report(cut)
    assert report.warnings, "the truncated file must come with a warning"
    seen: list[str] = []
    original = MainWindow.show_load_warnings

    def spy(self, warnings):
        original(self, warnings)
        seen.append(self.status_label.text())
        seen.append(self._status_line())

    monkeypatch.setattr(MainWindow, "show_load_warnings", spy)
    assert main(["replay", str(cut), "--duration", "0.3"]) == 0
    err = capsys.readouterr().err
    assert err.count(report.warnings[0]) == 1
    assert seen
    assert report.warnings[0] in seen[0]
    assert "file warning" in seen[1]


def test_replay_passes_side_and_placement_rule_to_the_importers(
    capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import companion.commands.replay as replay_cmd

    got: dict[str, object] = {}

    class Stop(Exception):
        pass

    def fake_load_export(paths, fmt, *, map_path, placements, filename_rule):
        got.update(placements=placements, rule=filename_rule, fmt=fmt)
        raise Stop

    monkeypatch.setattr("companion.importers.load_export", fake_load_export)
    assert replay_cmd.open_from_args is not None
    with pytest.raises(Stop):
        main(
            [
                "replay",
                "a.csv",
                "b.csv",
                "--from",
                "generic",
                "--side",
                "right",
                "--placement-rule",
                "a*=shin_right,b*=foot_right",
            ]
        )
    assert got == {
        "placements": {"side": "right"},
        "rule": "a*=shin_right,b*=foot_right",
        "fmt": "generic",
    }
