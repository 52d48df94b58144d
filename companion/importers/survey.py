"""A first look at the files before any reader runs: is there inertial data at all?

Research folders often hold exports without any IMU signal (motion capture angles, insole
forces). Handing those to a column reader would end in "missing column Acc_X", which tells the
user nothing useful. This survey recognises them and refuses with one sentence that says so,
naming files that are damaged on top of it (all-empty rows, ragged rows).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from companion.errors import ImportFormatError
from companion.importers._common import read_head, read_text

__all__ = ["FileSurvey", "refuse_non_inertial", "survey_file"]

HEAD_LINES = 40  # lines of each file examined for column names

# Words that name inertial quantities in the exports the project knows (DOT Acc_X/Gyr_X,
# MetaBase "x-axis (g)"/"(deg/s)", WitMotion "Acceleration X(g)"/"wx(deg/s)", research CSVs
# "acc_x", "mpu1_gz", "quat_w").
_INERTIAL = re.compile(
    r"acc|gyr|angular\s*velocity|quat|(?<![a-z])[agw][xyz](?![a-z])|deg/s|rad/s|°/s|dps"
    r"|m/s\^?2|m/s²|\(g\)|\[g\]|\bimu\b",
    re.IGNORECASE,
)
_FORCE = re.compile(r"force|\[n\]|\bgrf\b|newton", re.IGNORECASE)
_MOCAP = re.compile(r"flexion|inversion|abduction|adduction|marker|angle|\bpos", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class FileSurvey:
    """What a quick look at one file found."""

    path: Path
    header: tuple[str, ...]
    inertial: bool
    n_rows: int
    empty_rows: tuple[int, ...]
    """1-based line numbers of rows whose every field is empty."""
    ragged_rows: int
    """Rows whose field count differs from the header's."""

    @property
    def corrupt(self) -> str:
        """A short description of the damage, or "" when the file looks whole."""
        parts = []
        if self.empty_rows:
            first, last = self.empty_rows[0], self.empty_rows[-1]
            span = f"lines {first}-{last}" if last > first else f"line {first}"
            parts.append(f"{len(self.empty_rows)} empty rows ({span})")
        if self.ragged_rows:
            parts.append(f"{self.ragged_rows} rows with the wrong number of fields")
        if self.n_rows == 0:
            parts.append("no data rows")
        return ", ".join(parts)


def survey_file(path: Path) -> FileSurvey:
    """Describe ``path`` (cheap: a text scan, no number parsing; the rows are scanned for
    damage only when the head shows no inertial columns)."""
    head = read_head(path, HEAD_LINES)
    inertial = any(_INERTIAL.search(line) for line in head if re.search(r"[A-Za-z]", line))
    if inertial:
        return FileSurvey(
            path=path, header=(), inertial=True, n_rows=-1, empty_rows=(), ragged_rows=0
        )
    text = read_text(path)
    sample = "\n".join(head)
    delim = "\t" if sample.count("\t") > sample.count(",") else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
    except csv.Error as exc:
        msg = f"{path}: is not readable as CSV/TSV text ({exc}); check the file and --from"
        raise ImportFormatError(msg) from None
    header: tuple[str, ...] = ()
    start = 0
    for i, row in enumerate(rows):
        if any(re.search(r"[A-Za-z]", c) for c in row):
            header = tuple(c.strip() for c in row)
            start = i + 1
            break
    empty: list[int] = []
    ragged = 0
    n = 0
    for j, row in enumerate(rows[start:], start=start + 1):
        if not row:
            continue  # a blank line is not a row
        if all(not c.strip() for c in row):
            empty.append(j)
            continue
        n += 1
        if header and len(row) != len(header):
            ragged += 1
    return FileSurvey(
        path=path,
        header=header,
        inertial=inertial,
        n_rows=n,
        empty_rows=tuple(empty),
        ragged_rows=ragged,
    )


def _kind(headers: list[tuple[str, ...]]) -> str:
    joined = " ".join(" ".join(h) for h in headers)
    kinds = []
    if _MOCAP.search(joined):
        kinds.append("motion-capture joint angles")
    if _FORCE.search(joined):
        kinds.append("forces")
    return " and ".join(kinds) if kinds else "non-inertial signals"


def refuse_non_inertial(
    files: list[Path], sources: list[Path], *, only_if_none: bool = False
) -> None:
    """Raise :class:`ImportFormatError` when ``files`` hold no inertial data.

    One sentence: which input, that it has no accelerometer/gyroscope columns, what it holds
    instead, which files are also damaged, and what to import instead. When only some files
    lack inertial columns, those are named and the user is asked to leave them out (unless
    ``only_if_none``: formats whose readers skip other signals themselves, like MetaBase).
    """
    surveys = [survey_file(f) for f in files]
    lacking = [s for s in surveys if not s.inertial]
    if not lacking or (only_if_none and len(lacking) < len(surveys)):
        return
    corrupt = [s for s in lacking if s.corrupt]
    damage = ""
    if corrupt:
        listed = "; ".join(f"{s.path.name}: {s.corrupt}" for s in corrupt[:3])
        more = f" and {len(corrupt) - 3} more" if len(corrupt) > 3 else ""
        damage = (
            f", and {'it is' if len(lacking) == 1 else 'some are'} also corrupt ({listed}{more})"
        )
    cols = ", ".join(lacking[0].header[:8]) + (", ..." if len(lacking[0].header) > 8 else "")
    kind = _kind([s.header for s in lacking])
    if len(lacking) == len(surveys):
        if len(sources) == 1:
            what = str(sources[0])
        else:
            what = ", ".join(p.name for p in sources[:3]) + (", ..." if len(sources) > 3 else "")
        count = f"none of its {len(files)} files has" if len(files) > 1 else "it has no"
        msg = (
            f"{what} holds no inertial data: {count} accelerometer or gyroscope columns, only "
            f"{kind} ({cols}){damage}; import an IMU export (DOT, MetaBase, WitMotion or a CSV "
            "with accelerometer and gyroscope columns) instead"
        )
    else:
        names = ", ".join(s.path.name for s in lacking[:4]) + (", ..." if len(lacking) > 4 else "")
        msg = (
            f"{names} hold{'s' if len(lacking) == 1 else ''} no inertial data (only {kind}: "
            f"{cols}){damage}; leave {'it' if len(lacking) == 1 else 'them'} out of the import"
        )
    raise ImportFormatError(msg)
