"""``companion score FILE... [--plan P] [--format table|json|csv] [--plot OUT.png]``.

One file: the full report on stdout (and the picture with ``--plot``). Several files or a
folder: each file is scored in a worker process (spawn-safe), a progress bar runs on stderr,
stdout gets one line per file (``table``), one JSON document per line (``json``) or the
summary CSV (``csv``); ``--summary-csv`` writes that summary to a file. A file that fails is
reported by name in one line and the others finish; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from companion.commands._common import add_source_arguments, open_source
from companion.errors import CompanionError, UsageError
from companion.storage import SUFFIX

SESSION_SUFFIX = SUFFIX
FORMATS = ("table", "json", "csv")


def register(sub: argparse._SubParsersAction) -> None:
    from companion.scoring import builtin_preset_names

    p = sub.add_parser(
        "score",
        help="score sessions against a plan: per-rep table, JSON, CSV, PNG report",
        description=(
            "Score session files against an exercise plan (the plan stored in the session "
            "unless --plan is given): per-rep tempo verdicts, set and session summaries, "
            "stretches, tests, left/right symmetry and what to change next time. Give a "
            "folder or several files to score them in parallel."
        ),
    )
    add_source_arguments(p)
    p.add_argument(
        "--plan",
        default=None,
        metavar="P",
        help=f"plan TOML file or built-in preset ({', '.join(builtin_preset_names())})",
    )
    p.add_argument("--format", choices=FORMATS, default="table", help="stdout format")
    p.add_argument("--plot", type=Path, default=None, metavar="OUT.png", help="write the picture")
    p.add_argument(
        "--summary-csv", type=Path, default=None, metavar="OUT.csv", help="one row per file"
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=0,
        metavar="N",
        help="worker processes for several files (default: all cores)",
    )
    p.set_defaults(func=run)


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    """What a worker sends back for one file (picklable, plain data)."""

    file: str
    ok: bool
    error: str = ""
    doc: dict[str, Any] | None = None
    plots: tuple[str, ...] = ()
    exit_code: int = 0
    worker_pid: int = 0
    """The process that scored the file (several pids: the files ran in parallel)."""


def _plot_paths(plot: str, file: Path, sides: list[str], *, many: bool) -> list[tuple[str, Path]]:
    """Where the pictures go: ``OUT.png``; ``OUT-<file>.png`` for several files; a folder
    (existing, or given with a trailing slash) gets ``<file>.png``; two legs add ``-<side>``."""
    as_dir = plot.endswith(("/", os.sep)) or Path(plot).is_dir()
    plot = Path(plot)
    if as_dir:
        base = plot / file.stem
    elif many:
        base = plot.with_name(f"{plot.stem}-{file.stem}")
    else:
        base = plot.with_suffix("")
    suffix = plot.suffix if plot.suffix and not as_dir else ".png"
    if len(sides) == 1:
        return [(sides[0], base.with_name(base.name + suffix))]
    return [(sd, base.with_name(f"{base.name}-{sd}{suffix}")) for sd in sides]


def _atomic_png(doc: dict[str, Any], out: Path, channels: Any, side: str) -> None:
    from companion.scoring.plot import render_png

    out.parent.mkdir(parents=True, exist_ok=True)
    # A temporary beside the target (normal permissions), renamed only when complete.
    tmp = str(out.parent / f".{out.stem}.{os.getpid()}.tmp.png")
    try:
        render_png(doc, tmp, channels=channels, side=side)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def score_file(
    paths: list[str],
    plan_spec: str | None,
    from_format: str | None = None,
    map_path: str | None = None,
    plot: str | None = None,
    many: bool = False,
    *,
    import_side: str | None = None,
    placement_rule: str | None = None,
) -> FileResult:
    """Load, analyse, score (and draw) one session; the worker entry point.

    Never raises for a bad file: a :class:`CompanionError` becomes ``ok=False`` with its one
    line, anything else a one-line "unexpected error" naming the file.
    """
    from companion.scoring import load_plan, resolve_plan
    from companion.scoring.score import analyze_sides, score_session

    name = paths[0] if len(paths) == 1 else f"{paths[0]} (+{len(paths) - 1})"
    try:
        import_opts = {}
        if import_side is not None:
            import_opts["side"] = import_side
        if placement_rule is not None:
            import_opts["placement_rule"] = placement_rule
        session, report = open_source(
            [Path(p) for p in paths],
            from_format,
            None if map_path is None else Path(map_path),
            **import_opts,
        )
        override = load_plan(plan_spec) if plan_spec else None
        plan = resolve_plan(session.plan, override)
        per_side = analyze_sides(session, plan)
        doc = score_session(session, plan, analysis=per_side, file=name)
        doc["warnings"] = [*getattr(report, "warnings", []), *doc["warnings"]]
        plots: list[str] = []
        if plot:
            for side, out in _plot_paths(plot, Path(paths[0]), sorted(per_side), many=many):
                _atomic_png(doc, out, getattr(per_side[side], "channels", None), side)
                plots.append(str(out))
        return FileResult(file=name, ok=True, doc=doc, plots=tuple(plots), worker_pid=os.getpid())
    except CompanionError as exc:
        text = str(exc)
        if name not in text:
            text = f"{name}: {text}"
        return FileResult(file=name, ok=False, error=text, exit_code=exc.exit_code)
    except Exception as exc:  # one line per failed file, the others go on
        return FileResult(
            file=name,
            ok=False,
            error=f"{name}: unexpected error ({type(exc).__name__}: {exc}); please report it",
            exit_code=1,
        )


def _expand(files: list[Path]) -> list[Path]:
    out: list[Path] = []
    for f in files:
        if f.is_dir():
            found = sorted(p for p in f.rglob(f"*{SESSION_SUFFIX}") if p.is_file())
            if not found:
                msg = (
                    f"{f}: no {SESSION_SUFFIX} session files in this folder; "
                    "give session files or a folder of recordings"
                )
                raise UsageError(msg)
            out.extend(found)
        else:
            out.append(f)
    return out


def _render(doc: dict[str, Any], fmt: str) -> str:
    from companion.scoring.report import render_csv, render_json, render_table

    return {"table": render_table, "json": render_json, "csv": render_csv}[fmt](doc)


def _one_line(res: FileResult) -> str:
    if not res.ok or res.doc is None:
        return f"{res.file}: FAILED"
    s = res.doc["summary"]
    parts = [
        f"{s['reps_done']}" + (f"/{s['reps_prescribed']}" if s["reps_prescribed"] else "") + " reps"
    ]
    if s["tempo_compliance_pct"] is not None:
        parts.append(f"tempo {s['tempo_compliance_pct']:.0f} %")
    if s["holds_done"]:
        parts.append(f"{s['holds_done']} holds ({s['holds_met']} on target)")
    parts.append("compliant" if s["compliant"] else ", ".join(s["flags"]))
    return f"{res.file}: " + "; ".join(parts)


class _Progress:
    """A one-line progress bar on stderr; notes (failures) print above it."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.failed = 0

    def _bar(self) -> str:
        width = 30
        filled = int(width * self.done / self.total)
        fail = f", {self.failed} failed" if self.failed else ""
        return f"scoring [{'#' * filled}{'-' * (width - filled)}] {self.done}/{self.total}{fail}"

    def step(self, ok: bool, note: str = "") -> None:
        self.done += 1
        self.failed += not ok
        tty = sys.stderr.isatty()
        if note:
            print(("\r" if tty else "") + note.ljust(len(self._bar())), file=sys.stderr, flush=True)
        if tty:
            end = "\n" if self.done == self.total else ""
            print(f"\r{self._bar()}", end=end, file=sys.stderr, flush=True)
        elif self.done == self.total or self.done % max(1, self.total // 10) == 0:
            print(self._bar(), file=sys.stderr, flush=True)  # logs: about every 10 %


def score_many(
    jobs_in: list[list[str]],
    plan_spec: str | None,
    *,
    jobs: int = 0,
    map_path: str | None = None,
    plot: str | None = None,
) -> list[FileResult]:
    """Score session files in ``jobs`` spawned worker processes (0: all cores), in input
    order; a progress bar and one line per failed file go to stderr."""
    n_workers = max(1, min(jobs or os.cpu_count() or 1, len(jobs_in)))
    progress = _Progress(len(jobs_in))
    results: dict[int, FileResult] = {}
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx) as pool:
        futures = {
            pool.submit(score_file, paths, plan_spec, None, map_path, plot, True): i
            for i, paths in enumerate(jobs_in)
        }
        for fut in cf.as_completed(futures):
            i = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:  # a crashed worker fails only its file
                name = jobs_in[i][0]
                res = FileResult(file=name, ok=False, error=f"{name}: worker failed ({exc})")
            results[i] = res
            progress.step(res.ok, "" if res.ok else f"companion score: {res.error}")
    return [results[i] for i in range(len(jobs_in))]


def run(args: argparse.Namespace) -> int:
    from companion.scoring import load_plan
    from companion.scoring.report import render_summary_csv, summary_row

    if args.plan:
        load_plan(args.plan)  # a bad plan is one error, before any work
    if args.jobs < 0:
        raise UsageError(f"--jobs {args.jobs}: must be 0 (all cores) or more")
    if args.from_format is not None:
        jobs_in = [[str(p) for p in args.files]]
    else:
        jobs_in = [[str(p)] for p in _expand(list(args.files))]
    many = len(jobs_in) > 1
    plot = None if args.plot is None else str(args.plot)
    map_path = None if args.map_path is None else str(args.map_path)
    if not many:
        res = score_file(
            jobs_in[0],
            args.plan,
            args.from_format,
            map_path,
            plot,
            False,
            import_side=getattr(args, "import_side", None),
            placement_rule=getattr(args, "placement_rule", None),
        )
        if not res.ok or res.doc is None:
            err = _FileFailedError(res.error)
            err.exit_code = res.exit_code or 1
            raise err
        sys.stdout.write(_render(res.doc, args.format))
        for p in res.plots:
            print(f"wrote {p}", file=sys.stderr)
        if args.summary_csv:
            args.summary_csv.write_text(render_summary_csv([summary_row(res.doc, res.file)]))
        return 0

    ordered = score_many(jobs_in, args.plan, jobs=args.jobs, map_path=map_path, plot=plot)
    rows = [summary_row(r.doc, r.file, r.error) for r in ordered]
    if args.format == "csv":
        sys.stdout.write(render_summary_csv(rows))
    else:
        for r in ordered:
            if args.format == "json":
                if r.doc is not None:
                    sys.stdout.write(json.dumps(r.doc, ensure_ascii=False, allow_nan=False) + "\n")
            else:
                print(_one_line(r))
    if args.summary_csv:
        args.summary_csv.write_text(render_summary_csv(rows), encoding="utf-8")
    n_failed = sum(not r.ok for r in ordered)
    if n_failed:
        print(f"companion score: {n_failed} of {len(ordered)} files failed", file=sys.stderr)
        return 1
    return 0


class _FileFailedError(CompanionError):
    """One file failed in single-file mode (the message is the worker's one line)."""

    exit_code = 1
