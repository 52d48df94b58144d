"""inspect and export as a user reads them (QA): several files, readable metadata, safe --out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from companion.cli import main
from companion.storage import write_session
from tests.storage.test_session_file import make_session


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    out = []
    for seed in (1, 2):
        p = tmp_path / f"s{seed}.calf"
        session = make_session(200, seed=seed)
        session.extra["faults"] = {"shin": {"bias": [0.123456789, -2.0e-7]}}
        write_session(p, session)
        out.append(p)
    return out


def test_inspect_several_session_files(files: list[Path], capsys: pytest.CaptureFixture) -> None:
    assert main(["inspect", *map(str, files)]) == 0
    out = capsys.readouterr().out
    assert out.count("  source:") == 2
    assert out.index(str(files[0])) < out.index(str(files[1]))


def test_inspect_several_keeps_going_past_a_bad_file(
    files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "bad.calf"
    bad.write_bytes(b"")
    assert main(["inspect", str(files[0]), str(bad), str(files[1])]) == 1  # some were read
    captured = capsys.readouterr()
    assert captured.out.count("  source:") == 2
    assert captured.err.strip().splitlines() == [
        f"companion inspect: {bad}: is empty (0 bytes). Nothing was ever written to it; "
        "record again or pick another file."
    ]
    assert main(["inspect", "--json", *map(str, files)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [d["file"] for d in doc] == [str(f) for f in files]


def test_inspect_extra_is_short_and_rounded(files: list[Path], capsys) -> None:
    assert main(["inspect", str(files[0])]) == 0
    lines = capsys.readouterr().out.splitlines()
    faults = next(line for line in lines if line.strip().startswith("faults"))
    assert '{"shin": {"bias": [0.1235, -2e-07]}}' in faults
    assert all(len(line) < 200 for line in lines if not line.startswith("    shin_left"))
    assert any(line.endswith(", 1 gap  [quaternion, counter]  AA:BB:CC:DD:EE:01") for line in lines)


def test_export_refuses_a_missing_parent_and_keeps_existing_files(
    files: list[Path], tmp_path: Path, capsys
) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    assert main(["export", str(files[0]), "--out", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()
    out = tmp_path / "csv"
    assert main(["export", str(files[0]), "--out", str(out)]) == 0
    capsys.readouterr()
    gaps = out / "s1.gaps.csv"
    gaps.write_text("mine")
    assert main(["export", str(files[0]), "--out", str(out)]) == 2
    assert gaps.read_text() == "mine"


def test_export_references_have_no_negative_zero(tmp_path: Path, capsys) -> None:
    session = make_session(50)
    track = next(iter(session.references.values()))
    track.values[:] = -0.0
    p = tmp_path / "z.calf"
    write_session(p, session)
    assert main(["export", str(p), "--out", str(tmp_path / "o")]) == 0
    text = (tmp_path / "o" / "z.references.csv").read_text()
    assert ",-0\n" not in text
    assert ",0\n" in text


def test_export_several_session_files_all_or_nothing(
    files: list[Path], tmp_path: Path, capsys
) -> None:
    out = tmp_path / "csv"
    assert main(["export", *map(str, files), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        f"{stem}.{part}"
        for stem in ("s1", "s2")
        for part in (
            "shin_left.csv",
            "foot_left.csv",
            "references.csv",
            "gaps.csv",
            "metadata.json",
        )
    )
    capsys.readouterr()
    (out / "s1.gaps.csv").unlink()  # s2's files still exist: nothing may be written
    assert main(["export", *map(str, files), "--out", str(out)]) == 2
    assert "already exists (and 8 more)" in capsys.readouterr().err
    assert not (out / "s1.gaps.csv").exists()
    twin = tmp_path / "other"
    twin.mkdir()
    (twin / "s1.calf").write_bytes(files[0].read_bytes())
    assert main(["export", str(files[0]), str(twin / "s1.calf"), "--out", str(tmp_path / "x")]) == 2
    assert "two session files are named 's1'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_inspect_sensor_without_samples_says_so(tmp_path: Path, capsys) -> None:
    """Regression: a sensor that recorded nothing showed "loss 0.00 %"."""
    import numpy as np

    from companion.model import ImuChunk

    session = make_session(100)
    foot = session.chunks["foot_left"]
    session.chunks["foot_left"] = ImuChunk(
        sensor_id="foot_left",
        placement=foot.placement,
        t_s=np.empty(0),
        acc_m_s2=np.empty((0, 3)),
        gyr_dps=np.empty((0, 3)),
    )
    p = tmp_path / "s.calf"
    write_session(p, session)
    assert main(["inspect", str(p)]) == 0
    foot_line = next(line for line in capsys.readouterr().out.splitlines() if "foot_left" in line)
    assert foot_line.endswith("0 samples  120 Hz nominal, no data recorded")


@pytest.mark.parametrize(
    ("extra", "named"),
    [(["--side", "left"], "--side only applies"), (["--map", "m.toml"], "--map only applies")],
)
def test_export_options_without_from_are_refused(
    files: list[Path], extra: list[str], named: str, capsys
) -> None:
    """Regression: --side/--map/--placement-rule were silently ignored on a session file."""
    assert main(["inspect", str(files[0]), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"companion inspect: {named} when reading exports with --from FMT")
    assert err.count("\n") == 1


def test_inspect_exit_status_when_no_file_can_be_read(tmp_path: Path, capsys) -> None:
    bad = [tmp_path / "a.calf", tmp_path / "b.calf"]
    for p in bad:
        p.write_bytes(b"")
    assert main(["inspect", *map(str, bad)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 2


def _one_leg_sensor_only(session, keep: str):
    drop = [s.sensor_id for s in session.sensors if s.placement.segment.value != keep]
    session.sensors = [s for s in session.sensors if s.sensor_id not in drop]
    session.chunks = {k: v for k, v in session.chunks.items() if k not in drop}
    session.gaps = [g for g in session.gaps if g.sensor_id not in drop]
    return session


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            lambda s: _one_leg_sensor_only(s, "shin"),
            "--angles: the ankle angle needs both sensors of a leg, but the session has only "
            "shin_left (no foot sensor on the left leg); export without --angles",
        ),
        (
            lambda s: s.chunks.update(foot_left=s.chunks["foot_left"].slice(0, 0)),
            "--angles: the foot sensor (foot_left) recorded no samples, so there is no ankle "
            "angle on the left leg; export without --angles",
        ),
    ],
)
def test_export_angles_needs_both_sensors(tmp_path: Path, capsys, change, words) -> None:
    session = make_session(100)
    change(session)
    session.gaps = [g for g in session.gaps if g.sensor_id != "foot_left"]
    p = tmp_path / "one.calf"
    write_session(p, session)
    out = tmp_path / "csv"
    assert main(["export", str(p), "--angles", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"companion export: {words}")
    assert err.rstrip().endswith("nothing was written")
    assert not out.exists()
    assert main(["export", str(p), "--out", str(out)]) == 0  # the raw data still exports


def test_export_of_one_import_is_named_after_it(tmp_path: Path, capsys) -> None:
    src = tmp_path / "walk.csv"
    rows = ["t,ax,ay,az,gx,gy,gz"] + [f"{i / 100:.2f},0,0,1,0.5,0,0" for i in range(200)]
    src.write_text("\n".join(rows) + "\n")
    mp = tmp_path / "map.toml"
    mp.write_text(
        '[format]\ndelimiter = ","\nheader_rows = 1\n[time]\ncolumn = "t"\nunit = "s"\n'
        '[[sensor]]\nsegment = "shin"\nside = "left"\nacc = ["ax", "ay", "az"]\n'
        'acc_unit = "g"\ngyr = ["gx", "gy", "gz"]\ngyr_unit = "deg/s"\n'
    )
    out = tmp_path / "csv"
    args = ["export", str(src), "--from", "generic", "--map", str(mp), "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    assert (out / "walk.shin_left.csv").exists()
