"""``companion import``: read vendor-app or research exports and write a session file.

    companion import SRC... --from FMT [--map MAP.toml] [--shin FILE] [--foot FILE]
                     [--side left|right] [--placement-rule RULE] --out FILE

Nothing is written when the import fails; an existing output file is never overwritten.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from companion.errors import UsageError
from companion.importers import FORMATS, load_export


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "import",
        help="convert vendor-app or research exports into a session file",
        description=(
            "Read exports (Movella DOT, MbientLab MetaBase, WitMotion, or any CSV/TSV with a "
            "TOML map) and write one session file. Units and placements are never guessed: "
            "give placements with --shin/--foot and --side, --placement-rule, or the map."
        ),
    )
    p.add_argument("sources", nargs="*", type=Path, metavar="SRC", help="export files or folders")
    p.add_argument(
        "--from",
        dest="from_format",
        required=True,
        choices=FORMATS,
        metavar="FMT",
        help=f"format of the exports: {', '.join(FORMATS)}",
    )
    p.add_argument(
        "--map",
        dest="map_path",
        type=Path,
        default=None,
        metavar="MAP.toml",
        help="TOML map: columns and units for --from generic; placements for any format",
    )
    p.add_argument(
        "--shin", type=Path, default=None, metavar="FILE", help="the shin sensor's export file"
    )
    p.add_argument(
        "--foot", type=Path, default=None, metavar="FILE", help="the foot sensor's export file"
    )
    p.add_argument(
        "--side", choices=("left", "right"), default=None, help="the leg the sensors were on"
    )
    p.add_argument(
        "--placement-rule",
        dest="placement_rule",
        default=None,
        metavar="RULE",
        help=(
            "placements from file/device names: 'GLOB=PLACEMENT,...' such as "
            "'1_*=foot_left,2_*=shin_left', or a regex with groups (?P<segment>) (?P<side>)"
        ),
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FILE.calf",
        help="session file to write (never overwritten)",
    )
    p.set_defaults(func=run)


def _placements(args: argparse.Namespace) -> dict[str, str]:
    out: dict[str, str] = {}
    for segment in ("shin", "foot"):
        f = getattr(args, segment)
        if f is None:
            continue
        if args.side is None:
            msg = f"--{segment} needs --side left or --side right (placements are never guessed)"
            raise UsageError(msg)
        out[f"{segment}_{args.side}"] = str(f)
    if args.side is not None:
        out["side"] = args.side
    return out


def run(args: argparse.Namespace) -> int:
    from companion.storage import check_writable_session_path, write_session

    check_writable_session_path(args.out)  # fail before the import's work, not after
    sources = list(args.sources)
    for f in (args.shin, args.foot):
        if f is not None and f not in sources:
            sources.append(f)
    if not sources:
        msg = "no input given: name the export files or folders (or --shin/--foot files)"
        raise UsageError(msg)
    session = load_export(
        sources,
        args.from_format,
        map_path=args.map_path,
        placements=_placements(args),
        filename_rule=args.placement_rule,
    )
    write_session(args.out, session, overwrite=False)
    rates = session.extra.get("import_measured_rates_hz", {})
    parts = [
        f"{s.sensor_id} {len(session.chunks[s.sensor_id])} samples at "
        f"{rates.get(s.sensor_id, 0):.4g} Hz"
        for s in session.sensors
    ]
    tail = [_count(len(session.gaps), "gap")]
    if session.references:
        tail.append(_count(len(session.references), "reference track"))
    print(f"wrote {args.out}: {session.duration_s:.1f} s, {'; '.join(parts)}; {', '.join(tail)}")
    for w in session.extra.get("import_warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    return 0


def _count(n: int, noun: str) -> str:
    return f"{'no' if n == 0 else n} {noun}{'' if n == 1 else 's'}"
