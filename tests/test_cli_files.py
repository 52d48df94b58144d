"""The file commands end to end: inspect, export, bad input as one line and exit code 2."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from companion.cli import main
from companion.storage import write_session
from tests.storage.test_session_file import make_session


@pytest.fixture
def session_file(tmp_path: Path) -> Path:
    p = tmp_path / "s.calf"
    write_session(p, make_session(300))
    return p


def test_inspect_text_and_json(session_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(session_file)]) == 0
    out = capsys.readouterr().out
    assert "shin_left" in out
    assert "witmotion" in out
    assert "truth.rep × 1" in out
    assert main(["inspect", "--json", str(session_file)]) == 0
    info = json.loads(capsys.readouterr().out)
    shin = next(s for s in info["sensors"] if s["sensor_id"] == "shin_left")
    assert shin["samples"] == 300
    assert shin["gaps"] == 1
    assert shin["gap_samples_missing"] == 50
    assert shin["has_quaternion"]
    assert shin["has_counter"]


def test_export_csv_round_trips(session_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    assert main(["export", str(session_file), "--format", "csv", "--out", str(out)]) == 0
    s = make_session(300)
    with open(out / "s.shin_left.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 300
    got = np.array([[float(r[f"gyr_{a}_dps"]) for a in "xyz"] for r in rows])
    np.testing.assert_array_equal(got, s.chunks["shin_left"].gyr_dps)  # shortest repr: exact
    meta = json.loads((out / "s.metadata.json").read_text())
    assert meta["annotations"][0]["kind"] == "truth.rep"
    assert (out / "s.gaps.csv").read_text().count("\n") == 2


def test_export_refuses_to_overwrite(session_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    out.mkdir()
    (out / "s.gaps.csv").write_text("mine")
    assert main(["export", str(session_file), "--out", str(out)]) == 2
    assert (out / "s.gaps.csv").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == ["s.gaps.csv"]


@pytest.mark.parametrize(
    ("content", "phrase"),
    [(b"", "is empty"), (b"a,b\n1,2\n", "not a calf companion session file")],
)
def test_bad_file_is_one_line_exit_2(tmp_path: Path, content: bytes, phrase: str) -> None:
    p = tmp_path / "bad.calf"
    p.write_bytes(content)
    proc = subprocess.run(
        [sys.executable, "-m", "companion", "inspect", str(p)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert phrase in lines[0]
    assert str(p) in lines[0]
    assert "Traceback" not in proc.stderr


def test_export_angles_on_a_bundled_recording(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[1] / "recordings" / "stretch-knee-in.calf"
    out = tmp_path / "angles"
    assert main(["export", str(src), "--angles", "--out", str(out)]) == 0
    with open(out / "stretch-knee-in.angles_left.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {"t_s", "ankle_sagittal_deg", "knee_tracking_deg", "phase"} <= set(rows[0])
    sag = np.array([float(r["ankle_sagittal_deg"]) for r in rows])
    assert np.nanmax(sag) > 15  # the held bent-knee stretch is a clear dorsiflexion
    assert any(r["phase"] == "stretch" for r in rows)


def test_inspect_reads_exports_directly(shared_data: Path, capsys: pytest.CaptureFixture) -> None:
    log = shared_data / "ankle_encoder_shank_foot_mpu6050" / "parsed" / "LOG10.csv.gz"
    mapping = Path(__file__).resolve().parents[1] / "docs" / "maps" / "ankle_encoder_mpu6050.toml"
    args = ["inspect", "--json", str(log), "--from", "generic", "--map", str(mapping)]
    assert main([*args, "--side", "right"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert sorted(s["sensor_id"] for s in info["sensors"]) == ["foot_right", "shin_right"]
    assert "encoder_ankle_deg" in info["reference_tracks"]
