"""``companion export FILE --format csv --out DIR``: plain CSV for spreadsheets and researchers.

Writes, into DIR, one CSV per sensor (STEM.SENSOR_ID.csv: t_s, acc_x_m_s2 ...), the
reference tracks (STEM.references.csv), the gaps (STEM.gaps.csv) and the header, annotations
and plan (STEM.metadata.json). With --angles it adds STEM.angles_SIDE.csv per leg: the
analysis' per-sample channels (sagittal and frontal ankle angle, shin inclination, foot pitch,
knee tracking, angular velocity, validity, rep and phase labels). DIR is created if its parent
folder exists; nothing is written if any target file already exists. STEM is the session
file's name (for one export read with --from, the export's name; for several, 'import').
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from companion.commands._common import add_source_arguments, open_from_args, open_source
from companion.commands.inspect import summarize
from companion.errors import SensorError, UsageError
from companion.model import Session


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a session as plain CSV files",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        epilog="exit status: 0 everything was written; 2 nothing was written (one line says why).",
    )
    add_source_arguments(p)
    p.add_argument("--format", choices=["csv"], default="csv", help="output format (csv)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--angles",
        action="store_true",
        help="also write the computed per-sample angles and rep/phase labels",
    )
    p.set_defaults(func=run)


def _imu_table(session: Session, sensor_id: str) -> pa.Table:
    c = session.chunks[sensor_id]
    cols: dict[str, np.ndarray] = {"t_s": c.t_s}
    for i, ax in enumerate("xyz"):
        cols[f"acc_{ax}_m_s2"] = c.acc_m_s2[:, i]
    for i, ax in enumerate("xyz"):
        cols[f"gyr_{ax}_dps"] = c.gyr_dps[:, i]
    if c.quat_wxyz is not None:
        for i, ax in enumerate("wxyz"):
            cols[f"quat_{ax}"] = c.quat_wxyz[:, i]
    if c.counter is not None:
        cols["counter"] = c.counter
    return pa.table(cols)


def export_tables(session: Session, *, angles: bool) -> dict[str, pa.Table | str]:
    """Suffix -> table (CSV) or text (JSON) for everything an export writes."""
    out: dict[str, pa.Table | str] = {}
    for s in session.sensors:
        out[f"{s.sensor_id}.csv"] = _imu_table(session, s.sensor_id)
    if session.references:
        rows_t, rows_name, rows_v = [], [], []
        for name, tr in session.references.items():
            rows_t.append(tr.t_s)
            rows_name.extend([name] * len(tr.t_s))
            rows_v.append(tr.values)
        out["references.csv"] = pa.table(
            {
                "track": pa.array(rows_name, pa.string()),
                "t_s": np.concatenate(rows_t),
                "value": np.concatenate(rows_v) + 0.0,  # + 0.0: no "-0" in the CSV
            }
        )
    out["gaps.csv"] = pa.table(
        {
            "sensor_id": pa.array([g.sensor_id for g in session.gaps], pa.string()),
            "t_start_s": pa.array([g.t_start_s for g in session.gaps], pa.float64()),
            "t_end_s": pa.array([g.t_end_s for g in session.gaps], pa.float64()),
            "n_missing": pa.array([g.n_missing for g in session.gaps], pa.int64()),
            "reason": pa.array([g.reason for g in session.gaps], pa.string()),
        }
    )
    meta = summarize(session)
    meta["annotations"] = session.annotations
    meta["calibration"] = session.calibration
    out["metadata.json"] = json.dumps(meta, indent=2, default=str)
    if angles:
        for side, table in _angles_tables(session).items():
            out[f"angles_{side}.csv"] = table
    return out


def _angles_tables(session: Session) -> dict[str, pa.Table]:
    """Per leg: the analysis' per-sample channels (angles, knee tracking, rep/phase labels)."""
    from companion.scoring.plan import resolve_plan
    from companion.scoring.score import analyze_sides, split_by_side

    try:
        split_by_side(session)
    except SensorError as exc:
        raise UsageError(
            f"--angles: {str(exc).split('; ')[0]}; export without --angles for the sensor "
            "data as it is, nothing was written"
        ) from None
    plan = resolve_plan(session.plan, None)
    return {
        side: pa.table({k: np.asarray(v) for k, v in result.channels.as_dict().items()})
        for side, result in analyze_sides(session, plan).items()
    }


def run(args: argparse.Namespace) -> int:
    out_dir: Path = args.out
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file; give a folder")
    if not out_dir.exists() and not out_dir.parent.is_dir():
        raise UsageError(
            f"--out {out_dir}: the folder {out_dir.parent} does not exist; create it first "
            "or choose another --out, nothing was written"
        )
    if args.from_format is None and len(args.files) > 1:
        # Several session files: each exported under its own stem, all or nothing.
        stems = [f.stem for f in args.files]
        twice = sorted({s for s in stems if stems.count(s) > 1})
        if twice:
            raise UsageError(
                f"two session files are named {twice[0]!r}: their CSVs would collide in "
                f"{out_dir}; export them one at a time into different folders"
            )
        jobs = [(f.stem, *open_source([f], None)) for f in args.files]
    else:
        stem = args.files[0].stem
        if args.from_format is not None:  # LOG2.csv.gz -> LOG2; several exports -> import
            stem = args.files[0].name.split(".")[0] if len(args.files) == 1 else "import"
        jobs = [(stem, *open_from_args(args))]
    targets: dict[Path, pa.Table | str] = {}
    warnings: list[str] = []
    for stem, session, report in jobs:
        tables = export_tables(session, angles=args.angles)
        targets.update({out_dir / f"{stem}.{suffix}": obj for suffix, obj in tables.items()})
        prefix = f"{stem}: " if len(jobs) > 1 else ""
        warnings += [prefix + w for w in report.warnings]
    existing = [str(p) for p in targets if p.exists()]
    if existing:
        raise UsageError(
            f"{existing[0]} already exists"
            + (f" (and {len(existing) - 1} more)" if len(existing) > 1 else "")
            + "; choose another --out folder, nothing was written"
        )
    written: list[Path] = []
    try:
        out_dir.mkdir(exist_ok=True)
        for path, obj in targets.items():
            tmp = path.with_name(f".{path.name}.tmp")
            if isinstance(obj, str):
                tmp.write_text(obj + "\n", encoding="utf-8")
            else:
                pacsv.write_csv(obj, tmp)
            os.replace(tmp, path)
            written.append(path)
    except OSError as exc:
        for p in written:
            p.unlink(missing_ok=True)
        for p in targets:
            p.with_name(f".{p.name}.tmp").unlink(missing_ok=True)
        raise UsageError(
            f"cannot write into {out_dir} ({exc.strerror}); choose another --out, "
            "nothing was written"
        ) from None
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    for p in written:
        print(p)
    return 0
