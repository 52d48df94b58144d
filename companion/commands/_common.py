"""Helpers shared by the subcommands: opening sessions from files or exports."""

from __future__ import annotations

import argparse
from pathlib import Path

from companion.errors import UsageError
from companion.model import Session
from companion.storage import LoadReport, load_session_with_report


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """``FILE`` (session file) or ``SRC... --from FMT [--map MAP.toml]`` (an export)."""
    parser.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="session file (.calf), or export files/folders with --from",
    )
    parser.add_argument(
        "--from",
        dest="from_format",
        metavar="FMT",
        default=None,
        help="read vendor/research exports directly: dot, metabase, witmotion, generic",
    )
    parser.add_argument(
        "--map",
        dest="map_path",
        type=Path,
        default=None,
        metavar="MAP.toml",
        help="with --from: column map (generic) or placements (any format)",
    )
    parser.add_argument(
        "--side",
        dest="import_side",
        choices=["left", "right"],
        default=None,
        help="with --from: the leg, where the export or map does not say",
    )
    parser.add_argument(
        "--placement-rule",
        dest="placement_rule",
        default=None,
        metavar="RULE",
        help="with --from: file name to placement, e.g. '1_*=foot_left,2_*=shin_left'",
    )


def open_source(
    paths: list[Path],
    from_format: str | None,
    map_path: Path | None = None,
    *,
    side: str | None = None,
    placement_rule: str | None = None,
) -> tuple[Session, LoadReport]:
    """Open one session file, or read exports with the importers when ``from_format`` is set."""
    if from_format is None:
        given = [
            flag
            for flag, value in (
                ("--map", map_path),
                ("--side", side),
                ("--placement-rule", placement_rule),
            )
            if value is not None
        ]
        if given:
            msg = (
                f"{' and '.join(given)} only appl{'y' if len(given) > 1 else 'ies'} when "
                "reading exports with --from FMT; a "
                "session file already holds its placements (drop the option or add --from)"
            )
            raise UsageError(msg)
        if len(paths) != 1:
            msg = (
                f"expected one session file, got {len(paths)}; "
                "to read several exports as one session add --from FMT"
            )
            raise UsageError(msg)
        return load_session_with_report(paths[0])
    try:
        from companion.importers import load_export
    except ImportError as exc:  # pragma: no cover - importers always ship
        msg = f"reading exports is not available in this build ({exc})"
        raise UsageError(msg) from None
    session = load_export(
        list(paths),
        from_format,
        map_path=map_path,
        placements={"side": side} if side else None,
        filename_rule=placement_rule,
    )
    return session, LoadReport()


def open_from_args(args: argparse.Namespace) -> tuple[Session, LoadReport]:
    """:func:`open_source` with the arguments :func:`add_source_arguments` added."""
    return open_source(
        args.files,
        args.from_format,
        args.map_path,
        side=args.import_side,
        placement_rule=args.placement_rule,
    )
