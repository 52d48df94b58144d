"""``companion score`` end to end: one file, formats, picture, batch, bad input."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

import companion.cli as cli
from companion.scoring.schema import validate_score

sim = pytest.importorskip(
    "companion.sim", reason="the simulator (companion.sim) is not in this tree"
)
storage = pytest.importorskip("companion.storage")

SCENARIO = """
ankle_pumps = 0
description = "test"
[[blocks]]
kind = "calf_raise"
sets = 1
reps = 5
rise_s = 1.0
hold_s = {hold}
lower_s = {lower}
rest_s = 0.5
set_rest_s = 10.0
rom_deg = 35.0
"""
PLAN = """
name = "test plan"
[[exercise]]
kind = "calf_raise"
sets = 1
reps = 5
[exercise.tempo]
rise_max_s = 1.5
hold_s = 1.0
lower_s = 3.0
"""


def _run(monkeypatch, capsys, *argv: str) -> tuple[int, str, str]:
    monkeypatch.setattr(cli, "COMMANDS", ("score",))  # only this command's parser
    code = cli.main(["score", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("sessions")
    out = {}
    for name, hold, lower in (("good", 1.0, 3.0), ("rushed", 0.0, 1.2)):
        sc = d / f"{name}.toml"
        sc.write_text(SCENARIO.format(hold=hold, lower=lower), encoding="utf-8")
        session = sim.simulate(sc, seed=3)
        if name == "good":
            import tomllib

            session.plan = tomllib.loads(PLAN)  # the plan travels in the session file
        out[name] = d / f"{name}.calf"
        storage.write_session(out[name], session)
    (d / "plan.toml").write_text(PLAN, encoding="utf-8")
    out["plan"] = d / "plan.toml"
    return out


def test_one_file_table_uses_the_plan_in_the_session(monkeypatch, capsys, files):
    code, out, err = _run(monkeypatch, capsys, str(files["good"]))
    assert code == 0, err
    assert "plan: test plan  [session]" in out
    assert "— COMPLIANT" in out
    assert "next time:" in out


def test_json_validates_and_csv_matches(monkeypatch, capsys, files):
    code, out, _ = _run(
        monkeypatch, capsys, str(files["rushed"]), "--plan", str(files["plan"]), "--format", "json"
    )
    assert code == 0
    doc = json.loads(out)
    assert validate_score(doc) == []
    assert doc["plan"]["origin"] == f"file:{files['plan']}"
    assert "rushed" in doc["summary"]["flags"]
    code, out, _ = _run(
        monkeypatch, capsys, str(files["rushed"]), "--plan", str(files["plan"]), "--format", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [float(r["lower_s"]) for r in rows] == [r["lower_s"] for r in doc["reps"]]


def test_plot_is_written(monkeypatch, capsys, files, tmp_path):
    png = tmp_path / "report.png"
    code, _, err = _run(
        monkeypatch, capsys, str(files["rushed"]), "--plan", "seed", "--plot", str(png)
    )
    assert code == 0
    assert f"wrote {png}" in err
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000
    assert not list(tmp_path.glob(".*png"))  # no temporary left behind


def test_batch_with_a_broken_file(monkeypatch, capsys, files, tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    for name in ("good", "rushed"):
        (folder / f"{name}.calf").write_bytes(files[name].read_bytes())
    (folder / "broken.calf").write_text("not a session\n", encoding="utf-8")
    summary = tmp_path / "summary.csv"
    code, out, err = _run(
        monkeypatch,
        capsys,
        str(folder),
        "--plan",
        str(files["plan"]),
        "--summary-csv",
        str(summary),
        "--jobs",
        "2",
    )
    assert code == 1
    failed = [line for line in err.splitlines() if "broken.calf" in line]
    assert len(failed) == 1
    assert "Traceback" not in err
    assert "1 of 3 files failed" in err
    text = summary.read_text(encoding="utf-8")
    rows = {Path(r["file"]).name: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["broken.calf"]["status"] == "failed"
    assert rows["good.calf"]["compliant"] == "true"
    assert "rushed" in rows["rushed.calf"]["flags"]
    assert out.count("\n") == 3


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["nope.calf"], "nope.calf"),
        (["GOOD", "--plan", "BADPLAN"], "did you mean 'lower_s'"),
        (["GOOD", "--plan", "no-such-preset"], "plan file not found"),
        (["GOOD", "--jobs", "-1"], "--jobs -1"),
        (["EMPTYDIR"], "no .calf session files"),
    ],
)
def test_bad_input_is_one_line(monkeypatch, capsys, files, tmp_path, args, words):
    bad = tmp_path / "bad.toml"
    bad.write_text(PLAN.replace("lower_s", "lowr_s"), encoding="utf-8")
    (tmp_path / "empty").mkdir()
    subst = {"GOOD": str(files["good"]), "BADPLAN": str(bad), "EMPTYDIR": str(tmp_path / "empty")}
    if args == ["nope.calf"]:
        args = [str(tmp_path / "nope.calf")]
    code, out, err = _run(monkeypatch, capsys, *[subst.get(a, a) for a in args])
    assert code != 0
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("companion score: ")
    assert words in lines[0]


def test_missing_sensor_and_no_motion(monkeypatch, capsys, tmp_path):
    session = sim.simulate("standing-still", seed=1)
    still = tmp_path / "still.calf"
    storage.write_session(still, session)
    code, _, err = _run(monkeypatch, capsys, str(still))
    assert code != 0
    assert "no calf raises, tibialis raises or stretch holds found" in err
    assert len(err.strip().splitlines()) == 1
    foot = next(s for s in session.sensors if s.placement.segment.value == "foot")
    session.sensors = [s for s in session.sensors if s is not foot]
    session.chunks = {k: v for k, v in session.chunks.items() if k != foot.sensor_id}
    session.gaps = [g for g in session.gaps if g.sensor_id != foot.sensor_id]
    lonely = tmp_path / "lonely.calf"
    storage.write_session(lonely, session)
    code, _, err = _run(monkeypatch, capsys, str(lonely))
    assert code == 2
    assert "the ankle angle needs both sensors of a leg" in err
    assert "(no foot sensor on the left leg)" in err
    assert len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------------------
# QA: output files, exit status, progress, empty sensors, truncated files


def test_outputs_are_never_overwritten_nor_written_into_missing_folders(
    monkeypatch, capsys, files, tmp_path
):
    good = str(files["good"])
    png, csv_path = tmp_path / "old.png", tmp_path / "old.csv"
    png.write_bytes(b"keep me")
    csv_path.write_bytes(b"keep me too")
    cases = [
        (["--plot", str(png)], f"--plot: {png} already exists"),
        (["--summary-csv", str(csv_path)], f"--summary-csv {csv_path} already exists"),
        (["--plot", str(tmp_path / "no" / "r.png")], f"the folder {tmp_path / 'no'} does not"),
        (["--summary-csv", str(tmp_path / "no" / "s.csv")], "does not exist"),
        (["--plot", str(tmp_path / "no" / "deeper") + "/"], "does not exist"),
        (["--summary-csv", str(tmp_path)], "is a folder"),
        (["--plot", str(tmp_path / "r.jpg")], "give a name ending in .png"),
    ]
    for extra, words in cases:
        code, out, err = _run(monkeypatch, capsys, good, *extra)
        assert code == 2, (extra, err)
        assert out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert words in lines[0]
        assert "nothing was" in lines[0]
    assert png.read_bytes() == b"keep me"
    assert csv_path.read_bytes() == b"keep me too"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.csv", "old.png"]


def test_plot_into_a_new_folder_given_with_a_slash(monkeypatch, capsys, files, tmp_path):
    folder = tmp_path / "pictures"
    code, _, err = _run(monkeypatch, capsys, str(files["good"]), "--plot", f"{folder}/")
    assert code == 0, err
    assert [p.name for p in folder.iterdir()] == ["good.png"]
    code, _, err = _run(monkeypatch, capsys, str(files["good"]), "--plot", f"{folder}/")
    assert code == 2
    assert "already exists" in err


def test_exit_status_and_plain_progress_when_not_a_terminal(monkeypatch, capsys, files, tmp_path):
    folder = tmp_path / "all-bad"
    folder.mkdir()
    for name in ("a", "b"):
        (folder / f"{name}.calf").write_text("not a session\n", encoding="utf-8")
    summary = tmp_path / "summary.csv"
    code, out, err = _run(
        monkeypatch, capsys, str(folder), "--jobs", "1", "--summary-csv", str(summary)
    )
    assert code == 2  # nothing was scored
    assert "\r" not in err  # stderr is not a terminal here: no redrawn bar
    progress = [line for line in err.splitlines() if line.startswith("companion score: [")]
    heads = [line.split("]")[0] for line in progress]
    assert heads == ["companion score: [1/2", "companion score: [2/2"]
    assert all("FAILED: is not a calf companion session file" in line for line in progress)
    assert (
        err.strip().splitlines()[-1] == "companion score: 2 of 2 files failed; nothing was scored"
    )
    assert out.splitlines() == [f"{folder / 'a.calf'}: FAILED", f"{folder / 'b.calf'}: FAILED"]
    rows = list(csv.DictReader(io.StringIO(summary.read_text(encoding="utf-8"))))
    assert [r["status"] for r in rows] == ["failed", "failed"]


def test_help_documents_the_exit_status(monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMANDS", ("score",))
    with pytest.raises(SystemExit):
        cli.main(["score", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "exit status: 0 every file was scored; 1 some files were scored and some failed" in text
    assert "2 nothing was scored" in text


def _drop_samples(session, segment: str, side: str | None = None):
    for sid, chunk in list(session.chunks.items()):
        pl = chunk.placement
        if pl.segment.value == segment and (side is None or pl.side.value == side):
            session.chunks[sid] = chunk.slice(0, 0)
            session.gaps = [g for g in session.gaps if g.sensor_id != sid]
    return session


def test_a_sensor_without_samples_is_named(monkeypatch, capsys, files, tmp_path):
    session = storage.load_session(files["good"])
    empty = tmp_path / "empty-foot.calf"
    storage.write_session(empty, _drop_samples(session, "foot"))
    code, out, err = _run(monkeypatch, capsys, str(empty))
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [
        f"companion score: {empty}: the foot sensor (foot_left) recorded no samples, so there "
        "is no ankle angle on the left leg; check that both sensors are switched on and stay "
        "connected, then record again"
    ]


def test_the_other_leg_is_scored_when_one_leg_has_an_empty_sensor(files):
    from companion.model import Placement, SensorInfo
    from companion.scoring.score import split_by_side_with_warnings

    session = storage.load_session(files["good"])
    for s in list(session.sensors):
        right = Placement(segment=s.placement.segment, side="right")
        sid = right.label
        session.sensors.append(
            SensorInfo(
                sensor_id=sid,
                family=s.family,
                placement=right,
                sampling_rate_hz=s.sampling_rate_hz,
            )
        )
        chunk = session.chunks[s.sensor_id]
        session.chunks[sid] = chunk.slice(0, 0 if s.placement.segment.value == "foot" else None)
    sides, warnings = split_by_side_with_warnings(session)
    assert list(sides) == ["left"]
    assert warnings == ["right leg not scored: the foot sensor (foot_right) recorded no samples"]


def test_a_cut_file_says_so(monkeypatch, capsys, files, tmp_path):
    data = files["good"].read_bytes()
    # Cut inside the last data batch: the samples before it are recovered and scored.
    cut = tmp_path / "cut.calf"
    cut.write_bytes(data[: len(data) - 2000])
    _, report = storage.load_session_with_report(cut)
    assert report.truncated
    code, out, err = _run(monkeypatch, capsys, str(cut))
    assert code == 0, err
    # The warning comes right under the verdict, before the sets, where it is read.
    lines = out.splitlines()
    first_set = next(i for i, line in enumerate(lines) if line.startswith("calf raise —"))
    warn = [i for i, line in enumerate(lines) if "ends mid-write" in line]
    assert len(warn) == 1, out
    assert warn[0] < first_set
    assert lines[warn[0]].startswith("warning: the file ends mid-write at byte ")
    # A file cut before any foot sample: the sensor and the cut are both named.
    session = storage.load_session(files["good"])
    empty = tmp_path / "no-foot.calf"
    storage.write_session(empty, _drop_samples(session, "foot"))
    raw = empty.read_bytes()
    cut2 = tmp_path / "cut-no-foot.calf"
    cut2.write_bytes(raw[: len(raw) - 9])
    code, out, err = _run(monkeypatch, capsys, str(cut2))
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "the foot sensor (foot_left) recorded no samples" in line
    assert "; note: the file ends mid-write" in line


def test_progress_bar_on_a_terminal(capsys):
    from companion.commands.score import FileResult, _Progress

    progress = _Progress(2, tty=True)
    progress.step(FileResult(file="a.calf", ok=False, error="a.calf: is broken"))
    progress.step(FileResult(file="b.calf", ok=True))
    err = capsys.readouterr().err
    assert err.startswith("\rcompanion score: a.calf: is broken")
    assert err.endswith("\rscoring [" + "#" * 30 + "] 2/2, 1 failed\n")
    assert err.count("\n") == 2  # the failure line and the finished bar


def test_two_files_with_one_name_cannot_share_a_picture(monkeypatch, capsys, files, tmp_path):
    for sub in ("a", "b"):
        (tmp_path / "in" / sub).mkdir(parents=True)
        (tmp_path / "in" / sub / "s.calf").write_bytes(files["good"].read_bytes())
    (tmp_path / "out").mkdir()
    code, out, err = _run(
        monkeypatch, capsys, str(tmp_path / "in"), "--plot", str(tmp_path / "out")
    )
    assert code == 2
    assert out == ""
    (line,) = err.strip().splitlines()
    assert f"would both draw {tmp_path / 'out' / 's.png'}" in line
    assert list((tmp_path / "out").iterdir()) == []


def test_ctrl_c_stops_a_batch_at_once(tmp_path):
    """Ctrl-C reaches the whole process group: the workers ignore it, the parent stops them
    and exits 130 with one line and no worker tracebacks."""
    import os
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "many"
    folder.mkdir()
    src = Path(__file__).resolve().parents[2] / "recordings" / "calf-raises.calf"
    if not src.exists():
        pytest.skip("recordings/calf-raises.calf is not in this tree")
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to see the worker processes")
    for i in range(6):
        (folder / f"{i}.calf").write_bytes(src.read_bytes())
    proc = subprocess.Popen(
        [sys.executable, "-m", "companion", "score", str(folder), "--jobs", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    # wait (generously) until both workers and the resource tracker run ...
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if len(_children(proc.pid)) >= 3:
            break
        time.sleep(0.2)
    # ... then press Ctrl-C (again, should it land in the instant the workers are started
    # with SIGINT ignored) until the command exits
    for _ in range(60):
        if proc.poll() is not None:
            break
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            pass
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "companion score: interrupted."
    assert "Traceback" not in err


def _children(pid: int) -> list[int]:
    import pathlib

    out = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out
