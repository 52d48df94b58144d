"""``companion inspect FILE``: print what a session file holds."""

from __future__ import annotations

import argparse
import collections
import json

import numpy as np

from companion.commands._common import add_source_arguments, open_from_args
from companion.model import Session


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="print what a session file holds",
        description="Print a session file's sensors, rates, loss, gaps, annotations and plan.",
    )
    add_source_arguments(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def summarize(session: Session) -> dict:
    """A JSON-ready summary of a session (also used by tests and the window)."""
    sensors = []
    gaps_by = collections.defaultdict(list)
    for g in session.gaps:
        gaps_by[g.sensor_id].append(g)
    for s in session.sensors:
        c = session.chunks[s.sensor_id]
        n = len(c)
        entry = {
            "sensor_id": s.sensor_id,
            "family": s.family,
            "segment": s.placement.segment.value,
            "side": s.placement.side.value,
            "address": s.address,
            "nominal_rate_hz": s.sampling_rate_hz,
            "samples": n,
            "has_quaternion": c.quat_wxyz is not None,
            "has_counter": c.counter is not None,
        }
        if n >= 2:
            dt = np.diff(c.t_s)
            span = float(c.t_s[-1] - c.t_s[0])
            entry["t_first_s"] = float(c.t_s[0])
            entry["t_last_s"] = float(c.t_s[-1])
            entry["effective_rate_hz"] = round(float(1.0 / np.median(dt)), 2)
            expected = span * s.sampling_rate_hz + 1
            missing = sum(g.n_missing for g in gaps_by[s.sensor_id])
            entry["loss_pct"] = (
                round(100.0 * max(missing, expected - n) / expected, 2) if expected > 0 else 0.0
            )
        entry["gaps"] = len(gaps_by[s.sensor_id])
        entry["gap_samples_missing"] = sum(g.n_missing for g in gaps_by[s.sensor_id])
        sensors.append(entry)
    kinds = collections.Counter(a.get("kind", "?") for a in session.annotations)
    return {
        "source": session.source,
        "app_version": session.app_version,
        "start_time_utc": session.start_time_utc,
        "duration_s": round(session.duration_s, 3),
        "sensors": sensors,
        "reference_tracks": {k: len(v.t_s) for k, v in session.references.items()},
        "annotations": dict(kinds),
        "plan": session.plan,
        "calibration": "present" if session.calibration else "none",
        "notes": session.notes,
        "extra": session.extra,
    }


def run(args: argparse.Namespace) -> int:
    session, report = open_from_args(args)
    info = summarize(session)
    info["warnings"] = list(report.warnings) + list(session.extra.get("import_warnings", []))
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    name = ", ".join(str(f) for f in args.files)
    print(f"{name}")
    made_by = f" (companion {info['app_version']})" if info["app_version"] else ""
    print(f"  source:     {info['source'] or 'unknown'}{made_by}")
    print(f"  started:    {info['start_time_utc'] or 'unknown'}")
    print(f"  duration:   {info['duration_s']:.1f} s")
    print("  sensors:")
    for s in info["sensors"]:
        rate = s.get("effective_rate_hz")
        rate_txt = f"{rate:.1f} Hz measured" if rate else "no rate"
        extras = [k for k in ("has_quaternion", "has_counter") if s[k]]
        print(
            f"    {s['sensor_id']:<11} {s['family']:<10} {s['segment']}/{s['side']:<6} "
            f"{s['samples']:>8} samples  {s['nominal_rate_hz']:g} Hz nominal, {rate_txt}, "
            f"loss {s.get('loss_pct', 0.0):.2f} %, {s['gaps']} gaps"
            + (f"  [{', '.join(e.removeprefix('has_') for e in extras)}]" if extras else "")
            + (f"  {s['address']}" if s["address"] else "")
        )
    if info["reference_tracks"]:
        refs = ", ".join(f"{k} ({v} samples)" for k, v in info["reference_tracks"].items())
        print(f"  references: {refs}")
    if info["annotations"]:
        print("  annotations: " + ", ".join(f"{k} × {v}" for k, v in info["annotations"].items()))
    if info["plan"]:
        print(f"  plan:       {json.dumps(info['plan'])}")
    print(f"  calibration: {info['calibration']}")
    if info["notes"]:
        print(f"  notes:      {info['notes']}")
    extra = {k: v for k, v in info["extra"].items() if k != "import_warnings"}
    if extra:
        print(f"  extra:      {json.dumps(extra, default=str)}")
    for w in info["warnings"]:
        print(f"  warning:    {w}")
    return 0
