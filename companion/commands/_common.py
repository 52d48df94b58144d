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
        "--map", dest="map_path", type=Path, default=None, help="column map for --from generic"
    )


def open_source(
    paths: list[Path], from_format: str | None, map_path: Path | None = None
) -> tuple[Session, LoadReport]:
    """Open one session file, or read exports with the importers when ``from_format`` is set."""
    if from_format is None:
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
    return load_export(list(paths), from_format, map_path=map_path), LoadReport()
