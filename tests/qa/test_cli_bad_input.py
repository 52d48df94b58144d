"""Bad input a user can cause (QA): one line on stderr, exit code 2, nothing written.

Subprocess only where the contract is about the real process (argparse errors, the
``companion`` / ``python -m companion`` entry points); the rest call :func:`main` directly.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from companion.cli import main
from companion.errors import ImportFormatError
from companion.importers import load_export
from companion.importers.generic import load_map
from companion.storage import write_session
from tests.storage.test_session_file import make_session

MAP = """\
[format]
delimiter = ","
header_rows = 1
[time]
column = "t"
unit = "s"
[[sensor]]
segment = "shin"
side = "left"
acc = ["ax", "ay", "az"]
acc_unit = "g"
gyr = ["gx", "gy", "gz"]
gyr_unit = "deg/s"
"""


def _csv(path: Path, n: int = 100) -> Path:
    rows = ["t,ax,ay,az,gx,gy,gz"] + [f"{i / 100:.2f},0,0,1,0.5,0,0" for i in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _one_error_line(capsys: pytest.CaptureFixture[str], command: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"companion {command}: ")
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["import", "x.csv", "--from", "foo", "--out", "y.calf"],
        ["import", "x.csv", "--from", "dot"],
        ["inspect"],
        ["export", "a.calf"],
    ],
)
def test_argparse_errors_are_one_line_with_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    line = _one_error_line(capsys, argv[0])
    assert line.endswith(f"see `companion {argv[0]} --help`")


def test_entry_points_agree(tmp_path: Path) -> None:
    """``companion`` and ``python -m companion`` print the same line and exit code."""
    exe = Path(sys.executable).with_name("companion")
    argv = ["inspect", str(tmp_path / "missing.calf")]
    a = subprocess.run([str(exe), *argv], capture_output=True, text=True, check=False)
    b = subprocess.run(
        [sys.executable, "-m", "companion", *argv], capture_output=True, text=True, check=False
    )
    assert a.returncode == b.returncode == 2
    assert a.stderr == b.stderr
    assert a.stderr.count("\n") == 1
    assert "does not exist. Check the path." in a.stderr


def test_import_checks_out_before_reading(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A folder or an existing file as --out fails at once and nothing is overwritten."""
    data = _csv(tmp_path / "rec.csv")
    m = tmp_path / "map.toml"
    m.write_text(MAP)
    existing = tmp_path / "old.calf"
    existing.write_bytes(b"precious")
    base = ["import", str(data), "--from", "generic", "--map", str(m)]
    assert main([*base, "--out", str(existing)]) == 2
    assert "already exists" in _one_error_line(capsys, "import")
    assert existing.read_bytes() == b"precious"
    assert main([*base, "--out", str(tmp_path)]) == 2
    assert "is a folder" in _one_error_line(capsys, "import")
    assert main([*base, "--out", str(tmp_path / "no" / "s.calf")]) == 2
    assert "does not exist" in _one_error_line(capsys, "import")
    assert main([*base, "--out", str(tmp_path / "new.calf")]) == 0
    assert (tmp_path / "new.calf").is_file()


def test_empty_binary_and_session_files_are_refused_by_import(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ImportFormatError, match=r"empty.csv: is empty \(0 bytes\)"):
        load_export([empty], "dot")
    binary = tmp_path / "noise.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    for fmt in ("dot", "metabase", "witmotion"):
        with pytest.raises(ImportFormatError, match="holds binary data, not a text export"):
            load_export([binary], fmt)
    zipped = tmp_path / "noise.csv.gz"
    zipped.write_bytes(gzip.compress(bytes(range(256)) * 8))
    with pytest.raises(ImportFormatError, match="holds binary data"):
        load_export([zipped], "dot")
    session = tmp_path / "s.calf.csv"
    write_session(tmp_path / "s.calf", make_session(20))
    session.write_bytes((tmp_path / "s.calf").read_bytes())
    with pytest.raises(ImportFormatError, match="is a companion session file, not an export"):
        load_export([session], "dot")


def test_stray_carriage_returns_do_not_crash_the_survey(tmp_path: Path) -> None:
    """Regression: csv.Error ('new-line character seen in unquoted field') escaped."""
    f = tmp_path / "cr.csv"
    f.write_bytes(b'a,b\r\n"x\r,y\nq\rz,1\n')
    with pytest.raises(ImportFormatError):
        load_export([f], "witmotion")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("header_rows = 1", "header_rowz = 1"), r"\[format\]: unknown key\(s\) header_rowz"),
        (('unit = "s"', 'unit = "s"\nunits = "ms"'), r"\[time\]: unknown key\(s\) units"),
        (('side = "left"', 'side = "left"\nsegmnt = "x"'), r"\[\[sensor\]\] #1: unknown key"),
        (("[format]", "format = 3\n[formatx]"), "unknown table"),
    ],
)
def test_map_typos_are_errors_not_ignored(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    m = tmp_path / "map.toml"
    m.write_text(MAP.replace(*edit))
    with pytest.raises(ImportFormatError, match=message):
        load_map(m)


def test_map_reference_scale_must_be_a_number(tmp_path: Path) -> None:
    m = tmp_path / "map.toml"
    m.write_text(MAP + '[[reference]]\nname = "enc"\ncolumn = "ax"\nscale = "2x"\n')
    with pytest.raises(ImportFormatError, match="scale: '2x' is not a number"):
        load_map(m)
    m.write_text('reference = "enc"\n' + MAP)
    with pytest.raises(ImportFormatError, match="must be an array of tables"):
        load_map(m)


def test_truncated_last_row_warning_reads_well(tmp_path: Path) -> None:
    data = _csv(tmp_path / "rec.csv")
    data.write_text(data.read_text() + "1.00,0,0\n")
    m = tmp_path / "map.toml"
    m.write_text(MAP)
    session = load_export([data], "generic", map_path=m)
    warnings = [w for w in session.extra["import_warnings"] if "dropped" in w]
    assert warnings == [
        "shin_left (rec.csv): dropped invalid rows (1 at the end; a row cut short or "
        "without numbers)"
    ]


def test_ctrl_c_while_loading_the_commands_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: Ctrl-C in the first second (numpy/pyarrow imports) printed a traceback."""
    import companion.cli as cli

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["inspect", "x.calf"]) == 130
    assert capsys.readouterr().err == "companion: interrupted.\n"


def test_a_stray_text_cell_is_reported_not_silently_dropped(tmp_path: Path) -> None:
    data = _csv(tmp_path / "rec.csv")
    lines = data.read_text().splitlines()
    lines[50] = "0.49,abc,0,1,0,0,0"  # file line 51
    data.write_text("\n".join(lines) + "\n")
    m = tmp_path / "map.toml"
    m.write_text(MAP)
    session = load_export([data], "generic", map_path=m)
    assert len(session.chunks["shin_left"]) == 99
    assert (
        "rec.csv, column 'ax': 1 cell(s) are not numbers (first 'abc' in row 51); "
        "those samples were dropped"
    ) in session.extra["import_warnings"]


def test_wrong_delimiter_is_hinted(tmp_path: Path) -> None:
    data = _csv(tmp_path / "rec.csv")
    data.write_text(data.read_text().replace(",", ";"))
    m = tmp_path / "map.toml"
    m.write_text(MAP)
    with pytest.raises(ImportFormatError, match=r"is the file ';'-separated\? set \[format\]"):
        load_export([data], "generic", map_path=m)


def test_import_summary_counts_read_well(tmp_path: Path, capsys) -> None:
    data = _csv(tmp_path / "rec.csv")
    m = tmp_path / "map.toml"
    m.write_text(MAP)
    out = tmp_path / "s.calf"
    assert main(["import", str(data), "--from", "generic", "--map", str(m), "--out", str(out)]) == 0
    assert capsys.readouterr().out == (
        f"wrote {out}: 1.0 s, shin_left 100 samples at 100 Hz; no gaps\n"
    )


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_flag_before_or_after_the_command(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "s.calf"
    write_session(p, make_session(20))
    argv = ["-v", "inspect", str(p)] if where == "before" else ["inspect", "-v", str(p)]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith(f"{p}\n")
    import companion.cli as cli

    args = cli.build_parser().parse_args(["inspect", str(p)])
    assert args.verbose is False


def test_side_flag_contradicting_every_placement_is_an_error(tmp_path: Path) -> None:
    data = _csv(tmp_path / "rec.csv")
    m = tmp_path / "map.toml"
    m.write_text(MAP)  # places the sensor at shin_left
    with pytest.raises(ImportFormatError, match=r"--side right contradicts .*shin_left"):
        load_export([data], "generic", map_path=m, placements={"side": "right"})
    session = load_export([data], "generic", map_path=m, placements={"side": "left"})
    assert list(session.chunks) == ["shin_left"]


def test_map_that_is_a_folder_or_binary(tmp_path: Path) -> None:
    (tmp_path / "walk.toml").write_text(MAP)
    with pytest.raises(ImportFormatError, match="is a folder; give one TOML map file such as walk"):
        load_map(tmp_path)
    binary = tmp_path / "s.calf"
    binary.write_bytes(b"\xff\xff\xff\xff\x00\x10")
    with pytest.raises(ImportFormatError, match=r"is not a text file \(a map is TOML text\)"):
        load_map(binary)
