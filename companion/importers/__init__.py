"""Read recordings made with vendor apps and research exports into a :class:`Session`.

``load_export(paths, fmt)`` is the one entry point; ``fmt`` is one of :data:`FORMATS`:

* ``dot`` — Movella/Xsens DOT app CSV exports, one file per sensor;
* ``metabase`` — MbientLab MetaBase CSV exports, one file per sensor and signal;
* ``witmotion`` — the WitMotion PC/phone app's saved data (tab or comma separated);
* ``generic`` — any CSV/TSV described by a TOML map (see ``docs/import.md``).

Units and placements are never guessed: units come from the vendor's documented layout or the
map, placements from the map, flags or a filename rule. Every user-caused problem raises
:class:`ImportFormatError` (one sentence: what, which file/column/row, what to do).
"""

from __future__ import annotations

import logging
from pathlib import Path

from companion.errors import ImportFormatError
from companion.importers._common import assemble_session, expand_paths
from companion.importers.dot import read_dot
from companion.importers.generic import load_map, read_generic
from companion.importers.metabase import read_metabase
from companion.importers.survey import refuse_non_inertial
from companion.importers.witmotion import read_witmotion
from companion.model import Session

__all__ = ["FORMATS", "ImportFormatError", "load_export"]

logging.getLogger(__name__).addHandler(logging.NullHandler())

FORMATS: tuple[str, ...] = ("dot", "metabase", "witmotion", "generic")
"""Names accepted by :func:`load_export` (and ``companion ... --from``)."""


def load_export(
    paths: list[Path],
    fmt: str,
    *,
    map_path: Path | None = None,
    placements: dict[str, str] | None = None,
    filename_rule: str | None = None,
) -> Session:
    """Read the export files ``paths`` (folders are expanded) as one :class:`Session`.

    Parameters
    ----------
    paths
        Export files and/or folders holding them (one recording).
    fmt
        One of :data:`FORMATS`.
    map_path
        TOML map: required for ``generic``; for the vendor formats it may carry a
        ``[placements]`` table (selector -> placement).
    placements
        Placement per file or device, ``{"shin_left": "a.csv", "foot_left": "b.csv"}`` (the
        reverse orientation is accepted too; selectors are file names, globs, device tags or
        addresses); the key ``"side"`` gives the side for sensors whose map names only the
        segment.
    filename_rule
        ``"1_*=foot_left,2_*=shin_left"`` or a regular expression with named groups
        ``segment`` and ``side``, applied to file and device names.

    Returns
    -------
    Session
        ``sensor_id`` = placement label (``shin_left``); ``source = "import:<fmt>"``;
        t = 0 at the earliest sample; gaps for NaN blocks, counter jumps and lost samples;
        ``extra["import_warnings"]`` lists plausibility warnings.
    """
    if fmt not in FORMATS:
        msg = f"unknown import format {fmt!r}; use one of {', '.join(FORMATS)}"
        raise ImportFormatError(msg)
    sources = [Path(p) for p in paths]
    files = expand_paths(sources)
    if fmt != "generic":
        # Vendor headers always name their inertial columns: refuse other data up front.
        refuse_non_inertial(files, sources, only_if_none=fmt == "metabase")
    imap = load_map(map_path, fmt=fmt) if map_path is not None else None
    declared: dict[str, tuple[str, str]] = {}
    if fmt == "dot":
        series = read_dot(files)
    elif fmt == "metabase":
        series, declared = read_metabase(files)
    elif fmt == "witmotion":
        series, declared = read_witmotion(files)
    else:
        # A map may name columns anything ("x", "col3"), so the map decides what is inertial;
        # only when reading fails is the survey's "no inertial data" the better message.
        try:
            if imap is None:
                msg = (
                    "--from generic needs a map describing the columns (--map MAP.toml); "
                    "see docs/import.md and the examples in docs/maps/"
                )
                raise ImportFormatError(msg)
            series, declared = read_generic(files, imap)
        except ImportFormatError:
            refuse_non_inertial(files, sources)
            raise
    return assemble_session(
        series,
        fmt=fmt,
        placements=placements,
        filename_rule=filename_rule,
        map_rule=None if imap is None else imap.placement_rule,
        declared_units=declared,
    )
