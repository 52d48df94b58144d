"""Any CSV/TSV described by a small TOML map (``--from generic --map MAP.toml``).

The map is documented in ``docs/import.md``; examples live in ``docs/maps/``. In short::

    [format]                 # optional, how the table is laid out
    delimiter = ","          # ",", ";", "tab", "whitespace"
    decimal = "."            # "." or ","
    skip_rows = 0            # lines before the header (titles, metadata)
    header_rows = 1          # rows forming column names; several are joined with "/"
                             # (sensor / quantity / axis, as APDM-style exports do)
    # line_regex = '^t=(?P<t>[0-9]+) ax=(?P<ax>[^ ]+) ...'  # free-text logs instead of a
                             # table: one row per matching line, named groups = columns

    [time]
    column = "time_ms"       # or an integer column index (0-based)
    unit = "ms"              # s, ms, us, ns, or "iso" (ISO 8601 date-times)
    # rate_hz = 100.0        # instead of a column: evenly spaced samples at this rate

    [[sensor]]
    segment = "foot"         # shin | foot; leave out to place per file (flags / rule)
    side = "right"           # left | right; leave out to take it from --side
    files = "*.csv"          # optional glob: which files hold this sensor
    acc = ["ax", "ay", "az"]
    acc_unit = "m/s2"        # g, mg, m/s2 — required, never guessed
    gyr = ["gx", "gy", "gz"]
    gyr_unit = "deg/s"       # deg/s, rad/s, mdps — required, never guessed
    quat = ["qw", "qx", "qy", "qz"]   # optional, with
    quat_order = "wxyz"      # "wxyz" (scalar first) or "xyzw" (scalar last) — required
    counter = "packet"       # optional sample counter column (integers)

    [[reference]]            # optional per-sample reference signals
    name = "encoder_ankle_deg"
    column = "angle_deg"
    scale = 1.0              # value = raw * scale + offset
    offset = 0.0

    [placements]             # optional, also honoured by the vendor formats
    "1_*" = "foot_left"      # selector (glob over file/device names) = placement
"""

from __future__ import annotations

import csv
import fnmatch
import io
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from companion.errors import ImportFormatError
from companion.importers._common import (
    ACC_UNITS_TO_M_S2,
    GYR_UNITS_TO_DPS,
    TIME_UNITS_TO_S,
    PlacementRule,
    SensorSeries,
    number_text,
    one_line,
    parse_placement,
    parse_side,
    read_text,
    unit_factor,
    whole_number_counter,
)
from companion.model import Placement, Segment

__all__ = ["ImportMap", "MapSensor", "load_map", "read_generic"]

Column = str | int


@dataclass(frozen=True, slots=True, kw_only=True)
class MapSensor:
    """One ``[[sensor]]`` entry of a map."""

    index: int
    segment: Segment | None
    side: str | None
    files: str | None
    acc: tuple[Column, Column, Column]
    acc_unit: str
    gyr: tuple[Column, Column, Column]
    gyr_unit: str
    quat: tuple[Column, Column, Column, Column] | None
    quat_order: str
    counter: Column | None
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MapReference:
    name: str
    column: Column
    scale: float
    offset: float
    files: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportMap:
    """A parsed, validated map file."""

    path: Path
    delimiter: str
    decimal: str
    skip_rows: int
    header_rows: int
    line_regex: re.Pattern[str] | None
    time_column: Column | None
    time_unit: str
    rate_hz: float | None
    sensors: tuple[MapSensor, ...]
    references: tuple[MapReference, ...]
    placement_rule: PlacementRule | None


def _err(path: Path, where: str, problem: str, advice: str) -> ImportFormatError:
    return ImportFormatError(f"map {path.name}, {where}: {problem}; {advice}")


def _column(path: Path, where: str, v: Any) -> Column:
    if isinstance(v, bool) or not isinstance(v, str | int):
        raise _err(
            path, where, f"{v!r} is not a column name or index", "write a name or a 0-based index"
        )
    return v


def _columns(path: Path, where: str, v: Any, n: int) -> tuple[Column, ...]:
    if not isinstance(v, list) or len(v) != n:
        raise _err(
            path, where, f"needs a list of {n} columns, got {v!r}", f"write {n} column names"
        )
    return tuple(_column(path, where, x) for x in v)


_FORMAT_KEYS = ("decimal", "delimiter", "header_rows", "line_regex", "skip_rows")
_TIME_KEYS = ("column", "rate_hz", "unit")
_SENSOR_KEYS = (
    "acc", "acc_unit", "counter", "files", "gyr", "gyr_unit", "name", "quat", "quat_order",
    "segment", "side",
)  # fmt: skip
_REFERENCE_KEYS = ("column", "files", "name", "offset", "scale")


def _table(path: Path, where: str, v: Any, known: tuple[str, ...]) -> dict[str, Any]:
    """``v`` as a TOML table holding only ``known`` keys (a typo is an error, never ignored)."""
    if not isinstance(v, dict):
        raise _err(path, where, f"must be a table, got {v!r}", f"write {where} as a TOML table")
    unknown = sorted(set(v) - set(known))
    if unknown:
        raise _err(
            path,
            where,
            f"unknown key(s) {', '.join(unknown)}",
            f"use only {', '.join(known)} (check the spelling)",
        )
    return v


def _tables(path: Path, where: str, v: Any, known: tuple[str, ...]) -> list[dict[str, Any]]:
    if not isinstance(v, list):
        raise _err(path, where, f"must be an array of tables, got {v!r}", f"write {where} blocks")
    return [_table(path, f"{where} #{i}", x, known) for i, x in enumerate(v, start=1)]


def _number(path: Path, where: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise _err(path, where, f"{v!r} is not a number", "write a plain number such as 1.0")
    return float(v)


def load_map(path: Path, *, fmt: str = "generic") -> ImportMap:
    """Read and check a TOML map; every problem is one :class:`ImportFormatError` sentence."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"map {path}: no such file; check the --map path"
        raise ImportFormatError(msg) from None
    except IsADirectoryError:
        tomls = sorted(q.name for q in path.glob("*.toml"))[:3]
        inside = f" such as {', '.join(tomls)}" if tomls else ""
        msg = f"map {path}: is a folder; give one TOML map file{inside}"
        raise ImportFormatError(msg) from None
    except UnicodeDecodeError:
        msg = f"map {path}: is not a text file (a map is TOML text); check the --map path"
        raise ImportFormatError(msg) from None
    except OSError as exc:
        msg = f"map {path}: cannot be read ({one_line(exc)}); check the file"
        raise ImportFormatError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"map {path.name}: not valid TOML ({one_line(exc)}); fix the syntax"
        raise ImportFormatError(msg) from None
    known = {"format", "time", "sensor", "reference", "placements", "description"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise _err(
            path,
            "top level",
            f"unknown table(s) {', '.join(unknown)}",
            f"use only {', '.join(sorted(known))}",
        )

    rule = None
    if "placements" in doc:
        pl = doc["placements"]
        if not isinstance(pl, dict) or not pl:
            raise _err(
                path,
                "[placements]",
                "must map selectors to placements",
                'write e.g. "1_*" = "foot_left"',
            )
        entries = tuple(
            (str(k), parse_placement(str(v), context=f"map {path.name}, [placements]"))
            for k, v in pl.items()
        )
        rule = PlacementRule(entries=entries, origin=f"map {path.name}")

    describes_columns = any(k in doc for k in ("format", "time", "sensor", "reference"))
    if fmt != "generic":
        if describes_columns:
            raise _err(
                path,
                "top level",
                f"describes columns, which only --from generic reads (this import is --from {fmt})",
                "keep only a [placements] table, or use --from generic",
            )
        return ImportMap(
            path=path, delimiter=",", decimal=".", skip_rows=0, header_rows=1, line_regex=None,
            time_column=None, time_unit="s", rate_hz=None, sensors=(), references=(),
            placement_rule=rule,
        )  # fmt: skip

    if not isinstance(doc.get("description", ""), str):
        raise _err(path, "description", "must be text", 'write description = "..."')
    fmt_t = _table(path, "[format]", doc.get("format", {}), _FORMAT_KEYS)
    delim_txt = str(fmt_t.get("delimiter", ","))
    delimiter = {"tab": "\t", "\\t": "\t", "whitespace": "whitespace", "space": "whitespace"}.get(
        delim_txt.lower(), delim_txt
    )
    if delimiter not in (",", ";", "\t", "|", "whitespace"):
        raise _err(
            path,
            "[format] delimiter",
            f"{delim_txt!r} is not supported",
            'use ",", ";", "tab", "|" or "whitespace"',
        )
    decimal = str(fmt_t.get("decimal", "."))
    if decimal not in (".", ","):
        raise _err(path, "[format] decimal", f"{decimal!r} is not supported", 'use "." or ","')
    if decimal == delimiter:
        raise _err(
            path,
            "[format]",
            "decimal and delimiter are both ','",
            "a decimal comma needs another delimiter",
        )
    skip_rows = fmt_t.get("skip_rows", 0)
    header_rows = fmt_t.get("header_rows", 1)
    for nm, v in (("skip_rows", skip_rows), ("header_rows", header_rows)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise _err(
                path, f"[format] {nm}", f"{v!r} is not a row count", "write a whole number >= 0"
            )
    line_regex = None
    if "line_regex" in fmt_t:
        try:
            line_regex = re.compile(str(fmt_t["line_regex"]))
        except re.error as exc:
            raise _err(
                path,
                "[format] line_regex",
                f"not a valid regular expression ({one_line(exc)})",
                "fix the pattern",
            ) from None
        if not line_regex.groupindex:
            raise _err(
                path,
                "[format] line_regex",
                "has no named groups",
                "name each value (?P<column>...); the names become the columns",
            )
        header_rows = fmt_t.get("header_rows", 0)
    elif header_rows == 0:
        raise _err(
            path,
            "[format] header_rows",
            "0 header rows leave columns nameless",
            "use 1 or more (column indices still work)",
        )

    time_t = doc.get("time")
    if time_t is None:
        raise _err(path, "[time]", "missing", "add [time] with column and unit (or rate_hz)")
    time_t = _table(path, "[time]", time_t, _TIME_KEYS)
    rate_hz = time_t.get("rate_hz")
    time_col = time_t.get("column")
    if (rate_hz is None) == (time_col is None):
        raise _err(
            path,
            "[time]",
            "needs exactly one of column or rate_hz",
            "give the time column and its unit, or the declared rate",
        )
    unit = str(time_t.get("unit", ""))
    if time_col is not None:
        time_col = _column(path, "[time] column", time_col)
        if unit.lower() != "iso":
            unit_factor(
                unit,
                TIME_UNITS_TO_S,
                what="time",
                where=f"map {path.name}, [time] unit",
                advice="write s, ms, us, ns or iso",
            )
    elif not isinstance(rate_hz, int | float) or isinstance(rate_hz, bool) or not rate_hz > 0:
        raise _err(
            path, "[time] rate_hz", f"{rate_hz!r} is not a rate", "write the rate in Hz, e.g. 100.0"
        )

    sensors_t = doc.get("sensor")
    if not sensors_t:
        raise _err(path, "[[sensor]]", "no sensor described", "add one [[sensor]] table per IMU")
    sensors_t = _tables(path, "[[sensor]]", sensors_t, _SENSOR_KEYS)
    sensors = []
    for i, st in enumerate(sensors_t, start=1):
        w = f"sensor #{i}"
        for req in ("acc", "gyr"):
            if req not in st:
                raise _err(
                    path,
                    w,
                    f"has no {req} columns",
                    f"add {req} = [x, y, z] columns and {req}_unit",
                )
        for u in ("acc_unit", "gyr_unit"):
            if u not in st:
                ex = '"g" or "m/s2"' if u == "acc_unit" else '"deg/s" or "rad/s"'
                raise _err(
                    path,
                    w,
                    f"declares {u[:3]} columns but no {u} (units are never guessed)",
                    f"add {u} = {ex}",
                )
        unit_factor(
            str(st["acc_unit"]),
            ACC_UNITS_TO_M_S2,
            what="accelerometer",
            where=f"map {path.name}, {w}",
            advice="write g, mg or m/s2",
        )
        unit_factor(
            str(st["gyr_unit"]),
            GYR_UNITS_TO_DPS,
            what="gyroscope",
            where=f"map {path.name}, {w}",
            advice="write deg/s, rad/s or mdps",
        )
        quat = None
        order = ""
        if "quat" in st:
            quat = _columns(path, f"{w} quat", st["quat"], 4)
            order = str(st.get("quat_order", ""))
            if order not in ("wxyz", "xyzw"):
                raise _err(
                    path,
                    w,
                    f"quat_order {order!r} is missing or unknown",
                    'write quat_order = "wxyz" (scalar first) or "xyzw" (scalar last)',
                )
        seg = None
        if "segment" in st:
            seg_pl = parse_placement(f"{st['segment']} left", context=f"map {path.name}, {w}")
            seg = seg_pl.segment
        side = st.get("side")
        if side is not None:
            parse_side(str(side), context=f"map {path.name}, {w}")
            if seg is None:
                raise _err(path, w, "gives a side but no segment", 'add segment = "shin" or "foot"')
        files = st.get("files")
        sensors.append(
            MapSensor(
                index=i,
                segment=seg,
                side=None if side is None else str(side),
                files=None if files is None else str(files),
                acc=_columns(path, f"{w} acc", st["acc"], 3),  # type: ignore[arg-type]
                acc_unit=str(st["acc_unit"]),
                gyr=_columns(path, f"{w} gyr", st["gyr"], 3),  # type: ignore[arg-type]
                gyr_unit=str(st["gyr_unit"]),
                quat=quat,  # type: ignore[arg-type]
                quat_order=order,
                counter=None
                if "counter" not in st
                else _column(path, f"{w} counter", st["counter"]),
                name=str(st.get("name", "")),
            )
        )
    refs = []
    for j, rt in enumerate(
        _tables(path, "[[reference]]", doc.get("reference", []), _REFERENCE_KEYS), start=1
    ):
        w = f"reference #{j}"
        if "name" not in rt or "column" not in rt:
            raise _err(
                path,
                w,
                "needs name and column",
                'write name = "encoder_ankle_deg" and column = "..."',
            )
        refs.append(
            MapReference(
                name=str(rt["name"]),
                column=_column(path, w, rt["column"]),
                scale=_number(path, f"{w} scale", rt.get("scale", 1.0)),
                offset=_number(path, f"{w} offset", rt.get("offset", 0.0)),
                files=None if rt.get("files") is None else str(rt["files"]),
            )
        )
    return ImportMap(
        path=path,
        delimiter=delimiter,
        decimal=decimal,
        skip_rows=skip_rows,
        header_rows=header_rows,
        line_regex=line_regex,
        time_column=time_col,
        time_unit=unit,
        rate_hz=None if rate_hz is None else float(rate_hz),
        sensors=tuple(sensors),
        references=tuple(refs),
        placement_rule=rule,
    )


# -- reading -----------------------------------------------------------------------------------


def _header_names(rows: list[list[str]]) -> list[str]:
    """Column names from one or more header rows.

    With several rows (sensor / quantity / axis), a blank cell continues the cell to its
    left (merged cells), except in the last row; the non-empty parts are joined with "/".
    """
    width = max(len(r) for r in rows)
    filled = []
    for k, r in enumerate(rows):
        r = [c.strip() for c in r] + [""] * (width - len(r))
        if k < len(rows) - 1:
            last = ""
            out = []
            for c in r:
                last = c or last
                out.append(last)
            r = out
        filled.append(r)
    return ["/".join(p for p in parts if p) for parts in zip(*filled)]


@dataclass(frozen=True, slots=True)
class _Table:
    path: Path
    names: list[str]
    data: pd.DataFrame  # strings
    first_row: int
    skipped: tuple[int, str] | None = None
    """(count, first skipped line) of lines a line_regex did not match."""


def _read_lines(path: Path, imap: ImportMap, lines: list[str]) -> _Table:
    """Free-text logs: every line the map's ``line_regex`` matches is one row."""
    assert imap.line_regex is not None
    names = list(imap.line_regex.groupindex)
    rows = []
    first = None
    n_skip = 0
    first_skip = ""
    for no, ln in enumerate(lines[imap.skip_rows + imap.header_rows :], start=1):
        m = imap.line_regex.match(ln.strip())
        if m is None:
            if ln.strip():
                n_skip += 1
                first_skip = (
                    first_skip
                    or f"line {no + imap.skip_rows + imap.header_rows}: {ln.strip()[:60]!r}"
                )
            continue
        if first is None:
            first = no + imap.skip_rows + imap.header_rows
        rows.append([m.group(k) or "" for k in names])
    if not rows:
        msg = (
            f"{path.name}: no line matches the line_regex of map {imap.path.name} "
            f"({first_skip or 'the file is empty'}); fix the pattern or check the file"
        )
        raise ImportFormatError(msg)
    data = pd.DataFrame(rows, columns=range(len(names)), dtype=str)
    return _Table(
        path=path, names=names, data=data, first_row=first or 1,
        skipped=(n_skip, first_skip) if n_skip else None,
    )  # fmt: skip


def _read_table(path: Path, imap: ImportMap) -> _Table:
    text = read_text(path)
    lines = text.splitlines()
    if imap.line_regex is not None:
        return _read_lines(path, imap, lines)
    head_start = imap.skip_rows
    head_end = head_start + imap.header_rows
    if len(lines) <= head_end:
        msg = (
            f"{path.name}: has {len(lines)} lines, fewer than the map's skip_rows + header_rows "
            f"+ 1 = {head_end + 1}; check [format] in map {imap.path.name}"
        )
        raise ImportFormatError(msg)
    head = lines[head_start:head_end]
    if imap.delimiter == "whitespace":
        hrows = [ln.split() for ln in head]
    else:
        hrows = list(csv.reader(io.StringIO("\n".join(head)), delimiter=imap.delimiter))
    if len(hrows) < imap.header_rows or not any(c.strip() for r in hrows for c in r):
        msg = (
            f"{path.name}: the header (line(s) {head_start + 1}-{head_end}) is empty; check "
            f"[format] skip_rows and header_rows in map {imap.path.name}"
        )
        raise ImportFormatError(msg)
    names = _header_names(hrows)
    body = "\n".join(lines[head_end:])
    sep = r"\s+" if imap.delimiter == "whitespace" else imap.delimiter
    try:
        data = pd.read_csv(
            io.StringIO(body),
            sep=sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            engine="python" if imap.delimiter == "whitespace" else "c",
        )
    except pd.errors.EmptyDataError:
        msg = f"{path.name}: no data rows after the header; check the file and [format]"
        raise ImportFormatError(msg) from None
    except pd.errors.ParserError as exc:
        msg = (
            f"{path.name}: the rows do not split into the same columns ({one_line(exc)}); check "
            f"[format] delimiter in map {imap.path.name}"
        )
        raise ImportFormatError(msg) from None
    # Trailing delimiters make one extra empty column: drop it.
    while data.shape[1] > len(names) and (data.iloc[:, -1].str.strip() == "").all():
        data = data.iloc[:, :-1]
    return _Table(path=path, names=names, data=data, first_row=head_end + 1)


def _locate(table: _Table, col: Column, what: str, imap: ImportMap) -> int:
    n = table.data.shape[1]
    if isinstance(col, int):
        if 0 <= col < n:
            return col
        msg = (
            f"{table.path.name}: column index {col} ({what}) is outside the file's {n} columns; "
            f"fix map {imap.path.name}"
        )
        raise ImportFormatError(msg)
    idx = None
    if col in table.names:
        idx = table.names.index(col)
    else:
        norm = [re.sub(r"\s+", " ", c).strip().lower() for c in table.names]
        key = re.sub(r"\s+", " ", col).strip().lower()
        if key in norm:
            idx = norm.index(key)
    if idx is not None:
        if idx >= n:
            msg = (
                f"{table.path.name}: column {col!r} ({what}) is number {idx + 1} in the header "
                f"but the rows have only {n} fields; check the header and [format] delimiter "
                f"in map {imap.path.name}"
            )
            raise ImportFormatError(msg)
        return idx
    shown = ", ".join(table.names[:12]) + (", ..." if len(table.names) > 12 else "")
    hint = ""
    if len(table.names) == 1:
        seps = [name for d, name in ((";", ";"), ("\t", "tab"), (",", ","), ("|", "|"))
                if d in table.names[0]]  # fmt: skip
        if seps:
            hint = f" (one column only: is the file {seps[0]!r}-separated? set [format] delimiter)"
    msg = (
        f"{table.path.name}: missing column {col!r} ({what}, from map {imap.path.name}); "
        f"the file has {shown}{hint}"
    )
    raise ImportFormatError(msg)


def _numbers(
    table: _Table, idx: int, what: str, decimal: str, notes: list[str] | None = None
) -> np.ndarray:
    """The column as floats; a few non-numeric cells become NaN (dropped samples, marked as
    gaps) and are reported into ``notes``; mostly non-numeric columns are an error."""
    s = table.data.iloc[:, idx].astype(str).str.strip()
    if decimal == ",":
        s = s.str.replace(",", ".", regex=False)
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
    filled = (s != "").to_numpy()
    bad = filled & ~np.isfinite(v) & ~s.str.lower().isin(["nan", "na", "inf", "-inf"]).to_numpy()
    if filled.any() and bad.sum() > 0.5 * filled.sum():
        i = int(np.flatnonzero(bad)[0])
        name = table.names[idx] if idx < len(table.names) else f"#{idx}"
        msg = (
            f"{table.path.name}, column {name!r} ({what}), row {table.first_row + i}: "
            f"{s.iloc[i]!r} is not a number, nor are most of its cells; check the map's "
            "column and [format] decimal"
        )
        raise ImportFormatError(msg)
    if notes is not None and bad.any():
        i = int(np.flatnonzero(bad)[0])
        name = table.names[idx] if idx < len(table.names) else f"#{idx}"
        notes.append(
            f"{table.path.name}, column {name!r}: {int(bad.sum())} cell(s) are not numbers "
            f"(first {s.iloc[i]!r} in row {table.first_row + i}); those samples were dropped"
        )
    return v


def _time(table: _Table, imap: ImportMap) -> tuple[np.ndarray, float | None]:
    n = table.data.shape[0]
    if imap.rate_hz is not None:
        return np.arange(n, dtype=np.float64) / imap.rate_hz, None
    assert imap.time_column is not None
    idx = _locate(table, imap.time_column, "time", imap)
    if imap.time_unit.lower() == "iso":
        raw = table.data.iloc[:, idx].astype(str).str.strip()
        stamps = pd.to_datetime(raw, errors="coerce", format="ISO8601")
        ok = stamps.notna().to_numpy()
        if not ok.any():
            msg = (
                f"{table.path.name}, column {table.names[idx]!r}: no ISO 8601 date-times "
                "(e.g. 2024-05-01T12:00:00.010Z); fix [time] unit in the map"
            )
            raise ImportFormatError(msg)
        aware = stamps.dt.tz is not None
        if aware:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        ns = stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        t = np.where(ok, ns.astype(np.float64) * 1e-9, np.nan)
        base = float(np.nanmin(t))
        # Keep precision: time relative to the first stamp, epoch offset kept separately.
        return t - base, (base if aware else None)
    factor = TIME_UNITS_TO_S[
        next(k for k in TIME_UNITS_TO_S if k.lower() == imap.time_unit.strip().lower())
    ]
    return _numbers(table, idx, "time", imap.decimal) * factor, None


def read_generic(
    files: list[Path], imap: ImportMap
) -> tuple[list[SensorSeries], dict[str, tuple[str, str]]]:
    """Every map sensor found in ``files`` as a :class:`SensorSeries`."""
    series: list[SensorSeries] = []
    units: dict[str, tuple[str, str]] = {}
    used_by: dict[int, list[Path]] = {}
    for f in files:
        wanted = [s for s in imap.sensors if s.files is None or _glob(f, s.files)]
        if not wanted:
            continue
        table = _read_table(f, imap)
        t, epoch = _time(table, imap)
        skipped: tuple[str, ...] = ()
        if table.skipped is not None:
            skipped = (
                f"{f.name}: {table.skipped[0]} non-empty line(s) did not match the map's "
                f"line_regex and were skipped ({table.skipped[1]})",
            )
        ref_notes: list[str] = []
        refs = {}
        for r in imap.references:
            if r.files is not None and not _glob(f, r.files):
                continue
            ri = _locate(table, r.column, f"reference {r.name}", imap)
            values = _numbers(table, ri, r.name, imap.decimal, ref_notes)
            refs[r.name] = (t, values * r.scale + r.offset)
        for k, ms in enumerate(wanted):
            used_by.setdefault(ms.index, []).append(f)
            notes: list[str] = []

            def vec(cols: tuple[Column, ...], what: str) -> np.ndarray:
                return np.column_stack(
                    [
                        _numbers(table, _locate(table, c, what, imap), what, imap.decimal, notes)  # noqa: B023
                        for c in cols
                    ]
                )

            acc = vec(ms.acc, f"sensor #{ms.index} acc") * unit_factor(
                ms.acc_unit,
                ACC_UNITS_TO_M_S2,
                what="accelerometer",
                where=imap.path.name,
                advice="",
            )
            gyr = vec(ms.gyr, f"sensor #{ms.index} gyr") * unit_factor(
                ms.gyr_unit, GYR_UNITS_TO_DPS, what="gyroscope", where=imap.path.name, advice=""
            )
            quat = None
            if ms.quat is not None:
                q = vec(ms.quat, f"sensor #{ms.index} quat")
                quat = q if ms.quat_order == "wxyz" else q[:, [3, 0, 1, 2]]
            counter = None
            if ms.counter is not None:
                ci = _locate(table, ms.counter, "counter", imap)
                c = _numbers(table, ci, "counter", imap.decimal)
                counter, bad = whole_number_counter(c, low=-(2**53), high=2**53)
                if bad is not None:
                    name = table.names[ci] if ci < len(table.names) else f"#{ci}"
                    notes.append(
                        f"{table.path.name}, column {name!r} (counter), row "
                        f"{table.first_row + bad}: {number_text(c[bad])} is not a counter value (a "
                        "whole number below 2^53 in size), so the counter is ignored and "
                        "lost samples are found from the time column"
                    )
            placement = None
            if ms.segment is not None and ms.side is not None:
                placement = Placement(segment=ms.segment, side=ms.side)
            key = f"{f.stem}#{ms.index}"
            units[key] = (ms.acc_unit, ms.gyr_unit)
            series.append(
                SensorSeries(
                    key=key,
                    files=(f,),
                    family="imported",
                    t_dev_s=t,
                    acc_m_s2=acc,
                    gyr_dps=gyr,
                    quat_wxyz=quat,
                    counter=counter,
                    first_data_row=table.first_row,
                    name=ms.name,
                    placement=placement,
                    side_missing_segment=ms.segment if ms.side is None else None,
                    references=refs if k == 0 else {},
                    epoch_at_zero_s=epoch,
                    warnings=(*skipped, *ref_notes, *notes) if k == 0 else tuple(notes),
                )
            )
    for ms in imap.sensors:
        if ms.index not in used_by:
            msg = (
                f"map {imap.path.name}, sensor #{ms.index}: no input file matches files = "
                f"{ms.files!r}; check the glob or the files given"
            )
            raise ImportFormatError(msg)
        if (
            ms.segment is not None
            and ms.files is None
            and len(used_by[ms.index]) > 1
            and ms.side is not None
        ):
            names = ", ".join(p.name for p in used_by[ms.index][:3])
            msg = (
                f"map {imap.path.name}, sensor #{ms.index} ({ms.segment.value}_{ms.side}) is "
                f"found in several files ({names}); import one recording at a time or give "
                "the sensor a files = glob"
            )
            raise ImportFormatError(msg)
    if not series:
        msg = (
            f"map {imap.path.name}: no sensor was read from the given files; check the files globs"
        )
        raise ImportFormatError(msg)
    return series, units


def _glob(path: Path, pattern: str) -> bool:
    names = [path.name, path.stem, str(path)]
    return any(fnmatch.fnmatchcase(n.lower(), pattern.lower()) for n in names)
