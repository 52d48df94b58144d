"""Movella (Xsens) DOT app CSV exports: one file per sensor.

Layout (Movella DOT user manual, "data export"; checked against the public export in
``../shared/data/xsens_dot_shank_foot_devdata`` and exports quoted in public code):

* optional preamble lines ``Key:,Value`` (``DeviceTag:``, ``FirmwareVersion:``, ``OutputRate:``,
  ``SyncStatus:``, ...) and a copyright line;
* a header row starting ``PacketCounter,SampleTimeFine,...``; the columns present depend on
  the measurement mode: ``Quat_W..Z`` (scalar first, sensor -> earth), ``Euler_X..Z``,
  ``Acc_X..Z`` (m/s², gravity included), ``FreeAcc_X..Z`` (earth frame, gravity removed),
  ``Gyr_X..Z`` (deg/s), ``Mag_X..Z`` (a.u.), ``Status``;
* every row ends with a comma (an empty last field);
* the first sample row may carry zeros for Acc/Gyr (the sensor had no IMU sample yet).

Time is ``SampleTimeFine``: the sensor clock in µs, a uint32 that wraps every ~71.6 min;
synchronised sensors share it. ``PacketCounter`` counts samples (gaps show as jumps).
Files named ``<tag>_<MAC>_<yyyymmdd>_<hhmmss>.csv`` (the DOT app's name) give device tag and
address.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from companion.errors import ImportFormatError
from companion.importers._common import (
    SensorSeries,
    number_text,
    one_line,
    read_text,
    unwrap_counter,
    where,
    whole_number_counter,
)

__all__ = ["read_dot"]

STF_MODULUS = 2**32  # SampleTimeFine is a uint32 of microseconds
STF_TICK_S = 1e-6
ACC = ("Acc_X", "Acc_Y", "Acc_Z")
GYR = ("Gyr_X", "Gyr_Y", "Gyr_Z")
QUAT = ("Quat_W", "Quat_X", "Quat_Y", "Quat_Z")
_NAME = re.compile(r"^(?P<tag>.+?)_(?:(?P<mac>[0-9A-Fa-f]{12})_)?(?P<date>\d{8})_(?P<time>\d{6})$")


def _parse_one(path: Path) -> SensorSeries:
    text = read_text(path)
    lines = text.splitlines()
    hdr = next(
        (i for i, ln in enumerate(lines[:50]) if ln.strip().startswith("PacketCounter")), None
    )
    if hdr is None:
        hdr = next((i for i, ln in enumerate(lines[:50]) if "SampleTimeFine" in ln), None)
    if hdr is None:
        msg = (
            f"{path.name}: not a Movella DOT export (no 'PacketCounter,SampleTimeFine,...' "
            "header row in the first 50 lines); check --from or export the file again"
        )
        raise ImportFormatError(msg)
    meta: dict[str, str] = {}
    for ln in lines[:hdr]:
        m = re.match(r"\s*([^:,]+):\s*,?\s*(.*?)\s*,*\s*$", ln)
        if m:
            meta[m.group(1).strip()] = m.group(2).strip()
    try:
        df = pd.read_csv(
            io.StringIO("\n".join(lines[hdr:])),
            skipinitialspace=True,
            dtype=str,
            keep_default_na=False,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        msg = f"{path.name}: the table cannot be parsed ({one_line(exc)}); export the file again"
        raise ImportFormatError(msg) from None
    df = df.loc[:, [c for c in df.columns if not str(c).startswith("Unnamed")]]
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in ("SampleTimeFine", *ACC, *GYR) if c not in df.columns]
    if missing:
        has_fusion = any(c.startswith(("Euler", "FreeAcc", "dq", "dv")) for c in df.columns)
        advice = (
            "this measurement mode exports orientation/free acceleration only; record with "
            "a mode that includes calibrated acceleration and angular velocity (Acc, Gyr)"
            if has_fusion
            else "export again with Acc and Gyr selected"
        )
        msg = (
            f"{path.name}: the DOT export lacks column(s) {', '.join(missing)} "
            f"(it has {', '.join(df.columns[:10])}); {advice}"
        )
        raise ImportFormatError(msg)

    def num(cols: tuple[str, ...] | list[str]) -> np.ndarray:
        sub = df.loc[:, list(cols)].apply(lambda s: pd.to_numeric(s, errors="coerce"))
        return sub.to_numpy(dtype=np.float64)

    first_row = hdr + 2  # 1-based line of the first sample
    stf = num(["SampleTimeFine"])[:, 0]
    acc = num(ACC)
    gyr = num(GYR)
    quat = num(QUAT) if all(c in df.columns for c in QUAT) else None
    counter_raw = num(["PacketCounter"])[:, 0] if "PacketCounter" in df.columns else None
    # The DOT app writes the first row before the first IMU sample: zeros in Acc and Gyr.
    if len(stf) and np.all(acc[0] == 0) and np.all(gyr[0] == 0):
        stf, acc, gyr = stf[1:], acc[1:], gyr[1:]
        quat = None if quat is None else quat[1:]
        counter_raw = None if counter_raw is None else counter_raw[1:]
        first_row += 1
    if quat is not None and not np.any(np.isfinite(quat) & (quat != 0)):
        quat = None
    ok = np.isfinite(stf)
    if ok.sum() < 2:
        msg = f"{where(path, column='SampleTimeFine')}: fewer than two sample times; export again"
        raise ImportFormatError(msg)
    if np.any(stf[ok] < 0) or np.any(stf[ok] >= STF_MODULUS):
        bad = int(np.flatnonzero(ok & ((stf < 0) | (stf >= STF_MODULUS)))[0])
        msg = (
            f"{where(path, row=first_row + bad, column='SampleTimeFine')}: {stf[bad]:.0f} is not "
            "a uint32 microsecond time; the file is damaged, export it again"
        )
        raise ImportFormatError(msg)
    t_us = np.full(stf.shape, np.nan)
    t_us[ok] = unwrap_counter(stf[ok].astype(np.int64), STF_MODULUS).astype(np.float64)
    warnings = []
    counter = None
    if counter_raw is not None:
        whole, bad = whole_number_counter(counter_raw, low=0, high=2**32)
        if whole is not None:
            cmax = int(whole.max()) if whole.size else 0
            counter = unwrap_counter(whole, 2**16 if cmax < 2**16 else 2**32)
        elif bad is not None:
            warnings.append(
                f"{where(path, row=first_row + bad, column='PacketCounter')}: "
                f"{number_text(counter_raw[bad])} is not a packet counter value (a whole "
                "number from 0 to 2^32 - 1), so the counter is ignored and lost samples are "
                "found from SampleTimeFine"
            )
    m = _NAME.match(path.stem)
    tag = meta.get("DeviceTag", m.group("tag") if m else "")
    mac = m.group("mac").upper() if m and m.group("mac") else ""
    address = ":".join(mac[i : i + 2] for i in range(0, 12, 2)) if mac else ""
    nominal = None
    rate_txt = meta.get("OutputRate", "")
    rm = re.match(r"([\d.]+)\s*Hz", rate_txt, re.IGNORECASE)
    if rm:
        nominal = float(rm.group(1))
    sync = meta.get("SyncStatus", "")
    if sync and sync.lower() not in ("synced", "sync", "synchronized", "synchronised"):
        warnings.append(
            f"{path.name}: SyncStatus is {sync!r}: the sensors' clocks may not be aligned, "
            "so pairing on SampleTimeFine can be off"
        )
    return SensorSeries(
        key=tag or mac or path.stem,
        files=(path,),
        family="dot",
        t_dev_s=t_us * STF_TICK_S,
        acc_m_s2=acc,
        gyr_dps=gyr,
        quat_wxyz=quat,
        counter=counter,
        first_data_row=first_row,
        name=tag,
        address=address,
        firmware=meta.get("FirmwareVersion", ""),
        match_names=tuple(x for x in (tag, mac) if x),
        warnings=tuple(warnings),
        nominal_rate_hz=nominal,
    )


def read_dot(files: list[Path]) -> list[SensorSeries]:
    """One :class:`SensorSeries` per DOT export file, on a common SampleTimeFine clock.

    Each file is unwrapped on its own. A file that does not overlap the first one but would
    after a shift by whole wraps (2³² µs ≈ 71.6 min) is shifted: synchronised sensors recorded
    together can straddle a wrap of their shared clock.
    """
    out = [_parse_one(f) for f in files]
    if len(out) > 1:
        wrap_s = STF_MODULUS * STF_TICK_S
        ref_a, ref_b = _span(out[0])
        shifted = [out[0]]
        for s in out[1:]:
            a, b = _span(s)
            if b < ref_a or a > ref_b:  # no overlap as read: maybe one clock wrapped
                k = round((ref_a - a) / wrap_s)
                if k and a + k * wrap_s <= ref_b and b + k * wrap_s >= ref_a:
                    s = _with_time(s, s.t_dev_s + k * wrap_s)
            shifted.append(s)
        out = shifted
    return out


def _span(s: SensorSeries) -> tuple[float, float]:
    return float(np.nanmin(s.t_dev_s)), float(np.nanmax(s.t_dev_s))


def _with_time(s: SensorSeries, t: np.ndarray) -> SensorSeries:
    from dataclasses import replace

    return replace(s, t_dev_s=t)
