"""Shared machinery of the importers: units, time checks, gaps, placement, session assembly.

Every reader turns its files into :class:`SensorSeries` (one per physical sensor, on that
device's own clock, in SI-ish canonical units) and hands them to :func:`assemble_session`,
which resolves placements, checks that the sensors overlap in time, puts every sample on
one session clock (t = 0 at the earliest sample), marks gaps and collects warnings.

Nothing here guesses a unit or a placement: units come from the vendor's documented layout or
the map, placements from the map, the flags or a filename rule the user gives.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from companion.errors import ImportFormatError
from companion.model import (
    GRAVITY_M_S2,
    Gap,
    ImuChunk,
    Placement,
    ReferenceTrack,
    Segment,
    SensorInfo,
    Session,
    Side,
)

_LOGGER = logging.getLogger(__name__)

# -- units ------------------------------------------------------------------------------------

ACC_UNITS_TO_M_S2: dict[str, float] = {
    "g": GRAVITY_M_S2,
    "mg": GRAVITY_M_S2 / 1000.0,
    "m/s2": 1.0,
    "m/s^2": 1.0,
    "m/s²": 1.0,
    "m s-2": 1.0,
    "ms-2": 1.0,
}
"""Accepted accelerometer unit spellings and their factor to m/s²."""

GYR_UNITS_TO_DPS: dict[str, float] = {
    "deg/s": 1.0,
    "dps": 1.0,
    "°/s": 1.0,
    "rad/s": 180.0 / math.pi,
    "mdps": 1e-3,
}
"""Accepted gyroscope unit spellings and their factor to deg/s."""

TIME_UNITS_TO_S: dict[str, float] = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
"""Accepted numeric time-column units and their factor to seconds."""

COMMON_RATES_HZ: tuple[float, ...] = (
    1.0,
    4.0,
    5.0,
    10.0,
    12.5,
    15.0,
    20.0,
    25.0,
    30.0,
    40.0,
    50.0,
    60.0,
    100.0,
    120.0,
    200.0,
    400.0,
    500.0,
    800.0,
    1000.0,
)
"""Rates sensors are commonly configured for; a measured rate within 1 % snaps to one."""

GYR_FULL_SCALE_DPS = 2000.0  # deg/s, the largest common MEMS gyroscope range

GAP_FACTOR = 1.5
"""A time step longer than this many median periods marks a gap (samples lost)."""

MIXED_RATE_FACTOR = 1.5
"""Block-median periods differing by more than this factor within a file mean mixed rates."""

RATE_BLOCK_SAMPLES = 64  # samples per block when looking for mixed rates


def unit_factor(unit: str, table: dict[str, float], *, what: str, where: str, advice: str) -> float:
    """Factor from ``unit`` to the canonical unit, or an :class:`ImportFormatError`."""
    key = unit.strip().lower().replace(" ", "")
    for name, factor in table.items():
        if key == name.lower().replace(" ", ""):
            return factor
    known = ", ".join(sorted({k for k in table if "^" not in k and "²" not in k}))
    msg = f"{where}: unknown {what} unit {unit!r} (known: {known}); {advice}"
    raise ImportFormatError(msg)


# -- data carried between the readers and the assembly -----------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SensorSeries:
    """One sensor's samples as read from its file(s), on the device's own clock.

    ``valid`` marks rows whose time and inertial values are all finite; invalid rows are
    kept until assembly so that NaN blocks become marked gaps.
    """

    key: str
    """Stable identity used in messages (device tag, address or file stem)."""
    files: tuple[Path, ...]
    family: str
    t_dev_s: np.ndarray
    """(n,) device time, s; any offset (epoch, chip clock, unwrapped counter)."""
    acc_m_s2: np.ndarray
    gyr_dps: np.ndarray
    quat_wxyz: np.ndarray | None = None
    counter: np.ndarray | None = None
    first_data_row: int = 2
    """1-based line number of the first sample in the (first) file, for messages."""
    name: str = ""
    address: str = ""
    firmware: str = ""
    placement: Placement | None = None
    """Placement the file or map itself declares (None: resolve from flags/rules)."""
    side_missing_segment: Segment | None = None
    """Set when the map gives the segment but leaves the side to the flags."""
    match_names: tuple[str, ...] = ()
    """Extra names a placement selector may match (device tag, address, ...)."""
    references: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    """Reference signals from the same file: name -> (t_dev_s, values)."""
    epoch_at_zero_s: float | None = None
    """UNIX time (UTC, s) of ``t_dev_s == 0`` when the device clock is absolute, else None."""
    warnings: tuple[str, ...] = ()
    nominal_rate_hz: float | None = None
    """Rate the export itself declares, if any."""


def one_line(exc: object) -> str:
    """An exception's text as one short line (library messages carry newlines)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= 160 else text[:157] + "..."


def iso_utc(epoch_s: float) -> str:
    """ISO 8601 UTC text of a UNIX time, millisecond resolution."""
    import datetime as _dt

    stamp = _dt.datetime.fromtimestamp(epoch_s, tz=_dt.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def where(path: Path, *, row: int | None = None, column: str | None = None) -> str:
    """``file.csv`` / ``file.csv, row 12`` / ``file.csv, column 'Acc_X'`` for messages."""
    text = path.name
    if column is not None:
        text += f", column {column!r}"
    if row is not None:
        text += f", row {row}"
    return text


# -- file handling ----------------------------------------------------------------------------

DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")


def expand_paths(paths: list[Path], *, suffixes: tuple[str, ...] = DATA_SUFFIXES) -> list[Path]:
    """Files from ``paths``, expanding directories (sorted, data files only, not recursive)."""
    if not paths:
        msg = "no input given: name one or more export files or folders"
        raise ImportFormatError(msg)
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(
                q for q in p.iterdir() if q.is_file() and q.name.lower().endswith(suffixes)
            )
            if not found:
                msg = (
                    f"{p}: the folder holds no export files ({', '.join(suffixes)}); "
                    "point to the folder the app exported to"
                )
                raise ImportFormatError(msg)
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            msg = f"{p}: no such file or folder; check the path"
            raise ImportFormatError(msg)
    seen: set[Path] = set()
    unique = []
    for p in out:
        r = p.resolve()
        if r not in seen:
            seen.add(r)
            unique.append(p)
    for p in unique:
        try:
            empty = p.stat().st_size == 0
        except OSError:
            continue  # the reader says why it cannot be read
        if empty:
            msg = f"{p}: is empty (0 bytes); export it again, or leave it out of the import"
            raise ImportFormatError(msg)
        _refuse_binary(p)
    return unique


def _refuse_binary(path: Path) -> None:
    """Exports are text: refuse session files, UTF-16 text and other binary data up front."""
    import gzip

    try:
        with path.open("rb") as fh:
            raw = fh.read(4096)
        if raw[:2] == b"\x1f\x8b":
            with gzip.open(path, "rb") as fh:
                raw = fh.read(4096)
    except (OSError, EOFError):
        return  # the readers say why it cannot be read (damaged gzip, permissions)
    if raw.startswith(b"\xff\xff\xff\xff"):
        msg = (
            f"{path}: is a companion session file, not an export; open it directly "
            f"(companion inspect {path.name}) without import"
        )
        raise ImportFormatError(msg)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        msg = f"{path}: is UTF-16 text; save it as UTF-8 (or plain CSV) and import that"
        raise ImportFormatError(msg)
    if b"\x00" in raw:
        msg = (
            f"{path}: holds binary data, not a text export; check the file and --from "
            "(exports are CSV/TSV/TXT text, optionally gzip-compressed)"
        )
        raise ImportFormatError(msg)


def read_head(path: Path, n_lines: int, *, n_bytes: int = 65536) -> list[str]:
    """The first ``n_lines`` lines of a (possibly gzip-compressed) text file, cheaply."""
    import gzip

    try:
        with path.open("rb") as fh:
            magic = fh.read(2)
        opener = gzip.open if magic == b"\x1f\x8b" else open
        with opener(path, "rb") as fh:
            raw = fh.read(n_bytes)
    except (OSError, EOFError) as exc:
        msg = f"{path}: cannot be read ({one_line(exc)}); check the path and permissions"
        raise ImportFormatError(msg) from None
    text = None
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError as exc:
            if exc.start >= len(raw) - 4:  # a character cut by the byte limit
                text = raw[: exc.start].decode(enc, errors="replace")
                break
    if text is None:
        text = raw.decode("latin-1")
    return text.splitlines()[:n_lines]


def read_text(path: Path) -> str:
    """The file's text: UTF-8 (with or without BOM), else GB18030 (WitMotion's Chinese
    Windows builds), else Latin-1; gzip-compressed files are opened transparently."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        why = one_line(exc.strerror or exc)
        msg = f"{path}: cannot be read ({why}); check the path and permissions"
        raise ImportFormatError(msg) from None
    if raw[:2] == b"\x1f\x8b":
        import gzip

        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            msg = f"{path}: the gzip file is damaged ({one_line(exc)}); export it again"
            raise ImportFormatError(msg) from None
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


# -- time checks and gap marking ---------------------------------------------------------------


def check_time(
    path: Path, t: np.ndarray, *, first_row: int, valid: np.ndarray | None = None
) -> None:
    """Raise on non-monotonic, duplicated or mixed-rate time (``t`` in s, NaN allowed)."""
    ok = np.isfinite(t) if valid is None else (valid & np.isfinite(t))
    idx = np.flatnonzero(ok)
    if idx.size < 2:
        msg = (
            f"{where(path)}: holds {idx.size} usable sample(s); "
            "an import needs at least two samples with valid time and values"
        )
        raise ImportFormatError(msg)
    tv = t[idx]
    dt = np.diff(tv)
    bad = np.flatnonzero(dt <= 0)
    if bad.size:
        i = int(bad[0])
        r0, r1 = first_row + int(idx[i]), first_row + int(idx[i + 1])
        if dt[i] == 0:
            msg = (
                f"{where(path)}: rows {r0} and {r1} carry the same time {tv[i]:.6f} s "
                "(duplicated samples); remove the duplicates or export again"
            )
        else:
            msg = (
                f"{where(path)}: time goes backwards from row {r0} to row {r1} "
                f"({tv[i]:.6f} s -> {tv[i + 1]:.6f} s); the file is not in time order, "
                "sort it or export again"
            )
        raise ImportFormatError(msg)
    # Mixed rates: compare block medians of the period, ignoring steps that are gaps.
    if dt.size >= 2 * RATE_BLOCK_SAMPLES:
        n_blocks = dt.size // RATE_BLOCK_SAMPLES
        blocks = dt[: n_blocks * RATE_BLOCK_SAMPLES].reshape(n_blocks, RATE_BLOCK_SAMPLES)
        med = np.median(blocks, axis=1)
        lo, hi = int(np.argmin(med)), int(np.argmax(med))
        if med[hi] > MIXED_RATE_FACTOR * med[lo]:
            r_lo = first_row + int(idx[lo * RATE_BLOCK_SAMPLES])
            r_hi = first_row + int(idx[hi * RATE_BLOCK_SAMPLES])
            msg = (
                f"{where(path)}: mixed sampling rates in one file (about "
                f"{1.0 / med[lo]:.4g} Hz near row {r_lo}, {1.0 / med[hi]:.4g} Hz near row "
                f"{r_hi}); split the file where the rate changes and import the parts separately"
            )
            raise ImportFormatError(msg)


def snap_rate(rate_hz: float) -> float:
    """A common configured rate if ``rate_hz`` is within 1 % of one, else rounded to 0.01."""
    for r in COMMON_RATES_HZ:
        if abs(rate_hz - r) <= 0.01 * r:
            return r
    return round(rate_hz, 2)


def find_gaps(
    sensor_id: str,
    t_s: np.ndarray,
    valid: np.ndarray,
    counter: np.ndarray | None,
    period_s: float,
) -> list[Gap]:
    """Gaps of one sensor on the session clock.

    * runs of invalid rows between valid ones -> ``reason="invalid"`` (NaN blocks);
    * a counter step > 1 between adjacent valid rows -> ``"dropped"`` with the counter's count;
    * without a counter, a time step > ``GAP_FACTOR`` periods -> ``"dropped"``, estimated count.
    """
    gaps: list[Gap] = []
    n = t_s.shape[0]
    good = np.flatnonzero(valid)
    if good.size == 0:
        return gaps
    # NaN blocks strictly inside the valid span.
    inner = np.zeros(n, dtype=bool)
    inner[good[0] : good[-1] + 1] = True
    bad = ~valid & inner
    if bad.any():
        edges = np.diff(np.concatenate([[0], bad.astype(np.int8), [0]]))
        starts = np.flatnonzero(edges == 1)
        stops = np.flatnonzero(edges == -1)
        for s, e in zip(starts, stops):
            gaps.append(
                Gap(
                    sensor_id=sensor_id,
                    t_start_s=float(t_s[s - 1]),
                    t_end_s=float(t_s[e]),
                    n_missing=int(e - s),
                    reason="invalid",
                )
            )
    # Lost samples between rows that are adjacent in the file and both valid.
    adjacent = np.flatnonzero(valid[:-1] & valid[1:])
    if adjacent.size:
        if counter is not None:
            step = np.diff(counter)[adjacent]
            jumps = adjacent[step > 1]
            missing = (step[step > 1] - 1).astype(np.int64)
        else:
            dt = np.diff(t_s)[adjacent]
            is_gap = dt > GAP_FACTOR * period_s
            jumps = adjacent[is_gap]
            missing = np.maximum(np.rint(dt[is_gap] / period_s).astype(np.int64) - 1, 1)
        for i, m in zip(jumps, missing):
            gaps.append(
                Gap(
                    sensor_id=sensor_id,
                    t_start_s=float(t_s[i]),
                    t_end_s=float(t_s[i + 1]),
                    n_missing=int(m),
                    reason="dropped",
                )
            )
    gaps.sort(key=lambda g: g.t_start_s)
    return gaps


def whole_number_counter(
    values: np.ndarray, *, low: int, high: int
) -> tuple[np.ndarray | None, int | None]:
    """A counter column parsed as floats, as int64 if every cell is a whole number in
    ``[low, high)``.

    Returns ``(counter, None)`` when it is; ``(None, None)`` when a cell is empty or NaN (no
    counter to trust, nothing wrong with it either); ``(None, i)`` with ``i`` the index of the
    first cell that is a number but not a counter value (a fraction, out of range, or too
    big for int64: casting those wraps silently and numpy warns).
    """
    v = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        return None, None
    bad = (v != np.floor(v)) | (v < low) | (v >= high)
    if bad.any():
        return None, int(np.flatnonzero(bad)[0])
    return v.astype(np.int64), None


def number_text(v: float) -> str:
    """A parsed cell for a message: ``999999999940``, ``-540``, ``2.5``, ``1e+300``."""
    v = float(v)
    return f"{v:.0f}" if v.is_integer() and abs(v) < 1e21 else repr(v)


def unwrap_counter(values: np.ndarray, modulus: int) -> np.ndarray:
    """Unwrap an unsigned counter that wraps at ``modulus`` (int64 result)."""
    v = np.asarray(values, dtype=np.int64)
    if v.size < 2:
        return v.copy()
    d = np.diff(v)
    wraps = np.cumsum(np.where(d < -(modulus // 2), modulus, 0))
    return np.concatenate([[v[0]], v[1:] + wraps])


# -- plausibility ------------------------------------------------------------------------------


def plausibility_warnings(
    label: str,
    acc_m_s2: np.ndarray,
    gyr_dps: np.ndarray,
    *,
    acc_unit: str,
    gyr_unit: str,
    period_s: float,
) -> list[str]:
    """Warnings when declared units look wrong (the data are kept as declared)."""
    out: list[str] = []
    ok = np.all(np.isfinite(acc_m_s2), axis=1) & np.all(np.isfinite(gyr_dps), axis=1)
    acc = acc_m_s2[ok]
    gyr = gyr_dps[ok]
    if acc.shape[0] < 10:
        return out
    norm = np.linalg.norm(acc, axis=1)
    gnorm = np.linalg.norm(gyr, axis=1)
    # The stillest second: lowest gyro activity (gravity is what a still sensor reads).
    win = max(5, min(acc.shape[0] // 4, round(1.0 / period_s)))
    kernel = np.ones(win) / win
    activity = np.convolve(gnorm, kernel, mode="valid")
    i0 = int(np.argmin(activity))
    still = float(np.median(norm[i0 : i0 + win]))
    g = GRAVITY_M_S2
    if 0.75 * g <= still <= 1.25 * g:
        pass
    elif 0.75 <= still <= 1.25:
        out.append(
            f"{label}: the accelerometer reads {still:.3g} m/s² when still, about 1 g "
            f"taken as m/s² — is the unit g rather than {acc_unit}?"
        )
    elif 0.75 * g * g <= still <= 1.25 * g * g:
        out.append(
            f"{label}: the accelerometer reads {still:.4g} m/s² when still, about "
            f"9.81² — is the unit m/s² rather than {acc_unit}?"
        )
    elif 0.75 * 1000 * g <= still <= 1.25 * 1000 * g:
        out.append(
            f"{label}: the accelerometer reads {still:.4g} m/s² when still — is the "
            f"unit mg rather than {acc_unit}?"
        )
    elif still < 0.25 * g:
        out.append(
            f"{label}: the accelerometer reads {still:.3g} m/s² when still instead of "
            "about 9.81: gravity (or an offset) was removed by the recorder, so inclination "
            "from the accelerometer is not available; gyroscope-based angles still are"
        )
    else:
        out.append(
            f"{label}: the accelerometer reads {still:.3g} m/s² when still, far from "
            f"9.81 m/s²; check that the declared unit {acc_unit!r} is right"
        )
    peak = float(np.percentile(gnorm, 99.9))
    if peak > 20 * GYR_FULL_SCALE_DPS:
        out.append(
            f"{label}: the gyroscope reaches {peak:.4g} deg/s, impossible for a body-worn "
            f"sensor — is the unit deg/s rather than {gyr_unit}?"
        )
    elif np.max(np.abs(gyr)) > GYR_FULL_SCALE_DPS:
        frac = float(np.mean(np.any(np.abs(gyr) > GYR_FULL_SCALE_DPS, axis=1)))
        out.append(
            f"{label}: the gyroscope exceeds ±{GYR_FULL_SCALE_DPS:.0f} deg/s in "
            f"{100 * frac:.2g} % of samples (peak {float(np.max(np.abs(gyr))):.0f} deg/s), "
            "beyond common full scales: check the strap (impacts) or clipping"
        )
    acc_motion = float(np.std(norm))
    if peak < 5.0 and acc_motion > 2.0:
        out.append(
            f"{label}: the gyroscope never exceeds {peak:.2g} deg/s although the "
            f"accelerometer shows motion — is the unit rad/s rather than {gyr_unit}?"
        )
    return out


# -- placement ---------------------------------------------------------------------------------

_SEGMENT_WORDS = {
    "shin": Segment.SHIN,
    "shank": Segment.SHIN,
    "tibia": Segment.SHIN,
    "leg": Segment.SHIN,
    "foot": Segment.FOOT,
}
_SIDE_WORDS = {"left": Side.LEFT, "l": Side.LEFT, "right": Side.RIGHT, "r": Side.RIGHT}


def parse_placement(text: str, *, context: str) -> Placement:
    """``shin_left`` / ``foot-right`` / ``left shank`` / ``R foot`` -> :class:`Placement`."""
    words = [w for w in re.split(r"[\s_\-/]+", text.strip().lower()) if w]
    seg = next((_SEGMENT_WORDS[w] for w in words if w in _SEGMENT_WORDS), None)
    side = next((_SIDE_WORDS[w] for w in words if w in _SIDE_WORDS), None)
    if seg is None or side is None or len(words) != 2:
        msg = (
            f"{context}: {text!r} is not a placement; write segment and side, "
            "e.g. shin_left or foot_right"
        )
        raise ImportFormatError(msg)
    return Placement(segment=seg, side=side)


def parse_side(text: str, *, context: str) -> Side:
    s = _SIDE_WORDS.get(text.strip().lower())
    if s is None:
        msg = f"{context}: side {text!r} is neither left nor right; write left or right"
        raise ImportFormatError(msg)
    return s


@dataclass(frozen=True, slots=True)
class PlacementRule:
    """Selectors (globs over file names and device names) mapped to placements."""

    entries: tuple[tuple[str, Placement], ...]
    origin: str
    regex: re.Pattern[str] | None = None

    def lookup(self, series: SensorSeries) -> Placement | None:
        names = series_names(series)
        if self.regex is not None:
            for n in names:
                m = self.regex.search(n)
                if m:
                    gd = m.groupdict()
                    seg, side = gd.get("segment"), gd.get("side")
                    if seg is None or side is None:
                        continue
                    return parse_placement(f"{seg} {side}", context=self.origin)
            return None
        hits = [
            pl
            for sel, pl in self.entries
            if any(fnmatch.fnmatchcase(n.lower(), sel.lower()) for n in names)
        ]
        if len(set(hits)) > 1:
            labels = ", ".join(sorted({h.label for h in hits}))
            msg = (
                f"{self.origin}: {series.files[0].name} matches several placements "
                f"({labels}); make the selectors specific enough to pick one"
            )
            raise ImportFormatError(msg)
        return hits[0] if hits else None


def series_names(series: SensorSeries) -> list[str]:
    """Every name a placement selector may match for ``series``."""
    names: list[str] = []
    for f in series.files:
        names += [f.name, f.stem, str(f)]
        if f.name.lower().endswith(".gz"):
            names.append(Path(f.stem).stem)
    names += [n for n in (series.key, series.name, series.address) if n]
    if series.address:
        names.append(series.address.replace(":", "").replace("-", ""))
    names += list(series.match_names)
    return names


def parse_filename_rule(rule: str) -> PlacementRule:
    """Parse ``--placement-rule``.

    Two spellings: a list ``GLOB=PLACEMENT[,GLOB=PLACEMENT...]`` (``1_*=foot_left,
    2_*=shin_left``), matched against file names and device names; or a regular expression
    with named groups ``segment`` and ``side`` (``(?P<side>left|right)_(?P<segment>shin|foot)``)
    searched in the same names.
    """
    origin = f"placement rule {rule!r}"
    if "(?P<" in rule:
        try:
            rx = re.compile(rule, re.IGNORECASE)
        except re.error as exc:
            msg = f"{origin}: not a valid regular expression ({one_line(exc)}); fix the pattern"
            raise ImportFormatError(msg) from None
        if not {"segment", "side"} <= set(rx.groupindex):
            msg = (
                f"{origin}: the regular expression needs the named groups (?P<segment>...) "
                "and (?P<side>...)"
            )
            raise ImportFormatError(msg)
        return PlacementRule(entries=(), origin=origin, regex=rx)
    entries = []
    for part in rule.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            msg = (
                f"{origin}: {part!r} has no '='; write GLOB=PLACEMENT pairs separated by "
                "commas, e.g. '1_*=foot_left,2_*=shin_left'"
            )
            raise ImportFormatError(msg)
        sel, pl = part.rsplit("=", 1)
        entries.append((sel.strip(), parse_placement(pl, context=origin)))
    if not entries:
        msg = f"{origin}: empty rule; write GLOB=PLACEMENT pairs, e.g. '1_*=foot_left'"
        raise ImportFormatError(msg)
    return PlacementRule(entries=tuple(entries), origin=origin)


def rule_from_placements(placements: dict[str, str]) -> tuple[PlacementRule | None, Side | None]:
    """``placements`` from the API/flags -> a rule and a default side.

    Keys are placements and values selectors (``{"shin_left": "a.csv"}``), or the other way
    round (``{"a.csv": "shin_left"}``); the key ``"side"`` gives the side for sensors whose
    map names only the segment.
    """
    side: Side | None = None
    entries = []
    for k, v in placements.items():
        if k == "side":
            side = parse_side(v, context="placements")
            continue
        try:
            pl = parse_placement(k, context="placements")
            sel = v
        except ImportFormatError:
            pl = parse_placement(v, context="placements")
            sel = k
        sel_path = Path(sel)
        entries.append((sel_path.name if sel_path.name else sel, pl))
    rule = PlacementRule(entries=tuple(entries), origin="placement flags") if entries else None
    return rule, side


# -- assembly ----------------------------------------------------------------------------------


def assemble_session(
    series: list[SensorSeries],
    *,
    fmt: str,
    placements: dict[str, str] | None,
    filename_rule: str | None,
    map_rule: PlacementRule | None = None,
    extra_warnings: list[str] | None = None,
    declared_units: dict[str, tuple[str, str]] | None = None,
) -> Session:
    """Resolve placements, check overlap, put everything on one clock, mark gaps."""
    if not series:
        msg = f"the {fmt} import found no sensor data in the given files; check --from"
        raise ImportFormatError(msg)
    flag_rule, flag_side = rule_from_placements(placements or {})
    name_rule = parse_filename_rule(filename_rule) if filename_rule else None
    warnings: list[str] = list(extra_warnings or [])

    valid_of: dict[int, np.ndarray] = {}
    span_of: dict[int, tuple[float, float]] = {}
    for s in series:
        valid = (
            np.isfinite(s.t_dev_s)
            & np.all(np.isfinite(s.acc_m_s2), axis=1)
            & np.all(np.isfinite(s.gyr_dps), axis=1)
        )
        if s.quat_wxyz is not None:
            valid &= np.all(np.isfinite(s.quat_wxyz), axis=1)
        check_time(s.files[0], s.t_dev_s, first_row=s.first_data_row, valid=valid)
        valid_of[id(s)] = valid
        tv = s.t_dev_s[valid]
        span_of[id(s)] = (float(tv[0]), float(tv[-1]))
    _check_one_recording(series, span_of)

    resolved: list[tuple[SensorSeries, Placement]] = []
    for s in series:
        pl = None
        for rule in (flag_rule, name_rule, map_rule):
            if rule is not None:
                pl = rule.lookup(s)
                if pl is not None:
                    break
        if pl is None:
            pl = s.placement
        if pl is None and s.side_missing_segment is not None:
            if flag_side is None:
                msg = (
                    f"{s.files[0].name}: the map names the {s.side_missing_segment.value} "
                    "sensor but not the leg it was on; pass --side left or --side right"
                )
                raise ImportFormatError(msg)
            pl = Placement(segment=s.side_missing_segment, side=flag_side)
        if pl is None:
            dev = s.name or s.address
            ident = s.files[0].name + (f" (device {dev})" if dev else "")
            msg = (
                f"{ident}: no placement given for this sensor; say where it was worn with "
                "--shin FILE/--foot FILE and --side, a --placement-rule such as "
                "'1_*=foot_left', or a map"
            )
            raise ImportFormatError(msg)
        resolved.append((s, pl))
    if flag_side is not None and all(pl.side != flag_side for _, pl in resolved):
        labels = ", ".join(sorted({pl.label for _, pl in resolved}))
        msg = (
            f"--side {flag_side.value} contradicts the placements the files, rule or map give "
            f"({labels}); drop --side or correct the placements"
        )
        raise ImportFormatError(msg)

    by_label: dict[str, SensorSeries] = {}
    for s, pl in resolved:
        if pl.label in by_label:
            other = by_label[pl.label]
            msg = (
                f"{other.files[0].name} and {s.files[0].name} are both placed at {pl.label}; "
                "import one recording at a time and give each sensor its own placement"
            )
            raise ImportFormatError(msg)
        by_label[pl.label] = s

    spans = []
    valids = {}
    for s_, pl in resolved:
        valids[pl.label] = valid_of[id(s_)]
        a, b = span_of[id(s_)]
        spans.append((a, b, s_, pl))
    if len(spans) > 1:
        start = max(a for a, _, _, _ in spans)
        end = min(b for _, b, _, _ in spans)
        if end <= start:
            desc = "; ".join(
                f"{s.files[0].name} ({pl.label}) {a - spans[0][0]:+.1f} to {b - spans[0][0]:+.1f} s"
                for a, b, s, pl in spans
            )
            msg = (
                f"the sensors' recordings do not overlap in device time ({desc}, relative "
                f"to the first file); import files recorded together"
            )
            raise ImportFormatError(msg)
        shortest = min(b - a for a, b, _, _ in spans)
        if shortest > 0 and (end - start) < 0.5 * shortest:
            warnings.append(
                f"the sensors overlap for only {end - start:.1f} s of the shortest "
                f"recording's {shortest:.1f} s; check that the files belong together"
            )
    t0 = min(a for a, _, _, _ in spans)

    sensors: list[SensorInfo] = []
    chunks: dict[str, ImuChunk] = {}
    gaps: list[Gap] = []
    references: dict[str, ReferenceTrack] = {}
    rates: dict[str, float] = {}
    files: dict[str, list[str]] = {}
    order = {
        "shin_left": 0,
        "foot_left": 1,
        "shin_right": 2,
        "foot_right": 3,
    }
    start_utc = ""
    for _a, _b, s, pl in sorted(spans, key=lambda x: order.get(x[3].label, 9)):
        sid = pl.label
        valid = valids[sid]
        t = s.t_dev_s - t0
        tv = t[valid]
        period = float(np.median(np.diff(tv)))
        measured = 1.0 / period
        rates[sid] = round(measured, 4)
        nominal = s.nominal_rate_hz or snap_rate(measured)
        counter = s.counter
        # A counter marks lost samples only if it counts samples (step 1, never backwards);
        # otherwise the time stamps decide.
        steps = np.diff(counter[valid]) if counter is not None else np.array([])
        counts_samples = steps.size > 0 and np.median(steps) == 1 and steps.min() >= 1
        gaps += find_gaps(sid, t, valid, counter if counts_samples else None, period)
        n_bad = int((~valid).sum())
        if n_bad:
            lead = int(np.argmax(valid))
            trail = int(np.argmax(valid[::-1]))
            if lead or trail:
                ends = [
                    f"{n} at the {where_}" for n, where_ in ((lead, "start"), (trail, "end")) if n
                ]
                warnings.append(
                    f"{sid} ({s.files[0].name}): dropped invalid rows ({' and '.join(ends)}; "
                    "a row cut short or without numbers)"
                )
        chunks[sid] = ImuChunk(
            sensor_id=sid,
            placement=pl,
            t_s=tv,
            acc_m_s2=s.acc_m_s2[valid],
            gyr_dps=s.gyr_dps[valid],
            quat_wxyz=None if s.quat_wxyz is None else s.quat_wxyz[valid],
            counter=None if counter is None else counter[valid],
        )
        sensors.append(
            SensorInfo(
                sensor_id=sid,
                family=s.family,
                placement=pl,
                sampling_rate_hz=float(nominal),
                address=s.address,
                name=s.name,
                firmware=s.firmware,
                has_quaternion=s.quat_wxyz is not None,
                has_counter=counter is not None,
            )
        )
        files[sid] = [f.name for f in s.files]
        units = (declared_units or {}).get(s.key, ("m/s2", "deg/s"))
        warnings += plausibility_warnings(
            f"{sid} ({s.files[0].name})",
            s.acc_m_s2[valid],
            s.gyr_dps[valid],
            acc_unit=units[0],
            gyr_unit=units[1],
            period_s=period,
        )
        warnings += list(s.warnings)
        for name, (rt, rv) in s.references.items():
            if name in references:
                msg = (
                    f"{s.files[0].name}: the reference track {name!r} appears twice; "
                    "give each reference a unique name in the map"
                )
                raise ImportFormatError(msg)
            ok = np.isfinite(rt) & np.isfinite(rv)
            references[name] = ReferenceTrack(name=name, t_s=rt[ok] - t0, values=rv[ok])
        if s.epoch_at_zero_s is not None and not start_utc:
            start_utc = iso_utc(s.epoch_at_zero_s + t0)
    for w in warnings:
        _LOGGER.info("import: %s", w)
    return Session(
        sensors=sensors,
        chunks=chunks,
        start_time_utc=start_utc,
        gaps=gaps,
        references=references,
        source=f"import:{fmt}",
        extra={
            "import_format": fmt,
            "import_files": files,
            "import_measured_rates_hz": rates,
            "import_warnings": warnings,
        },
    )


def _check_one_recording(
    series: list[SensorSeries], span_of: dict[int, tuple[float, float]]
) -> None:
    """Files from several recordings (disjoint in device time) cannot make one session."""
    if len(series) < 2:
        return
    ordered = sorted(series, key=lambda x: span_of[id(x)][0])
    groups: list[list[SensorSeries]] = [[ordered[0]]]
    end = span_of[id(ordered[0])][1]
    for s in ordered[1:]:
        a, b = span_of[id(s)]
        if a <= end:
            groups[-1].append(s)
            end = max(end, b)
        else:
            groups.append([s])
            end = b
    if len(groups) > 1:
        t_first = span_of[id(ordered[0])][0]
        desc = "; ".join(
            f"{len(g)} file(s) from {span_of[id(g[0])][0] - t_first:+.1f} s "
            f"({', '.join(x.files[0].name for x in g[:2])}{', ...' if len(g) > 2 else ''})"
            for g in groups[:4]
        )
        more = f" and {len(groups) - 4} more" if len(groups) > 4 else ""
        msg = (
            f"the files hold {len(groups)} separate recordings that do not overlap in device "
            f"time ({desc}{more}); import the files of one recording at a time"
        )
        raise ImportFormatError(msg)
