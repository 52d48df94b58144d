"""The session file: exact round trip, crash safety, bad input, open data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.errors import SessionFileError
from companion.model import Gap, ImuChunk, Placement, ReferenceTrack, SensorInfo, Session
from companion.storage import SessionWriter, load_session, load_session_with_report, write_session
from companion.storage.session_file import FORMAT_VERSION, HEADER_KEY


def make_session(n: int = 500, *, seed: int = 0, quat: bool = True) -> Session:
    rng = np.random.default_rng(seed)
    sensors = [
        SensorInfo(
            sensor_id="shin_left",
            family="witmotion",
            placement=Placement(segment="shin", side="left"),
            sampling_rate_hz=100.0,
            address="AA:BB:CC:DD:EE:01",
            firmware="5.0",
            axis_mapping="identity",
            has_quaternion=quat,
            has_counter=True,
        ),
        SensorInfo(
            sensor_id="foot_left",
            family="dot",
            placement=Placement(segment="foot", side="left"),
            sampling_rate_hz=120.0,
        ),
    ]
    chunks = {}
    for i, s in enumerate(sensors):
        t = np.cumsum(rng.uniform(0.005, 0.015, n))
        chunks[s.sensor_id] = ImuChunk(
            sensor_id=s.sensor_id,
            placement=s.placement,
            t_s=t,
            acc_m_s2=rng.normal(size=(n, 3)),
            gyr_dps=rng.normal(scale=100, size=(n, 3)),
            quat_wxyz=rng.normal(size=(n, 4)) if (quat and i == 0) else None,
            counter=np.arange(n) + 65530 if i == 0 else None,
        )
    return Session(
        sensors=sensors,
        chunks=chunks,
        start_time_utc="2026-11-22T04:00:00Z",
        gaps=[Gap(sensor_id="shin_left", t_start_s=1.0, t_end_s=1.5, n_missing=50)],
        annotations=[{"kind": "truth.rep", "t_start_s": 1.0, "faults": ["no_hold"]}],
        references={
            "truth_ankle_sagittal_deg": ReferenceTrack(
                name="truth_ankle_sagittal_deg", t_s=np.arange(n) / 100, values=rng.normal(size=n)
            )
        },
        plan={"exercise": "calf_raise", "sets": 3, "reps": 20},
        calibration={"neutral": [1.0, 0.0, 0.0, 0.0], "flagged_fallback": False},
        notes="left Achilles, week 3",
        source="test",
        extra={"scenario": "x", "seed": 1},
    )


def assert_same(a: Session, b: Session) -> None:
    assert a.sensors == b.sensors
    assert list(a.chunks) == list(b.chunks)
    for k in a.chunks:
        assert a.chunks[k].equals(b.chunks[k]), k
    assert a.gaps == b.gaps
    assert a.annotations == b.annotations
    assert list(a.references) == list(b.references)
    for k in a.references:
        np.testing.assert_array_equal(a.references[k].t_s, b.references[k].t_s)
        np.testing.assert_array_equal(a.references[k].values, b.references[k].values)
    for attr in ("plan", "calibration", "notes", "source", "extra", "start_time_utc"):
        assert getattr(a, attr) == getattr(b, attr), attr


def test_round_trip_exact(tmp_path: Path) -> None:
    s = make_session()
    p = tmp_path / "s.calf"
    write_session(p, s)
    assert_same(s, load_session(p))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(0, 300),
    seed=st.integers(0, 2**16),
    quat=st.booleans(),
    special=st.sampled_from([0.0, np.nan, np.inf, -0.0, 1e-300, 1e300]),
)
def test_round_trip_property(tmp_path_factory, n, seed, quat, special) -> None:
    s = make_session(max(n, 1), seed=seed, quat=quat)
    s.chunks["foot_left"].acc_m_s2[0, 0] = special
    p = tmp_path_factory.mktemp("rt") / "s.calf"
    write_session(p, s)
    assert_same(s, load_session(p))


def test_streaming_writer_equals_whole_write(tmp_path: Path) -> None:
    s = make_session(400)
    p = tmp_path / "stream.calf"
    with SessionWriter(
        p,
        sensors=s.sensors,
        reference_names=list(s.references),
        start_time_utc=s.start_time_utc,
        plan=s.plan,
        notes="draft",
        source=s.source,
        extra=s.extra,
        flush_interval_s=0.0,
    ) as w:
        for start in range(0, 400, 37):
            for k in s.chunks:
                w.write_chunk(s.chunks[k].slice(start, start + 37))
        w.write_reference(s.references["truth_ankle_sagittal_deg"])
        for g in s.gaps:
            w.add_gap(g)
        for a in s.annotations:
            w.add_annotation(a)
        w.set_calibration(s.calibration)
        w.set_notes(s.notes)
    assert_same(s, load_session(p))


def test_never_overwrites(tmp_path: Path) -> None:
    p = tmp_path / "s.calf"
    p.write_bytes(b"precious")
    with pytest.raises(SessionFileError, match="already exists"):
        write_session(p, make_session())
    with pytest.raises(SessionFileError, match="already exists"):
        SessionWriter(p, sensors=make_session().sensors)
    assert p.read_bytes() == b"precious"
    assert [x.name for x in tmp_path.iterdir()] == ["s.calf"]  # no temp file left behind


def test_open_data_three_lines(tmp_path: Path) -> None:
    """The three lines documented in docs/session-file.md."""
    s = make_session()
    p = tmp_path / "session.calf"
    write_session(p, s)
    # --- the documented recipe ---
    df = pa.ipc.open_stream(p).read_pandas()
    shin = df[df.sensor == "shin_left"]
    # ------------------------------
    np.testing.assert_array_equal(shin["gyr_y_dps"].to_numpy(), s.chunks["shin_left"].gyr_dps[:, 1])
    header = json.loads(pa.ipc.open_stream(p).schema.metadata[HEADER_KEY])
    assert header["format_version"] == FORMAT_VERSION
    assert header["sensors"][0]["segment"] == "shin"


# -- bad input -------------------------------------------------------------------------------
@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    p = tmp_path / "good.calf"
    write_session(p, make_session(2000))
    return p


def _one_line(exc: SessionFileError, path: Path) -> str:
    text = str(exc)
    assert "\n" not in text
    assert str(path) in text
    return text


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.calf"
    p.write_bytes(b"")
    with pytest.raises(SessionFileError) as ei:
        load_session(p)
    assert "empty" in _one_line(ei.value, p)


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (b"t,acc_x\n0,1\n", "CSV"),
        (b"PAR1\x00\x00", "Parquet"),
        (b'{"a": 1}', "JSON"),
        (b"\x89PNG\r\n\x1a\n", "PNG"),
    ],
)
def test_wrong_kind(tmp_path: Path, content: bytes, expect: str) -> None:
    p = tmp_path / "wrong.calf"
    p.write_bytes(content)
    with pytest.raises(SessionFileError) as ei:
        load_session(p)
    text = _one_line(ei.value, p)
    assert "not a calf companion session file" in text
    assert expect in text


def test_other_arrow_stream(tmp_path: Path) -> None:
    p = tmp_path / "other.arrows"
    table = pa.table({"x": [1, 2, 3]})
    with pa.OSFile(str(p), "wb") as f, pa.ipc.new_stream(f, table.schema) as w:
        w.write_table(table)
    with pytest.raises(SessionFileError, match="not a calf companion session"):
        load_session(p)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(SessionFileError, match="does not exist"):
        load_session(tmp_path / "nope.calf")
    with pytest.raises(SessionFileError, match="folder"):
        load_session(tmp_path)


def test_truncated_in_header(good_file: Path) -> None:
    good_file.write_bytes(good_file.read_bytes()[:40])
    with pytest.raises(SessionFileError) as ei:
        load_session(good_file)
    assert "truncated or corrupted in its header" in _one_line(ei.value, good_file)


def test_truncated_tail_is_recovered(good_file: Path) -> None:
    full = load_session(good_file)
    data = good_file.read_bytes()
    good_file.write_bytes(data[: int(len(data) * 0.6)])
    s, report = load_session_with_report(good_file)
    assert report.truncated
    assert "ends mid-write" in report.warnings[0]
    # Whatever was recovered is an exact prefix of what was written.
    for k, c in s.chunks.items():
        n = len(c)
        assert c.equals(full.chunks[k].slice(0, n))


def test_corrupted_bytes_detected(good_file: Path) -> None:
    data = bytearray(good_file.read_bytes())
    # Flip bytes well inside the data (past the header), as a bad disk would.
    for i in range(len(data) // 2, len(data) // 2 + 64, 7):
        data[i] ^= 0x5A
    good_file.write_bytes(bytes(data))
    with pytest.raises(SessionFileError) as ei:
        load_session(good_file)
    text = _one_line(ei.value, good_file)
    assert "corrupted" in text
    assert "record batch" in text


def test_newer_version(tmp_path: Path) -> None:
    p = tmp_path / "future.calf"
    s = make_session(10)
    write_session(p, s)
    reader = pa.ipc.open_stream(p)
    header = json.loads(reader.schema.metadata[HEADER_KEY])
    header["format_version"] = FORMAT_VERSION + 1
    schema = reader.schema.with_metadata({HEADER_KEY: json.dumps(header).encode()})
    table = reader.read_all()
    q = tmp_path / "future2.calf"
    with pa.OSFile(str(q), "wb") as f, pa.ipc.new_stream(f, schema) as w:
        w.write_table(table.replace_schema_metadata(schema.metadata))
    with pytest.raises(SessionFileError) as ei:
        load_session(q)
    text = _one_line(ei.value, q)
    assert f"version {FORMAT_VERSION + 1}" in text
    assert "Upgrade companion" in text


# -- crash safety ------------------------------------------------------------------------------
RECORDER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from companion.model import ImuChunk, Placement, SensorInfo
    from companion.storage import SessionWriter

    shin = SensorInfo(sensor_id="shin_left", family="simulated",
                      placement=Placement(segment="shin", side="left"), sampling_rate_hz=100.0)
    foot = SensorInfo(sensor_id="foot_left", family="simulated",
                      placement=Placement(segment="foot", side="left"), sampling_rate_hz=100.0)
    t0 = time.monotonic()
    print(t0, flush=True)
    w = SessionWriter(sys.argv[1], sensors=[shin, foot])
    k = 0
    while True:
        t = time.monotonic() - t0
        for s in (shin, foot):
            w.write_chunk(ImuChunk(sensor_id=s.sensor_id, placement=s.placement, t_s=[t],
                                   acc_m_s2=[[0.0, 0.0, 9.81]], gyr_dps=[[k, 0.0, 0.0]]))
        k += 1
        time.sleep(0.01)
    """
)


def test_sigkill_mid_recording_keeps_all_but_last_second(tmp_path: Path) -> None:
    p = tmp_path / "killed.calf"
    proc = subprocess.Popen(
        [sys.executable, "-c", RECORDER, str(p)], stdout=subprocess.PIPE, text=True
    )
    try:
        t0 = float(proc.stdout.readline())  # type: ignore[union-attr]
        time.sleep(3.0)
        t_kill = time.monotonic() - t0
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
        proc.stdout.close()  # type: ignore[union-attr]
    s, _report = load_session_with_report(p)
    for k in ("shin_left", "foot_left"):
        c = s.chunks[k]
        assert len(c) > 50
        assert c.t_s[-1] >= t_kill - 1.0, (k, c.t_s[-1], t_kill)
        # Rows are consecutive: nothing in the middle was lost.
        np.testing.assert_array_equal(c.gyr_dps[:, 0], np.arange(len(c)))
