"""Writers of small export files in each vendor's exact layout, with known contents.

The layouts copy what the apps write (see the module docstrings of companion.importers.*):
DOT header order, trailing commas and the zero first row; MetaBase's header spellings and
file names; WitMotion's record-file columns and the old MiniIMU text file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DOT_HEADER = (
    "PacketCounter,SampleTimeFine,Quat_W,Quat_X,Quat_Y,Quat_Z,Acc_X,Acc_Y,Acc_Z,"
    "Gyr_X,Gyr_Y,Gyr_Z,Mag_X,Mag_Y,Mag_Z,Status,"
)


def dot_rows(
    n: int,
    *,
    stf0: int,
    step_us: int = 8333,
    counter0: int = 0,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Known per-sample values for a DOT file of ``n`` rows (row 0 is the zero row)."""
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    stf = (stf0 + k * step_us) % 2**32
    acc = np.column_stack([9.5 + 0.01 * k, 2.0 + rng.normal(0, 0.1, n), 0.5 * np.ones(n)])
    gyr = np.column_stack([np.sin(k / 10.0) * 30.0, rng.normal(0, 1.0, n), 0.25 * k])
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    acc[0] = 0.0
    gyr[0] = 0.0
    return {"counter": counter0 + k, "stf": stf, "acc": acc, "gyr": gyr, "quat": q}


def write_dot(
    path: Path,
    rows: dict[str, np.ndarray],
    *,
    preamble: list[str] | None = None,
    nan_rows: slice | None = None,
    drop_rows: list[int] | None = None,
    header: str = DOT_HEADER,
) -> Path:
    """A DOT app export: optional ``Key:,Value`` preamble, header, rows ending with a comma."""
    lines = list(preamble or [])
    lines.append(header)
    n = len(rows["stf"])
    skip = set(drop_rows or [])
    for i in range(n):
        if i in skip:
            continue
        acc, gyr, q = rows["acc"][i], rows["gyr"][i], rows["quat"][i]
        fmt = [repr(float(x)) if float(x) != 0 else "0" for x in (*q, *acc, *gyr)]
        if nan_rows is not None and nan_rows.start <= i < nan_rows.stop:
            fmt[4:10] = ["nan"] * 6
        mag = ["-2.0390625", "0.480712890625", "-0.216064453125"]
        lines.append(
            ", ".join([str(int(rows["counter"][i])), str(int(rows["stf"][i])), *fmt, *mag, "0"])
            + ", "
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


METABASE_ACC_HEADER = "epoc (ms),timestamp (-0700),elapsed (s),x-axis (g),y-axis (g),z-axis (g)"
METABASE_GYR_HEADER = (
    "epoc (ms),timestamp (-0700),elapsed (s),x-axis (deg/s),y-axis (deg/s),z-axis (deg/s)"
)


def write_metabase(
    folder: Path,
    *,
    name: str,
    mac: str,
    signal: str,
    epoch_ms: np.ndarray,
    xyz: np.ndarray,
    rate_hz: float = 100.0,
    header: str | None = None,
) -> Path:
    """``<name>_<stamp>_<MAC>_<Signal>_<rate>Hz_<fw>.csv`` with MetaBase's columns."""
    if header is None:
        header = METABASE_ACC_HEADER if signal == "Accelerometer" else METABASE_GYR_HEADER
    path = folder / f"{name}_2019-05-21T09.55.05.383_{mac}_{signal}_{rate_hz:.3f}Hz_1.4.4.csv"
    lines = [header]
    for e, v in zip(epoch_ms, xyz, strict=True):
        el = (e - epoch_ms[0]) / 1000.0
        lines.append(
            f"{int(e)},2019-05-21T09:55:{5 + el:06.3f},{el:.3f},{v[0]:.4f},{v[1]:.4f},{v[2]:.4f}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


WIT_HEADER = [
    "Time",
    "Device name",
    "Chip Time()",
    "Acceleration X(g)",
    "Acceleration Y(g)",
    "Acceleration Z(g)",
    "Angular velocity X(°/s)",
    "Angular velocity Y(°/s)",
    "Angular velocity Z(°/s)",
    "ShiftX(mm)",
    "ShiftY(mm)",
    "ShiftZ(mm)",
    "SpeedX(mm/s)",
    "SpeedY(mm/s)",
    "SpeedZ(mm/s)",
    "Angle X(°)",
    "Angle Y(°)",
    "Angle Z(°)",
    "Magnetic field X(ʯt)",
    "Magnetic field Y(ʯt)",
    "Magnetic field Z(ʯt)",
    "Temperature(℃)",
    "Quaternions 0()",
    "Quaternions 1()",
    "Quaternions 2()",
    "Quaternions 3()",
]


def write_witmotion_record(
    path: Path,
    devices: dict[str, dict[str, np.ndarray]],
    *,
    delimiter: str = ",",
    ms_sep: str = ".",
) -> Path:
    """The current app's record file; rows of all devices interleaved by time.

    ``devices[name]`` holds ``t_ms`` (chip time, ms since 2024-03-19 16:44:00), ``acc_g``,
    ``gyr_dps``, ``quat_wxyz``.
    """
    rows = []
    for dev, d in devices.items():
        for i, t in enumerate(d["t_ms"]):
            rows.append((float(t), dev, i))
    rows.sort()
    lines = [delimiter.join(WIT_HEADER)]
    for t, dev, i in rows:
        d = devices[dev]
        sec_total = 44 * 60 + t / 1000.0
        mm, ss = divmod(sec_total, 60)
        whole = int(ss)
        ms = round((ss - whole) * 1000)
        chip = f"2024-3-19 16:{int(mm)}:{whole}{ms_sep}{ms:03d}"
        pc = f"16:{int(mm):02d}:{whole:02d}.{ms:03d}"
        vals = [
            pc,
            dev,
            chip,
            *(f"{x:.4f}" for x in d["acc_g"][i]),
            *(f"{x:.4f}" for x in d["gyr_dps"][i]),
            *(["0"] * 6),
            "1.2",
            "-3.4",
            "120.5",
            "-12",
            "30",
            "-41",
            "27.5",
            *(f"{x:.5f}" for x in d["quat_wxyz"][i]),
        ]
        lines.append(delimiter.join(vals))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_witmotion_legacy(
    path: Path, t_s: np.ndarray, acc_g: np.ndarray, gyr_dps: np.ndarray
) -> Path:
    """The old MiniIMU ``.txt``: ``StartTime`` line, tab header, GB18030 text, decimal comma."""
    lines = [
        "StartTime：2021/3/8 23:59:59",
        "\t".join(
            [
                "Time(s)",
                "ax(g)",
                "ay(g)",
                "az(g)",
                "wx(deg/s)",
                "wy(deg/s)",
                "wz(deg/s)",
                "AngleX(deg)",
                "AngleY(deg)",
                "AngleZ(deg)",
                "T(°)",
            ]
        ),
    ]
    for t, a, g in zip(t_s, acc_g, gyr_dps, strict=True):
        tod = (23 * 3600 + 59 * 60 + 59.5 + t) % 86400
        hh, rem = divmod(tod, 3600)
        mm, ss = divmod(rem, 60)
        stamp = f"{int(hh):02d}:{int(mm):02d}:{ss:06.3f}"
        nums = [*(f"{x:.4f}" for x in a), *(f"{x:.4f}" for x in g), "1.5", "2.5", "3.5", "25.0"]
        lines.append("\t".join([stamp, *(x.replace(".", ",") for x in nums)]))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gb18030"))
    return path
