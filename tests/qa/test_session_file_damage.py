"""Damaged session files (QA): a cut file is recovered up to the cut, nothing else crashes.

A recorder killed mid-write leaves a file that ends anywhere: inside the last message's
metadata, inside its body, or exactly between messages without the end-of-stream marker.
Every such file must load with ``truncated`` set and hold a prefix of what was written;
flipped bytes must end in one :class:`SessionFileError` sentence, never another exception.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion.errors import CompanionError, SessionFileError
from companion.storage import load_session_with_report, write_session
from companion.storage.session_file import check_writable_session_path
from tests.storage.test_session_file import make_session

_FIXTURE = [HealthCheck.function_scoped_fixture]
EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict[str, np.ndarray]]:
    p = tmp_path_factory.mktemp("orig") / "s.calf"
    session = make_session(300)
    write_session(p, session)
    return p.read_bytes(), {k: c.t_s for k, c in session.chunks.items()}


def _header_end(data: bytes) -> int:
    return 8 + int.from_bytes(data[4:8], "little")


def test_file_ends_with_the_end_marker(written: tuple[bytes, dict]) -> None:
    assert written[0].endswith(EOS)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(frac=st.floats(0.0, 1.0, exclude_max=True))
def test_any_cut_after_the_header_is_recovered_as_a_prefix(
    tmp_path: Path, written: tuple[bytes, dict], frac: float
) -> None:
    data, t_orig = written
    start = _header_end(data)
    cut = start + int(frac * (len(data) - start))
    p = tmp_path / "cut.calf"
    p.write_bytes(data[:cut])
    session, report = load_session_with_report(p)
    assert report.truncated
    assert len(report.warnings) == 1
    assert "ends mid-write" in report.warnings[0]
    for sid, chunk in session.chunks.items():
        np.testing.assert_array_equal(chunk.t_s, t_orig[sid][: len(chunk)])


def test_every_cut_around_the_first_messages_is_recovered(
    tmp_path: Path, written: tuple[bytes, dict]
) -> None:
    """Regression: a cut just after the dictionary message (file ends on a message boundary
    without the end marker, or inside the next message's 8-byte prefix) loaded as complete
    or as corrupted; every byte of the first 400 after the header is tried."""
    data, t_orig = written
    start = _header_end(data)
    p = tmp_path / "cut.calf"
    for cut in range(start, start + 400):
        p.write_bytes(data[:cut])
        session, report = load_session_with_report(p)
        assert report.truncated, cut
        for sid, chunk in session.chunks.items():
            np.testing.assert_array_equal(chunk.t_s, t_orig[sid][: len(chunk)])


def test_cut_inside_last_message_metadata_is_truncation_not_corruption(
    tmp_path: Path, written: tuple[bytes, dict]
) -> None:
    """Regression: "Expected to read N metadata bytes, but only read M" was reported as
    corruption, so a killed recorder's file could not be opened at all."""
    data, t_orig = written
    p = tmp_path / "cut.calf"
    p.write_bytes(data[: len(data) - 9])  # inside the events message before the marker
    session, report = load_session_with_report(p)
    assert report.truncated
    assert len(session.chunks["shin_left"]) == len(t_orig["shin_left"])


def test_missing_end_marker_is_reported(tmp_path: Path, written: tuple[bytes, dict]) -> None:
    data, _ = written
    p = tmp_path / "noeos.calf"
    p.write_bytes(data[: -len(EOS)])
    _, report = load_session_with_report(p)
    assert report.truncated
    header_only = tmp_path / "header.calf"
    header_only.write_bytes(data[: _header_end(data)])
    session, report = load_session_with_report(header_only)
    assert report.truncated
    assert "no samples had been written yet" in report.warnings[0]
    assert all(len(c) == 0 for c in session.chunks.values())


def test_whole_file_has_no_warning(tmp_path: Path, written: tuple[bytes, dict]) -> None:
    p = tmp_path / "whole.calf"
    p.write_bytes(written[0])
    _, report = load_session_with_report(p)
    assert not report.truncated
    assert report.warnings == []


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(where=st.floats(0.0, 1.0, exclude_max=True), bit=st.integers(0, 7))
def test_flipped_bits_never_escape_as_another_exception(
    tmp_path: Path, written: tuple[bytes, dict], where: float, bit: int
) -> None:
    raw = bytearray(written[0])
    raw[int(where * len(raw))] ^= 1 << bit
    p = tmp_path / "flip.calf"
    p.write_bytes(bytes(raw))
    message = ""
    try:
        load_session_with_report(p)
    except CompanionError as exc:
        message = str(exc)
    if message:
        assert "\n" not in message
        assert message.startswith(str(p))


def test_non_arrow_binary_is_named_sensibly(tmp_path: Path) -> None:
    p = tmp_path / "x.calf"
    p.write_bytes(b"\x00\x9f\x92\x96 binary")
    with pytest.raises(SessionFileError, match="looks like binary data of another kind"):
        load_session_with_report(p)


def test_out_path_checks(tmp_path: Path) -> None:
    with pytest.raises(SessionFileError, match="is a folder"):
        check_writable_session_path(tmp_path)
    with pytest.raises(SessionFileError, match=r"does not exist\. Create it first"):
        check_writable_session_path(tmp_path / "missing" / "s.calf")
    existing = tmp_path / "s.calf"
    existing.write_bytes(b"keep")
    with pytest.raises(SessionFileError, match="already exists"):
        check_writable_session_path(existing)
    with pytest.raises(SessionFileError, match="is a folder"):
        write_session(tmp_path, make_session(10))
    assert existing.read_bytes() == b"keep"


def test_damaged_column_name_in_schema_is_one_sentence(
    tmp_path: Path, written: tuple[bytes, dict]
) -> None:
    """Regression: invalid UTF-8 in a schema field name escaped as UnicodeDecodeError."""
    raw = bytearray(written[0])
    i = raw.index(b"gyr_z_dps")
    assert i < _header_end(bytes(raw))
    raw[i + 8] = 0xFE
    p = tmp_path / "name.calf"
    p.write_bytes(bytes(raw))
    with pytest.raises(SessionFileError, match="corrupted"):
        load_session_with_report(p)


@pytest.mark.skipif(
    not Path("/proc/self").is_dir(), reason="needs Linux /proc (a folder no file can be created in)"
)
def test_unwritable_target_is_named_not_the_temporary(tmp_path: Path) -> None:
    """Regression: the error named the hidden '.x.calf.<pid>.tmp' beside the target."""
    target = Path("/proc/qa-session.calf")
    with pytest.raises(SessionFileError) as exc:
        write_session(target, make_session(10))
    assert str(exc.value).startswith(f"{target}: cannot be created")
    assert ".tmp" not in str(exc.value)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"t,ax,ay\n0,1,2\n", "a CSV/TSV text file"),
        (b"Enc Cnt: 4 | Angle: 1.0\n", "a text file"),
        (b"\x1f\x8b\x08\x00rest", "a gzip-compressed file"),
    ],
)
def test_exports_given_as_session_files_point_to_from(
    tmp_path: Path, content: bytes, kind: str
) -> None:
    p = tmp_path / "export.csv"
    p.write_bytes(content)
    with pytest.raises(SessionFileError) as exc:
        load_session_with_report(p)
    assert str(exc.value) == (
        f"{p}: is not a calf companion session file: it looks like {kind} (if it is a sensor "
        "export, add --from FORMAT, or convert it with `companion import`)"
    )
