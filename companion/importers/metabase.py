"""MbientLab MetaBase CSV exports: one file per sensor *and* signal.

Layout (MetaBase app export, as written by the app and read by public code):

* file name ``<device name>_<yyyy-mm-ddThh.mm.ss.mmm>_<MAC, 12 hex>_<Signal>[_<rate>Hz_<fw>].csv``,
  e.g. ``MetaWear_2019-05-21T09.55.05.383_D98B0E4A4D7D_Accelerometer_100.000Hz_1.4.4.csv``;
* header ``epoc (ms),timestamp (-0700),elapsed (s),x-axis (g),y-axis (g),z-axis (g)`` for the
  accelerometer and ``... x-axis (deg/s) ...`` for the gyroscope (older app versions write
  ``epoch (ms)`` and ``time (-13:00)``); the sensor-fusion quaternion export has
  ``w (number),x (number),y (number),z (number)``.

The epoch column is the device's own time stamp (the board's tick counter converted to UNIX
ms), so accelerometer and gyroscope files of one board — and several boards — pair on it.
The gyroscope (and quaternion) are linearly interpolated onto the accelerometer's time stamps;
where the gyroscope has a hole longer than 1.5 periods the rows are invalid (a marked gap).
"""

from __future__ import annotations

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

__all__ = ["read_metabase"]

_NAME = re.compile(
    r"^(?P<name>.*?)_?(?P<stamp>\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3})_(?P<mac>[0-9A-Fa-f]{12})"
    r"_(?P<signal>[A-Za-z ]+?)(?:_(?P<rate>[\d.]+)Hz)?(?:_(?P<fw>[\d.]+))?$"
)
_AXIS = re.compile(r"^([xyzw])(?:-axis)?\s*\((.+)\)$", re.IGNORECASE)
RATE_MISMATCH = 1.2  # acc/gyro rates further apart than this are "mixed rates"


def _read(path: Path) -> tuple[str, dict[str, np.ndarray], str, float]:
    """(kind, columns, unit, epoch0) of one MetaBase file; kind is acc, gyr or quat."""
    text = read_text(path)
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        msg = f"{path.name}: not a readable CSV ({one_line(exc)}); export it again from MetaBase"
        raise ImportFormatError(msg) from None
    cols = [str(c).strip() for c in df.columns]
    df.columns = cols
    epoch = next((c for c in cols if re.match(r"^epoch?\s*\(ms\)$", c, re.IGNORECASE)), None)
    axes: dict[str, tuple[str, str]] = {}
    for c in cols:
        m = _AXIS.match(c)
        if m:
            axes[m.group(1).lower()] = (c, m.group(2).strip())
    if epoch is None or not {"x", "y", "z"} <= set(axes):
        msg = (
            f"{path.name}: not a MetaBase export (needs 'epoc (ms)' and 'x-axis (unit)', "
            f"'y-axis (unit)', 'z-axis (unit)' columns; has {', '.join(cols[:8])}); check --from"
        )
        raise ImportFormatError(msg)
    unit = axes["x"][1]
    sig = _NAME.match(path.stem)
    signal = (sig.group("signal") if sig else "").strip().lower()
    if signal:
        # The file name says which signal it is: only the raw IMU signals (and the fusion
        # quaternion) are imported; fusion outputs in g (linear acceleration, gravity) are not
        # sensor-frame specific force and must not pass for the accelerometer.
        kind = {"accelerometer": "acc", "gyroscope": "gyr", "quaternion": "quat"}.get(
            signal,
            "skip:" + sig.group("signal"),  # type: ignore[union-attr]
        )
    elif "w" in axes:
        kind = "quat"
    elif unit.lower() in ("g", "m/s^2", "m/s2", "m/s²", "mg"):
        kind = "acc"
    elif unit.lower() in ("deg/s", "°/s", "rad/s", "dps"):
        kind = "gyr"
    else:
        kind = f"skip:unit {unit}"
    if kind.startswith("skip:"):
        return kind, {}, unit, 0.0
    if kind == "quat" and "w" not in axes:
        msg = f"{path.name}: the Quaternion file has no 'w (number)' column; export it again"
        raise ImportFormatError(msg)
    out = {}
    for key in ["t", *sorted(axes)]:
        col = epoch if key == "t" else axes[key][0]
        s = df[col].astype(str).str.strip()
        out[key] = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
    if np.isfinite(out["t"]).sum() < 2:
        msg = f"{path.name}: fewer than two valid time stamps in {epoch!r}; export it again"
        raise ImportFormatError(msg)
    return kind, out, unit, 0.0


def _device_key(path: Path) -> tuple[str, str, float | None]:
    """(MAC or name prefix, device name, declared rate) from a MetaBase file name."""
    m = _NAME.match(path.stem)
    if m:
        rate = float(m.group("rate")) if m.group("rate") else None
        return m.group("mac").upper(), m.group("name").strip("_ "), rate
    base = re.sub(
        r"[_ -]*(accelerometer|gyroscope|quaternion|acc|gyro?)\b.*$",
        "",
        path.stem,
        flags=re.IGNORECASE,
    )
    return base or path.stem, base, None


def _period(t: np.ndarray) -> float:
    d = np.diff(t[np.isfinite(t)])
    d = d[d > 0]
    return float(np.median(d)) if d.size else float("nan")


def _onto(t_src: np.ndarray, v: np.ndarray, t_dst: np.ndarray, period_s: float) -> np.ndarray:
    """Linear interpolation of ``v`` (n, k) onto ``t_dst``.

    Before the first and after the last source sample the edge value is held for up to half a
    period (the two signals' stamps are offset by a few ms); where the source has a hole longer
    than 1.5 periods the result is NaN, so the row becomes a marked gap.
    """
    ok = np.isfinite(t_src) & np.all(np.isfinite(v), axis=1)
    ts, vs = t_src[ok], v[ok]
    order = np.argsort(ts, kind="stable")
    ts, vs = ts[order], vs[order]
    out = np.full((t_dst.shape[0], v.shape[1]), np.nan)
    if ts.size < 2:
        return out
    for k in range(v.shape[1]):
        out[:, k] = np.interp(t_dst, ts, vs[:, k])
    j = np.clip(np.searchsorted(ts, t_dst), 1, ts.size - 1)
    span = ts[j] - ts[j - 1]
    inside = (t_dst >= ts[0]) & (t_dst <= ts[-1])
    hole = inside & (span > 1.5 * period_s)
    outside = (t_dst < ts[0] - 0.5 * period_s) | (t_dst > ts[-1] + 0.5 * period_s)
    out[hole | outside | ~np.isfinite(t_dst)] = np.nan
    return out


def read_metabase(
    files: list[Path],
) -> tuple[list[SensorSeries], dict[str, tuple[str, str]]]:
    """Pair each board's accelerometer and gyroscope files into one :class:`SensorSeries`."""
    boards: dict[str, dict[str, tuple[Path, dict[str, np.ndarray], str]]] = {}
    names: dict[str, str] = {}
    rates: dict[str, float | None] = {}
    skipped: list[str] = []
    for f in files:
        kind, cols, unit, _ = _read(f)
        if kind.startswith("skip:"):
            skipped.append(f"{f.name} ({kind[5:]})")
            continue
        key, name, rate = _device_key(f)
        slot = boards.setdefault(key, {})
        if kind in slot:
            msg = (
                f"{slot[kind][0].name} and {f.name} are both {kind} files of device {key}; "
                "import one recording at a time"
            )
            raise ImportFormatError(msg)
        slot[kind] = (f, cols, unit)
        names[key] = name
        if kind == "acc":
            rates[key] = rate
    # One clock for every board: ms since the earliest stamp (exact in float64, unlike
    # epoch seconds, which keep only ~0.2 µs).
    e0_ms = min(float(np.nanmin(c["t"])) for slot in boards.values() for _, c, _ in slot.values())
    if not boards:
        msg = (
            f"none of the {len(files)} MetaBase file(s) is an Accelerometer, Gyroscope or "
            f"Quaternion export (skipped: {', '.join(skipped[:3])}); export those signals"
        )
        raise ImportFormatError(msg)
    series = []
    units: dict[str, tuple[str, str]] = {}
    for key, slot in boards.items():
        for need, word in (("acc", "Accelerometer"), ("gyr", "Gyroscope")):
            if need not in slot:
                have = next(iter(slot.values()))[0].name
                msg = (
                    f"{have}: device {key} has no {word} file among the inputs; export both the "
                    "Accelerometer and the Gyroscope signals of every board and import them "
                    "together"
                )
                raise ImportFormatError(msg)
        fa, ca, ua = slot["acc"]
        fg, cg, ug = slot["gyr"]
        ta, tg = (ca["t"] - e0_ms) / 1000.0, (cg["t"] - e0_ms) / 1000.0
        pa, pg = _period(ta), _period(tg)
        if not (np.isfinite(pa) and np.isfinite(pg)):
            msg = f"{fa.name}: fewer than two valid time stamps in 'epoc (ms)'; export again"
            raise ImportFormatError(msg)
        if max(pa, pg) > RATE_MISMATCH * min(pa, pg):
            msg = (
                f"{fa.name} ({1 / pa:.4g} Hz) and {fg.name} ({1 / pg:.4g} Hz): mixed rates for "
                f"device {key}; set the accelerometer and gyroscope to the same rate in MetaBase "
                "and record again"
            )
            raise ImportFormatError(msg)
        t = ta
        acc = np.column_stack([ca["x"], ca["y"], ca["z"]]) * unit_factor(
            ua, ACC_UNITS_TO_M_S2, what="accelerometer", where=fa.name, advice="export in g"
        )
        g = np.column_stack([cg["x"], cg["y"], cg["z"]]) * unit_factor(
            ug, GYR_UNITS_TO_DPS, what="gyroscope", where=fg.name, advice="export in deg/s"
        )
        gyr = _onto(tg, g, t, pg)
        quat = None
        files_used = [fa, fg]
        if "quat" in slot:
            fq, cq, _ = slot["quat"]
            q = np.column_stack([cq["w"], cq["x"], cq["y"], cq["z"]])
            tq = (cq["t"] - e0_ms) / 1000.0
            quat = _onto(tq, q, t, max(_period(tq), pa))
            nrm = np.linalg.norm(quat, axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                quat = quat / nrm
            files_used.append(fq)
        address = (
            ":".join(key[i : i + 2] for i in range(0, 12, 2))
            if re.fullmatch(r"[0-9A-F]{12}", key)
            else ""
        )
        series.append(
            SensorSeries(
                key=key,
                files=tuple(files_used),
                family="metabase",
                t_dev_s=t,
                acc_m_s2=acc,
                gyr_dps=gyr,
                quat_wxyz=quat,
                name=names.get(key, ""),
                address=address,
                match_names=(key,),
                epoch_at_zero_s=e0_ms / 1000.0,
                nominal_rate_hz=rates.get(key),
            )
        )
        units[key] = (ua, ug)
    if skipped:
        from dataclasses import replace

        note = (
            f"skipped {len(skipped)} MetaBase file(s) of other signals: "
            f"{', '.join(skipped[:4])}{', ...' if len(skipped) > 4 else ''}; only Accelerometer, "
            "Gyroscope and Quaternion are imported"
        )
        series[0] = replace(series[0], warnings=(*series[0].warnings, note))
    return series, units
