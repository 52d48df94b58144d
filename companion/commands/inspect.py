"""``companion inspect FILE``: print what a session file holds."""

from __future__ import annotations

import argparse
import collections
import json
import sys

import numpy as np

from companion.commands._common import add_source_arguments, open_from_args, open_source
from companion.errors import CompanionError
from companion.model import Session
from companion.storage import LoadReport


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="print what a session file holds",
        description="Print a session file's sensors, rates, loss, gaps, annotations and plan.",
        epilog=(
            "exit status: 0 every file was read; 1 some files were read and some could not "
            "be (each named in one line on stderr); 2 none could be read or a bad option."
        ),
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


def _compact(value: object, width: int = 96) -> str:
    """One short line for a metadata value: floats to 4 significant digits, cut at ``width``."""

    def rounded(v: object) -> object:
        if isinstance(v, float):
            return float(f"{v:.4g}")
        if isinstance(v, dict):
            return {k: rounded(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [rounded(x) for x in v]
        return v

    text = value if isinstance(value, str) else json.dumps(rounded(value), default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def run(args: argparse.Namespace) -> int:
    if args.from_format is not None or len(args.files) == 1:
        session, report = open_from_args(args)
        info = _info(session, report)
        if args.json:
            print(json.dumps(info, indent=2, default=str))
        else:
            files = [str(f) for f in args.files]
            _print_text(files[0] + (f" (+{len(files) - 1} more)" if len(files) > 1 else ""), info)
        return 0
    # Several session files: each on its own; one unreadable file does not hide the others.
    infos: list[dict] = []
    failed = 0
    for i, path in enumerate(args.files):
        try:
            session, report = open_source([path], None)
        except CompanionError as exc:
            print(f"companion inspect: {exc}", file=sys.stderr)
            failed += 1
            continue
        info = _info(session, report)
        if args.json:
            infos.append({"file": str(path), **info})
        else:
            if i:
                print()
            _print_text(str(path), info)
    if args.json:
        print(json.dumps(infos, indent=2, default=str))
    if not failed:
        return 0
    return 2 if failed == len(args.files) else 1  # as `companion score` does


def _info(session: Session, report: LoadReport) -> dict:
    info = summarize(session)
    info["warnings"] = list(report.warnings) + list(session.extra.get("import_warnings", []))
    return info


def _print_text(name: str, info: dict) -> None:
    print(name)
    made_by = f" (companion {info['app_version']})" if info["app_version"] else ""
    print(f"  source:      {info['source'] or 'unknown'}{made_by}")
    print(f"  started:     {info['start_time_utc'] or 'unknown'}")
    print(f"  duration:    {info['duration_s']:.1f} s")
    print("  sensors:")
    for s in info["sensors"]:
        rate = s.get("effective_rate_hz")
        if rate:
            quality = (
                f"{rate:.1f} Hz measured, loss {s.get('loss_pct', 0.0):.2f} %, "
                f"{s['gaps']} gap{'' if s['gaps'] == 1 else 's'}"
            )
        else:  # fewer than two samples: no rate, no loss to speak of
            quality = "no data recorded" if s["samples"] == 0 else "too few samples for a rate"
        extras = [k for k in ("has_quaternion", "has_counter") if s[k]]
        print(
            f"    {s['sensor_id']:<11} {s['family']:<10} {s['segment']}/{s['side']:<6} "
            f"{s['samples']:>8} samples  {s['nominal_rate_hz']:g} Hz nominal, {quality}"
            + (f"  [{', '.join(e.removeprefix('has_') for e in extras)}]" if extras else "")
            + (f"  {s['address']}" if s["address"] else "")
        )
    if info["reference_tracks"]:
        tracks = info["reference_tracks"]
        if len(tracks) > 1 and len(set(tracks.values())) == 1:
            refs = f"{', '.join(tracks)} ({next(iter(tracks.values()))} samples each)"
        else:
            refs = ", ".join(f"{k} ({v} samples)" for k, v in tracks.items())
        print(f"  references:  {refs}")
    if info["annotations"]:
        print("  annotations: " + ", ".join(f"{k} × {v}" for k, v in info["annotations"].items()))
    if info["plan"]:
        plan = info["plan"]
        title = plan.get("name") if isinstance(plan, dict) else None
        print(f"  plan:        {_compact(title or plan)}")
    print(f"  calibration: {info['calibration']}")
    if info["notes"]:
        print(f"  notes:       {info['notes']}")
    extra = {k: v for k, v in info["extra"].items() if k != "import_warnings"}
    if extra:
        print("  extra:       (all of it with --json)")
        width = max(len(k) for k in extra)
        for k, v in extra.items():
            print(f"    {k:<{width}}  {_compact(v)}")
    for w in info["warnings"]:
        print(f"  warning:     {w}")
