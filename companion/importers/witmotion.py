"""WitMotion PC / phone app saved data (WT901, WT901BLE, BWT901CL, ...).

Layouts seen in the wild (public code reading these files; no official spec is published):

* the current apps' record file, comma *or* tab separated, one row per sample and device::

      Time,Device name,Chip Time(),Acceleration X(g),Acceleration Y(g),Acceleration Z(g),
      Angular velocity X(°/s),...,Angle X(°),...,Magnetic field X(ʯt),...,Quaternions 0(),...

  ``Chip Time()`` is the sensor's clock, ``2024-3-19 16:44:16.689`` or ``...16:44:16:689``
  (milliseconds after a colon); ``Time`` the PC's time of day. Several devices share one file,
  told apart by ``Device name`` (``WT901BLE67(d6:a8:b9:ee:a0:b7)``). Quaternions 0..3 are
  w, x, y, z.
* the older MiniIMU software's ``.txt``: an optional ``StartTime:`` line, then a tab-separated
  header ``Time(s)  ax(g) ay(g) az(g) wx(deg/s) wy(deg/s) wz(deg/s) AngleX(deg) ...`` with the
  time of day in ``Time(s)``.

Files written by Chinese Windows builds are GB18030-encoded (° becomes ``\\xa1\\xe3``) and
may use a decimal comma; both are handled. Time: the chip time when present (device clock),
else the PC's time of day (with a midnight roll-over).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from companion.errors import ImportFormatError
from companion.importers._common import (
    ACC_UNITS_TO_M_S2,
    GYR_UNITS_TO_DPS,
    SensorSeries,
    one_line,
    read_text,
    unit_factor,
)

__all__ = ["read_witmotion"]

_ACC = re.compile(r"^(?:acceleration\s*|a)([xyz])\s*\((.+)\)$", re.IGNORECASE)
_GYR = re.compile(r"^(?:angular\s*velocity\s*|w)([xyz])\s*\((.+)\)$", re.IGNORECASE)
_QUAT = re.compile(r"^(?:quaternions?\s*|q)([0-3])\s*\(.*\)$", re.IGNORECASE)
_CHIP = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})[ T]+(\d{1,2}):(\d{1,2}):(\d{1,2})(?:([.:])(\d{1,6}))?"
)
_TOD = re.compile(r"(\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.:](\d{1,6}))?")
_ADDR = re.compile(r"\(([0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5})\)")


def _norm_header(h: str) -> str:
    h = h.strip().replace("℃", "°C").replace("Â°", "°")
    return re.sub(r"\s+", " ", h)


def _chip_seconds(values: pd.Series) -> np.ndarray:
    """Chip time strings -> seconds since 2000-01-01 (naive: the device's own clock)."""
    ext = values.astype(str).str.extract(_CHIP)
    ok = ext[0].notna().to_numpy()
    out = np.full(len(values), np.nan)
    if not ok.any():
        return out
    e = ext[ok]
    days = (
        pd.to_datetime(
            {"year": e[0].astype(int), "month": e[1].astype(int), "day": e[2].astype(int)},
            errors="coerce",
        )
        - pd.Timestamp("2000-01-01")
    ).dt.days.to_numpy(dtype=np.float64)
    sec = (
        e[3].astype(float).to_numpy() * 3600
        + e[4].astype(float).to_numpy() * 60
        + e[5].astype(float).to_numpy()
    )
    frac_txt = e[7].fillna("0")
    sep = e[6].fillna(".")
    # "16:44:16:689" -> 689 ms (the ms field after a colon is an integer of milliseconds);
    # "16:44:16.5" -> 0.5 s (a decimal fraction).
    frac = np.where(
        (sep == ":").to_numpy(),
        frac_txt.astype(float).to_numpy() / 1000.0,
        ("0." + frac_txt).astype(float).to_numpy(),
    )
    out[ok] = days * 86400.0 + sec + frac
    return out


def _tod_seconds(values: pd.Series) -> np.ndarray:
    ext = values.astype(str).str.extract(_TOD)
    ok = ext[0].notna().to_numpy()
    out = np.full(len(values), np.nan)
    e = ext[ok]
    out[ok] = (
        e[0].astype(float).to_numpy() * 3600
        + e[1].astype(float).to_numpy() * 60
        + e[2].astype(float).to_numpy()
        + ("0." + e[3].fillna("0")).astype(float).to_numpy()
    )
    # Recording across midnight: add a day whenever the time of day falls back by > 12 h.
    fin = np.flatnonzero(np.isfinite(out))
    if fin.size > 1:
        d = np.diff(out[fin])
        wraps = np.concatenate([[0], np.cumsum(d < -43200)])
        out[fin] += wraps * 86400.0
    return out


def _parse(path: Path) -> tuple[list[SensorSeries], dict[str, tuple[str, str]]]:
    text = read_text(path).replace("\xa1\xe3", "°")
    lines = text.splitlines()
    hdr = None
    for i, ln in enumerate(lines[:20]):
        if re.search(r"acceleration\s*x|\bax\s*\(", ln, re.IGNORECASE):
            hdr = i
            break
    if hdr is None:
        msg = (
            f"{path.name}: not WitMotion saved data (no 'Acceleration X(g)' or 'ax(g)' header in "
            "the first 20 lines); check --from"
        )
        raise ImportFormatError(msg)
    delim = "\t" if lines[hdr].count("\t") > lines[hdr].count(",") else ","
    header = [_norm_header(h) for h in next(csv.reader([lines[hdr]], delimiter=delim))]
    while header and header[-1] == "":
        header.pop()
    body = "\n".join(lines[hdr + 1 :])
    try:
        df = pd.read_csv(
            io.StringIO(body), sep=delim, header=None, dtype=str, keep_default_na=False
        )
    except pd.errors.EmptyDataError:
        msg = f"{path.name}: no data rows after the header; record again"
        raise ImportFormatError(msg) from None
    except pd.errors.ParserError as exc:
        msg = f"{path.name}: rows do not match the header ({one_line(exc)}); export the data again"
        raise ImportFormatError(msg) from None
    df = df.iloc[:, : len(header)]
    df.columns = header[: df.shape[1]]
    acc_cols: dict[str, tuple[str, str]] = {}
    gyr_cols: dict[str, tuple[str, str]] = {}
    quat_cols: dict[str, str] = {}
    for c in df.columns:
        if m := _ACC.match(c):
            acc_cols[m.group(1).lower()] = (c, m.group(2))
        elif m := _GYR.match(c):
            gyr_cols[m.group(1).lower()] = (c, m.group(2))
        elif m := _QUAT.match(c):
            quat_cols[m.group(1)] = c
    missing = [f"acceleration {a}" for a in "xyz" if a not in acc_cols] + [
        f"angular velocity {a}" for a in "xyz" if a not in gyr_cols
    ]
    if missing:
        msg = (
            f"{path.name}: the WitMotion file lacks {', '.join(missing)} columns (has "
            f"{', '.join(header[:10])}); enable acceleration and angular velocity output and "
            "record again"
        )
        raise ImportFormatError(msg)
    acc_unit = acc_cols["x"][1]
    gyr_unit = gyr_cols["x"][1]
    fa = unit_factor(
        acc_unit, ACC_UNITS_TO_M_S2, what="accelerometer", where=path.name, advice="export in g"
    )
    fg = unit_factor(
        gyr_unit, GYR_UNITS_TO_DPS, what="gyroscope", where=path.name, advice="export in deg/s"
    )
    comma = delim != "," and df[acc_cols["x"][0]].str.contains(",", regex=False).any()

    def num(col: str) -> np.ndarray:
        s = df[col].astype(str).str.strip()
        if comma:
            s = s.str.replace(",", ".", regex=False)
        return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)

    lower = {c.lower().replace(" ", ""): c for c in df.columns}
    chip = lower.get("chiptime()") or lower.get("chiptime")
    tod = lower.get("time") or lower.get("time(s)")
    if chip is not None and np.isfinite(_chip_seconds(df[chip].head(50))).any():
        t_all = _chip_seconds(df[chip])
        clock = "chip"
    elif tod is not None:
        t_all = _tod_seconds(df[tod])
        clock = "pc"
    else:
        msg = (
            f"{path.name}: no 'Chip Time()' or 'Time' column to time the samples; export "
            "again with time"
        )
        raise ImportFormatError(msg)
    dev_col = lower.get("devicename")
    devices = df[dev_col].astype(str).str.strip().to_numpy() if dev_col else np.full(len(df), "")
    series = []
    units = {}
    for dev in dict.fromkeys(devices):
        rows = np.flatnonzero(devices == dev)
        acc = np.column_stack([num(acc_cols[a][0])[rows] for a in "xyz"]) * fa
        gyr = np.column_stack([num(gyr_cols[a][0])[rows] for a in "xyz"]) * fg
        quat = None
        if set(quat_cols) == {"0", "1", "2", "3"}:
            q = np.column_stack([num(quat_cols[k])[rows] for k in "0123"])
            if np.any(np.isfinite(q) & (q != 0)):
                quat = q
        am = _ADDR.search(dev)
        address = am.group(1).upper().replace("-", ":") if am else ""
        key = dev or path.stem
        warnings = ()
        if clock == "pc":
            warnings = (
                f"{path.name}: no chip time; samples are timed by the PC's clock, which "
                "jitters with the radio link",
            )
        series.append(
            SensorSeries(
                key=key,
                files=(path,),
                family="witmotion",
                t_dev_s=t_all[rows],
                acc_m_s2=acc,
                gyr_dps=gyr,
                quat_wxyz=quat,
                first_data_row=hdr + 2 + int(rows[0]),
                name=dev,
                address=address,
                match_names=tuple(x for x in (dev, re.sub(r"\(.*\)", "", dev)) if x),
                warnings=warnings,
            )
        )
        units[key] = (acc_unit, gyr_unit)
    return series, units


def read_witmotion(
    files: list[Path],
) -> tuple[list[SensorSeries], dict[str, tuple[str, str]]]:
    """Every device in every WitMotion file as a :class:`SensorSeries`."""
    series: list[SensorSeries] = []
    units: dict[str, tuple[str, str]] = {}
    for f in files:
        s, u = _parse(f)
        series += s
        units.update(u)
    return series, units
