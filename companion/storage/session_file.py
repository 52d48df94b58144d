"""The session file, format version 1: an Arrow IPC *stream* of samples plus JSON metadata.

The full specification (every column, every metadata key, the versioning rules and why this
format was chosen) is in ``docs/session-file.md``; this docstring is the short form.

* The file is one Arrow IPC stream (``pyarrow.ipc.open_stream`` reads it). Its schema metadata
  holds the header as JSON under ``calf.session`` (format and app version, start time, sensors
  with placement, rate and axis mapping, plan, notes, calibration, reference-track names).
* Each record batch holds rows of one sensor (or one reference track): ``sensor``, ``t_s``,
  ``acc_{x,y,z}_m_s2``, ``gyr_{x,y,z}_dps``, ``quat_{w,x,y,z}`` (nullable), ``counter``
  (nullable), ``value`` (reference tracks only). A batch's custom metadata carries a CRC-32 of
  its buffers (``calf.crc32``) and any metadata that arrived while recording (``calf.events``:
  gaps, annotations, calibration, notes). Zero-row batches carry metadata only.
* While recording, batches are written and flushed at least every 0.5 s, so a recorder killed
  with SIGKILL leaves a file holding everything up to the last flush. The reader recovers such a
  file and says so (:attr:`LoadReport.truncated`).

Load into pandas in three lines (documented for researchers)::

    import pyarrow as pa
    df = pa.ipc.open_stream("session.calf").read_pandas()
    shin = df[df.sensor == "shin_left"]
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa

from companion import __version__
from companion.errors import SessionFileError
from companion.model import Gap, ImuChunk, ReferenceTrack, SensorInfo, Session

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "SUFFIX",
    "LoadReport",
    "SessionWriter",
    "check_writable_session_path",
    "load_session",
    "load_session_with_report",
    "write_session",
]

FORMAT_NAME = "calf-companion-session"
FORMAT_VERSION = 1
SUFFIX = ".calf"
HEADER_KEY = b"calf.session"
EVENTS_KEY = b"calf.events"
CRC_KEY = b"calf.crc32"
FLUSH_INTERVAL_S = 0.5  # crash-safety budget: a SIGKILL loses at most this much (plus one write)
_ARROW_CONTINUATION = b"\xff\xff\xff\xff"
_END_MARKER = _ARROW_CONTINUATION + b"\x00\x00\x00\x00"

SCHEMA_FIELDS: list[pa.Field] = [
    pa.field("t_s", pa.float64(), nullable=False),
    pa.field("acc_x_m_s2", pa.float64()),
    pa.field("acc_y_m_s2", pa.float64()),
    pa.field("acc_z_m_s2", pa.float64()),
    pa.field("gyr_x_dps", pa.float64()),
    pa.field("gyr_y_dps", pa.float64()),
    pa.field("gyr_z_dps", pa.float64()),
    pa.field("quat_w", pa.float64()),
    pa.field("quat_x", pa.float64()),
    pa.field("quat_y", pa.float64()),
    pa.field("quat_z", pa.float64()),
    pa.field("counter", pa.int64()),
    pa.field("value", pa.float64()),
]
_IMU_COLS = ["acc_x_m_s2", "acc_y_m_s2", "acc_z_m_s2", "gyr_x_dps", "gyr_y_dps", "gyr_z_dps"]
_QUAT_COLS = ["quat_w", "quat_x", "quat_y", "quat_z"]


@dataclass(slots=True)
class LoadReport:
    """What the reader had to say about a file it could read."""

    truncated: bool = False
    """The file ended mid-write (a recorder that was killed): everything before was recovered."""
    warnings: list[str] = field(default_factory=list)
    n_batches: int = 0


def _schema(stream_names: list[str], header: dict[str, Any]) -> pa.Schema:
    sensor = pa.field("sensor", pa.dictionary(pa.int16(), pa.string()), nullable=False)
    meta = {HEADER_KEY: json.dumps(header, sort_keys=True).encode()}
    return pa.schema([sensor, *SCHEMA_FIELDS], metadata=meta)


def _batch_crc(batch: pa.RecordBatch) -> int:
    crc = 0
    for col in batch.columns:
        for buf in col.buffers():
            if buf is not None:
                crc = zlib.crc32(memoryview(buf), crc)
        if isinstance(col, pa.DictionaryArray):
            for buf in col.dictionary.buffers():
                if buf is not None:
                    crc = zlib.crc32(memoryview(buf), crc)
    return crc


def _header_from_session_fields(
    *,
    sensors: list[SensorInfo],
    reference_names: list[str],
    start_time_utc: str,
    plan: dict[str, Any] | None,
    calibration: dict[str, Any] | None,
    notes: str,
    source: str,
    extra: dict[str, Any],
) -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "app_version": __version__,
        "start_time_utc": start_time_utc,
        "sensors": [s.to_dict() for s in sensors],
        "reference_tracks": list(reference_names),
        "plan": plan,
        "calibration": calibration,
        "notes": notes,
        "source": source,
        "extra": extra,
    }


class SessionWriter:
    """Write a session file incrementally; safe against the process being killed.

    The file is created exclusively (an existing file is never overwritten). Rows are
    buffered and written as record batches; :meth:`write_chunk` flushes by itself once
    :data:`FLUSH_INTERVAL_S` has passed since the last flush, and :meth:`flush` forces it.

    Parameters
    ----------
    path
        Destination; must not exist.
    sensors
        Every sensor of the session (ids must be unique).
    reference_names
        Names of reference tracks that will be written (e.g. the simulator's truth).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        sensors: list[SensorInfo],
        reference_names: Iterable[str] = (),
        start_time_utc: str = "",
        plan: dict[str, Any] | None = None,
        calibration: dict[str, Any] | None = None,
        notes: str = "",
        source: str = "",
        extra: dict[str, Any] | None = None,
        flush_interval_s: float = FLUSH_INTERVAL_S,
    ) -> None:
        self.path = Path(path)
        ids = [s.sensor_id for s in sensors]
        refs = list(reference_names)
        names = ids + refs
        if len(set(names)) != len(names):
            msg = f"sensor ids and reference names must be unique, got {names}"
            raise ValueError(msg)
        self._codes = {name: i for i, name in enumerate(names)}
        self._dictionary = pa.array(names, type=pa.string())
        self._sensors = {s.sensor_id: s for s in sensors}
        header = _header_from_session_fields(
            sensors=sensors,
            reference_names=refs,
            start_time_utc=start_time_utc,
            plan=plan,
            calibration=calibration,
            notes=notes,
            source=source,
            extra=extra or {},
        )
        self.schema = _schema(names, header)
        try:
            self._fh: BinaryIO = open(self.path, "xb")
        except FileExistsError:
            raise SessionFileError(
                self.path, "already exists", advice="Choose another name; nothing was overwritten."
            ) from None
        except OSError as exc:
            raise SessionFileError(self.path, f"cannot be created ({exc.strerror})") from None
        self._writer = pa.ipc.new_stream(
            self._fh, self.schema, options=pa.ipc.IpcWriteOptions(compression="lz4")
        )
        self._fh.flush()
        self._pending: list[tuple[pa.RecordBatch, dict[bytes, bytes]]] = []
        self._events: dict[str, Any] = {}
        self._flush_interval_s = flush_interval_s
        self._last_flush = time.monotonic()
        self._closed = False

    # -- writing ---------------------------------------------------------------------------
    def _make_batch(self, name: str, n: int, cols: dict[str, Any]) -> pa.RecordBatch:
        codes = pa.array(np.full(n, self._codes[name], dtype=np.int16))
        arrays: list[pa.Array] = [pa.DictionaryArray.from_arrays(codes, self._dictionary)]
        for f in SCHEMA_FIELDS:
            if f.name in cols and cols[f.name] is not None:
                arrays.append(pa.array(cols[f.name], type=f.type))
            else:
                arrays.append(pa.nulls(n, type=f.type))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def write_chunk(self, chunk: ImuChunk) -> None:
        """Queue a chunk of one sensor's samples (flushed within the flush interval)."""
        if chunk.sensor_id not in self._sensors:
            msg = f"unknown sensor {chunk.sensor_id!r}; declared: {sorted(self._sensors)}"
            raise ValueError(msg)
        n = len(chunk)
        if n == 0:
            return
        cols: dict[str, Any] = {"t_s": chunk.t_s}
        for i, c in enumerate(_IMU_COLS[:3]):
            cols[c] = chunk.acc_m_s2[:, i]
        for i, c in enumerate(_IMU_COLS[3:]):
            cols[c] = chunk.gyr_dps[:, i]
        if chunk.quat_wxyz is not None:
            for i, c in enumerate(_QUAT_COLS):
                cols[c] = chunk.quat_wxyz[:, i]
        if chunk.counter is not None:
            cols["counter"] = chunk.counter
        self._pending.append((self._make_batch(chunk.sensor_id, n, cols), {}))
        self._maybe_flush()

    def write_reference(self, track: ReferenceTrack) -> None:
        """Queue rows of a reference track declared in ``reference_names``."""
        if track.name not in self._codes or track.name in self._sensors:
            msg = f"reference track {track.name!r} was not declared when the file was created"
            raise ValueError(msg)
        n = len(track.t_s)
        if n:
            batch = self._make_batch(track.name, n, {"t_s": track.t_s, "value": track.values})
            self._pending.append((batch, {}))
        self._maybe_flush()

    def add_gap(self, gap: Gap) -> None:
        self._events.setdefault("gaps", []).append(gap.to_dict())
        self._maybe_flush()

    def add_annotation(self, annotation: dict[str, Any]) -> None:
        if "kind" not in annotation:
            msg = "an annotation needs a 'kind'"
            raise ValueError(msg)
        self._events.setdefault("annotations", []).append(annotation)
        self._maybe_flush()

    def set_calibration(self, calibration: dict[str, Any] | None) -> None:
        self._events["calibration"] = calibration
        self._maybe_flush()

    def set_notes(self, notes: str) -> None:
        self._events["notes"] = notes
        self._maybe_flush()

    def set_plan(self, plan: dict[str, Any] | None) -> None:
        self._events["plan"] = plan
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self._flush_interval_s:
            self.flush()

    def flush(self) -> None:
        """Write every queued batch and hand the bytes to the OS."""
        if self._closed:
            return
        if self._events:
            empty = self._make_batch(next(iter(self._codes)), 0, {})
            self._pending.append((empty, {EVENTS_KEY: json.dumps(self._events).encode()}))
            self._events = {}
        for batch, meta in self._pending:
            meta = {**meta, CRC_KEY: str(_batch_crc(batch)).encode()}
            self._writer.write_batch(batch, custom_metadata=meta)
        self._pending.clear()
        self._fh.flush()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        """Flush, write the end-of-stream marker and fsync."""
        if self._closed:
            return
        self.flush()
        self._writer.close()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._closed = True

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_writable_session_path(path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
    """Raise :class:`SessionFileError` now if ``path`` cannot take a new session file.

    Commands call it before long work (an import, a simulation) so a mistyped ``--out`` fails
    at once instead of after the work; :func:`write_session` checks again when writing.
    """
    path = Path(path)
    if path.is_dir():
        raise SessionFileError(
            path, "is a folder", advice="Give a file name such as session.calf inside it."
        )
    if path.exists() and not overwrite:
        raise SessionFileError(
            path, "already exists", advice="Choose another name; nothing was overwritten."
        )
    if not path.parent.is_dir():
        raise SessionFileError(
            path,
            f"cannot be written: the folder {path.parent} does not exist",
            advice="Create it first or choose another place.",
        )
    if not os.access(path.parent, os.W_OK):
        raise SessionFileError(
            path,
            f"cannot be written: the folder {path.parent} is read-only",
            advice="Choose a folder you can write to.",
        )


def write_session(
    path: str | os.PathLike[str], session: Session, *, overwrite: bool = False
) -> None:
    """Write a whole in-memory session to ``path`` atomically.

    The data goes to a temporary file beside ``path`` first and is moved into place only
    when complete, so a failure never leaves a half-written file and never touches an
    existing one. Without ``overwrite`` an existing ``path`` is an error.
    """
    path = Path(path)
    check_writable_session_path(path, overwrite=overwrite)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        with SessionWriter(
            tmp,
            sensors=session.sensors,
            reference_names=list(session.references),
            start_time_utc=session.start_time_utc,
            plan=session.plan,
            calibration=session.calibration,
            notes=session.notes,
            source=session.source,
            extra=session.extra,
            flush_interval_s=float("inf"),
        ) as w:
            for sensor in session.sensors:
                chunk = session.chunks.get(sensor.sensor_id)
                if chunk is not None:
                    # Batches of ~64k rows keep memory flat for long sessions.
                    for start in range(0, len(chunk), 65536):
                        w.write_chunk(chunk.slice(start, start + 65536))
            for track in session.references.values():
                w.write_reference(track)
            for gap in session.gaps:
                w.add_gap(gap)
            for ann in session.annotations:
                w.add_annotation(ann)
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # atomic, and fails instead of overwriting
            tmp.unlink()
    except FileExistsError:
        tmp.unlink(missing_ok=True)
        raise SessionFileError(
            path, "already exists", advice="Choose another name; nothing was overwritten."
        ) from None
    except SessionFileError as exc:
        tmp.unlink(missing_ok=True)
        if exc.path != str(tmp):
            raise
        # Name the file the user asked for, not the hidden temporary beside it.
        advice = exc.advice or "Choose a folder you can write to."
        raise SessionFileError(path, exc.problem, where=exc.where, advice=advice) from None
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SessionFileError(
            path,
            f"cannot be written ({exc.strerror or exc})",
            advice="Check the free space and the folder; nothing was written.",
        ) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# -- reading -----------------------------------------------------------------------------------
_EXPORT_HINT = (
    " (if it is a sensor export, add --from FORMAT, or convert it with `companion import`)"
)


def _sniff_kind(head: bytes) -> str:
    if head.startswith(b"PAR1"):
        return "a Parquet file"
    if head.startswith(b"ARROW1"):
        return "an Arrow IPC file (random-access format), not a stream"
    if head.startswith(b"\x1f\x8b"):
        return f"a gzip-compressed file{_EXPORT_HINT}"
    if head.startswith(b"PK"):
        return "a ZIP archive"
    if head.startswith(b"\x89PNG"):
        return "a PNG image"
    if head.startswith(b"SQLite format"):
        return "an SQLite database"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data of another kind"
    if text.lstrip().startswith(("{", "[")):
        return "a JSON text file"
    if "," in text or "\t" in text or ";" in text:
        return f"a CSV/TSV text file{_EXPORT_HINT}"
    return f"a text file{_EXPORT_HINT}"


def load_session(path: str | os.PathLike[str]) -> Session:
    """Read a session file; raise :class:`SessionFileError` with one clear sentence if not."""
    return load_session_with_report(path)[0]


def load_session_with_report(path: str | os.PathLike[str]) -> tuple[Session, LoadReport]:
    """Read a session file and say what had to be recovered (see :class:`LoadReport`)."""
    path = Path(path)
    report = LoadReport()
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(16)
    except FileNotFoundError:
        raise SessionFileError(path, "does not exist", advice="Check the path.") from None
    except IsADirectoryError:
        raise SessionFileError(
            path, "is a folder, not a session file", advice="Name a .calf file inside it."
        ) from None
    except OSError as exc:
        raise SessionFileError(path, f"cannot be read ({exc.strerror})") from None
    if size == 0:
        raise SessionFileError(
            path,
            "is empty (0 bytes)",
            advice="Nothing was ever written to it; record again or pick another file.",
        )
    if not head.startswith(_ARROW_CONTINUATION):
        raise SessionFileError(
            path, f"is not a calf companion session file: it looks like {_sniff_kind(head)}"
        )

    src = pa.memory_map(str(path), "r")
    try:
        reader = pa.ipc.open_stream(src)
    except (pa.ArrowException, OSError) as exc:
        raise SessionFileError(
            path,
            f"is truncated or corrupted in its header ({_short(exc)})",
            where="byte 0",
            advice="It cannot be recovered.",
        ) from None
    meta = reader.schema.metadata or {}
    if HEADER_KEY not in meta:
        raise SessionFileError(path, "is an Arrow stream but not a calf companion session file")
    try:
        header = json.loads(meta[HEADER_KEY])
    except ValueError:
        raise SessionFileError(
            path, "has a corrupted header (invalid JSON)", where="header"
        ) from None
    _check_header(path, header)

    batches: list[pa.RecordBatch] = []
    events: list[dict[str, Any]] = []
    while True:
        offset = src.tell()
        try:
            batch, custom = reader.read_next_batch_with_custom_metadata()
        except StopIteration:
            if not _ends_with_end_marker(path, src.tell()):
                # ended on a message boundary (perhaps after a dictionary message) but
                # without the end-of-stream marker: the writer was stopped there
                _note_truncated(report, offset, batches)
            break
        except (pa.ArrowInvalid, OSError, pa.ArrowException) as exc:
            if _ends_mid_message(path, offset, size, exc):
                _note_truncated(report, offset, batches)
                break
            raise SessionFileError(
                path,
                f"is corrupted ({_short(exc)})",
                where=f"record batch {report.n_batches} at byte {offset}",
            ) from None
        report.n_batches += 1
        custom = custom or {}
        try:
            crc_ok = CRC_KEY not in custom or int(custom[CRC_KEY]) == _batch_crc(batch)
        except (ValueError, pa.ArrowException) as exc:  # a damaged schema or CRC text
            raise SessionFileError(
                path,
                f"is corrupted ({_short(exc)})",
                where=f"record batch {report.n_batches - 1} at byte {offset}",
                advice="Restore it from a backup.",
            ) from None
        if not crc_ok:
            raise SessionFileError(
                path,
                "is corrupted (checksum mismatch)",
                where=f"record batch {report.n_batches - 1} at byte {offset}",
                advice="The bytes changed after they were written; restore it from a backup.",
            )
        if EVENTS_KEY in custom:
            try:
                events.append(json.loads(custom[EVENTS_KEY]))
            except ValueError:
                raise SessionFileError(
                    path, "has corrupted metadata", where=f"record batch {report.n_batches - 1}"
                ) from None
        if batch.num_rows:
            batches.append(batch)
    if src.tell() < size and not report.truncated:
        report.warnings.append(f"{size - src.tell()} bytes after the end-of-stream marker ignored")
    try:
        session = _build_session(header, batches, events, reader.schema)
    except KeyError as exc:
        key = exc.args[0] if exc.args else ""
        if not isinstance(key, str) or not key.isidentifier():  # Arrow: a column is missing
            raise SessionFileError(
                path,
                f"has inconsistent contents ({_short(exc)})",
                advice="It cannot be read; restore it from a backup.",
            ) from None
        raise SessionFileError(
            path,
            f"has a corrupted header (the entry {exc.args[0]!r} is missing)",
            where="header",
            advice="It cannot be read; restore it from a backup.",
        ) from None
    except (ValueError, TypeError, AttributeError, IndexError, pa.ArrowException) as exc:
        raise SessionFileError(
            path,
            f"has inconsistent contents ({_short(exc)})",
            advice="It cannot be read; restore it from a backup.",
        ) from None
    return session, report


def _note_truncated(report: LoadReport, offset: int, batches: list[pa.RecordBatch]) -> None:
    report.truncated = True
    if batches:
        kept = f"everything up to t = {_last_time(batches):.1f} s was recovered"
    else:
        kept = "no samples had been written yet"
    report.warnings.append(
        f"the file ends mid-write at byte {offset} (the recorder was stopped abruptly); {kept}"
    )


def _ends_with_end_marker(path: Path, stop: int) -> bool:
    """Whether the stream that stopped at byte ``stop`` ended with the end-of-stream marker."""
    if stop < len(_END_MARKER):
        return False
    try:
        with open(path, "rb") as fh:
            fh.seek(stop - len(_END_MARKER))
            return fh.read(len(_END_MARKER)) == _END_MARKER
    except OSError:
        return False


def _ends_mid_message(path: Path, offset: int, size: int, exc: BaseException) -> bool:
    """Whether the message at ``offset`` failed because the file ends inside it (truncation).

    A message starts with the continuation marker and its metadata length; when the file is
    shorter than that, or Arrow says it ran out of bytes, the writer was stopped mid-write.
    Anything else (bytes present but wrong) is corruption.
    """
    # A batch read may first read dictionary messages: walk every message from ``offset``
    # and judge the one that failed (the last one reached).
    try:
        data = pa.memory_map(str(path), "r").read_buffer()
    except (OSError, pa.ArrowException):
        return False
    pos = offset
    while True:
        if pos + 8 > size:
            return True
        prefix = data.slice(pos, 8).to_pybytes()
        if prefix[:4] != _ARROW_CONTINUATION:
            break
        meta_len = int.from_bytes(prefix[4:8], "little", signed=True)
        if meta_len <= 0:
            break
        if pos + 8 + meta_len > size:
            return True
        try:
            message = pa.ipc.read_message(data.slice(pos))
        except (pa.ArrowException, OSError):
            break
        nxt = pos + 8 + meta_len + message.body.size
        if nxt > size:
            return True
        pos = nxt
    text = str(exc)
    return (
        "Expected to be able to read" in text
        or "but only read" in text
        or "EOF" in text
        or "only 0 bytes available" in text
    )


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _last_time(batches: list[pa.RecordBatch]) -> float:
    if not batches:
        return 0.0
    return float(max(b.column("t_s")[-1].as_py() for b in batches))


def _check_header(path: Path, header: Any) -> None:
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise SessionFileError(path, "is an Arrow stream but not a calf companion session file")
    version = header.get("format_version")
    if not isinstance(version, int):
        raise SessionFileError(path, "has no valid format_version in its header", where="header")
    if version > FORMAT_VERSION:
        raise SessionFileError(
            path,
            f"was written in session format version {version} by companion "
            f"{header.get('app_version', '?')}; this companion ({__version__}) reads up to "
            f"version {FORMAT_VERSION}",
            advice="Upgrade companion to open it.",
        )
    if version < 1:
        raise SessionFileError(path, f"has an invalid format_version {version}", where="header")


def _build_session(
    header: dict[str, Any],
    batches: list[pa.RecordBatch],
    events: list[dict[str, Any]],
    schema: pa.Schema,
) -> Session:
    sensors = [SensorInfo.from_dict(d) for d in header["sensors"]]
    by_id = {s.sensor_id: s for s in sensors}
    ref_names = list(header.get("reference_tracks", []))
    plan = header.get("plan")
    calibration = header.get("calibration")
    notes = header.get("notes", "")
    gaps: list[Gap] = []
    annotations: list[dict[str, Any]] = []
    for ev in events:
        gaps.extend(Gap.from_dict(g) for g in ev.get("gaps", []))
        annotations.extend(ev.get("annotations", []))
        if "calibration" in ev:
            calibration = ev["calibration"]
        if "notes" in ev:
            notes = ev["notes"]
        if "plan" in ev:
            plan = ev["plan"]

    # Group batches by stream without decoding the dictionary per row: every batch holds rows
    # of exactly one stream (the writer guarantees it), so its first code names it.
    per_stream: dict[str, list[pa.RecordBatch]] = {}
    for b in batches:
        col = b.column("sensor")
        name = col.dictionary[col.indices[0].as_py()].as_py()
        per_stream.setdefault(name, []).append(b)

    chunks: dict[str, ImuChunk] = {}
    references: dict[str, ReferenceTrack] = {}
    for name, bs in per_stream.items():
        table = pa.Table.from_batches(bs, schema=schema)
        t_s = table.column("t_s").to_numpy()
        if name in by_id:
            s = by_id[name]
            acc = np.column_stack([_f64(table, c) for c in _IMU_COLS[:3]])
            gyr = np.column_stack([_f64(table, c) for c in _IMU_COLS[3:]])
            quat = None
            if table.column("quat_w").null_count < table.num_rows:
                quat = np.column_stack([_f64(table, c) for c in _QUAT_COLS])
            counter = None
            cnt = table.column("counter")
            if cnt.null_count < table.num_rows:
                counter = cnt.to_numpy(zero_copy_only=False).astype(np.int64)
            chunks[name] = ImuChunk(
                sensor_id=name,
                placement=s.placement,
                t_s=t_s,
                acc_m_s2=acc,
                gyr_dps=gyr,
                quat_wxyz=quat,
                counter=counter,
            )
        elif name in ref_names:
            references[name] = ReferenceTrack(name=name, t_s=t_s, values=_f64(table, "value"))
        else:
            msg = f"rows of undeclared stream {name!r}"
            raise ValueError(msg)
    # Keep declared order; sensors that delivered nothing get an empty chunk.
    ordered: dict[str, ImuChunk] = {}
    for s in sensors:
        ordered[s.sensor_id] = chunks.get(s.sensor_id) or ImuChunk(
            sensor_id=s.sensor_id,
            placement=s.placement,
            t_s=np.empty(0),
            acc_m_s2=np.empty((0, 3)),
            gyr_dps=np.empty((0, 3)),
        )
    refs_ordered = {n: references[n] for n in ref_names if n in references}
    return Session(
        sensors=sensors,
        chunks=ordered,
        start_time_utc=header.get("start_time_utc", ""),
        app_version=header.get("app_version", ""),
        gaps=gaps,
        annotations=annotations,
        references=refs_ordered,
        plan=plan,
        calibration=calibration,
        notes=notes,
        source=header.get("source", ""),
        extra=header.get("extra", {}) or {},
    )


def _f64(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name)
    if col.null_count:
        return col.to_numpy(zero_copy_only=False).astype(np.float64)  # nulls -> NaN
    return col.to_numpy()
