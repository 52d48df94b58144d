"""``companion score FILE... [--plan P] [--format table|json|csv] [--plot OUT.png]``.

One file: the full report on stdout (and the picture with ``--plot``). Several files or a
folder: each file is scored in a worker process (spawn-safe), a progress bar runs on stderr,
stdout gets one line per file (``table``), one JSON document per line (``json``) or the
summary CSV (``csv``); ``--summary-csv`` writes that summary to a file. A file that fails is
reported by name in one line and the others finish.

Output files are never replaced: ``--plot`` and ``--summary-csv`` refuse an existing file, and
a missing folder (except ``--plot DIR/``, created when its parent exists, like
``export --out``), before any work. Exit status: :data:`EXIT_STATUS`.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from companion.commands._common import add_source_arguments, open_source
from companion.errors import CompanionError, UsageError
from companion.storage import SUFFIX

SESSION_SUFFIX = SUFFIX
FORMATS = ("table", "json", "csv")
EXIT_STATUS = (
    "exit status: 0 every file was scored; 1 some files were scored and some failed (each "
    "failure is one line on stderr, the summary CSV has a row for it); 2 nothing was scored "
    "(a bad option, plan or output path, or every file failed); 130 interrupted."
)


def register(sub: argparse._SubParsersAction) -> None:
    from companion.scoring import builtin_preset_names

    p = sub.add_parser(
        "score",
        help="score sessions against a plan: per-rep table, JSON, CSV, PNG report",
        description=(
            "Score session files against an exercise plan (the plan stored in the session "
            "unless --plan is given): per-rep tempo verdicts, set and session summaries, "
            "stretches, tests, left/right symmetry and what to change next time. Give a "
            "folder or several files to score them in parallel. --plot and --summary-csv "
            "never replace an existing file."
        ),
        epilog=EXIT_STATUS,
    )
    add_source_arguments(p)
    p.add_argument(
        "--plan",
        default=None,
        metavar="P",
        help=f"plan TOML file or built-in preset ({', '.join(builtin_preset_names())})",
    )
    p.add_argument("--format", choices=FORMATS, default="table", help="stdout format")
    p.add_argument(
        "--plot",
        type=str,  # not Path: a trailing slash (a folder to create) must survive
        default=None,
        metavar="OUT.png",
        help=(
            "write the picture, never replacing a file (several files: OUT-FILE.png; a folder "
            "DIR/: DIR/FILE.png, DIR created if its parent exists; two legs: -left/-right)"
        ),
    )
    p.add_argument(
        "--summary-csv",
        type=Path,
        default=None,
        metavar="OUT.csv",
        help="write one row per file (failed files too), never replacing a file",
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
    as_dir = _plot_is_dir(plot)
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


def _plot_is_dir(plot: str) -> bool:
    return plot.endswith(("/", os.sep)) or Path(plot).is_dir()


def _check_folder(folder: Path, flag: str, given: object) -> None:
    if not folder.is_dir():
        raise UsageError(
            f"{flag} {given}: the folder {folder} does not exist; create it first or choose "
            "another place, nothing was written"
        )
    if not os.access(folder, os.W_OK):
        raise UsageError(
            f"{flag} {given}: the folder {folder} is read-only; choose a folder you can "
            "write to, nothing was written"
        )


def check_new_file(path: Path, flag: str, example: str) -> None:
    """Raise :class:`UsageError` unless ``path`` can take a new file: not a folder, not an
    existing file (nothing is ever replaced), in an existing, writable folder."""
    if path.is_dir():
        raise UsageError(
            f"{flag} {path} is a folder; give a file name such as {example} in it, "
            "nothing was written"
        )
    if path.exists() or path.is_symlink():
        raise UsageError(
            f"{flag} {path} already exists; choose another name, nothing was overwritten"
        )
    _check_folder(path.parent, flag, path)


def check_plot_target(plot: str, files: list[Path]) -> None:
    """Check ``--plot`` before any work: a .png name in an existing folder, or a folder
    (created at the end when only its parent exists, as ``export --out`` does); several
    files must not draw into the same picture."""
    as_dir = _plot_is_dir(plot)
    path = Path(plot)
    if as_dir:
        if path.exists() and not path.is_dir():
            raise UsageError(
                f"--plot {plot}: {path} is a file, not a folder; give a folder or OUT.png, "
                "nothing was written"
            )
        _check_folder(path if path.is_dir() else path.parent, "--plot", plot)
    else:
        if path.suffix.lower() not in ("", ".png"):
            raise UsageError(
                f"--plot {plot}: the picture is a PNG; give a name ending in .png or a "
                "folder, nothing was written"
            )
        _check_folder(path.parent, "--plot", plot)
    many = len(files) > 1
    seen: dict[Path, Path] = {}
    for f in files:
        target = _plot_paths(plot, f, ["-"], many=many)[0][1]
        if target in seen:
            raise UsageError(
                f"--plot {plot}: {seen[target]} and {f} would both draw {target}; score them "
                "in separate runs or rename one, nothing was written"
            )
        seen[target] = f


def _existing_plot_error(out: Path) -> UsageError:
    return UsageError(
        f"--plot: {out} already exists; choose another name or folder, nothing was overwritten"
    )


def write_new_file(out: Path, write: Callable[[str], object], *, flag: str) -> None:
    """Write ``out`` through a temporary beside it and link it into place only when complete;
    an existing ``out`` is never replaced (also when it appears meanwhile)."""
    tmp = str(out.parent / f".{out.stem}.{os.getpid()}.tmp{out.suffix}")
    try:
        write(tmp)
        try:
            os.link(tmp, out)  # fails if out exists: no check-then-write race
        except FileExistsError:
            raise UsageError(
                f"{flag} {out} already exists; choose another name, nothing was overwritten"
            ) from None
        except OSError:  # a file system without hard links
            if out.exists():
                raise UsageError(
                    f"{flag} {out} already exists; choose another name, nothing was overwritten"
                ) from None
            os.replace(tmp, out)
    except OSError as exc:
        raise UsageError(
            f"{flag} {out}: cannot be written ({exc.strerror or exc}); choose another place"
        ) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_png(doc: dict[str, Any], out: Path, channels: Any, side: str) -> None:
    from companion.scoring.plot import render_png

    out.parent.mkdir(exist_ok=True)  # --plot DIR/ whose parent exists (checked before)
    write_new_file(
        out, lambda tmp: render_png(doc, tmp, channels=channels, side=side), flag="--plot"
    )


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
    line, anything else a one-line "unexpected error" naming the file. An existing picture
    fails the file before the analysis runs.
    """
    from companion.scoring import load_plan, resolve_plan
    from companion.scoring.score import (
        analyze_sides,
        score_session,
        split_by_side_with_warnings,
    )

    name = paths[0] if len(paths) == 1 else f"{paths[0]} (+{len(paths) - 1})"
    report: Any = None
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
        sides, side_warnings = split_by_side_with_warnings(session)
        targets = _plot_paths(plot, Path(paths[0]), sorted(sides), many=many) if plot else []
        for _, out in targets:
            if out.exists() or out.is_symlink():
                raise _existing_plot_error(out)
        override = load_plan(plan_spec) if plan_spec else None
        plan = resolve_plan(session.plan, override)
        per_side = analyze_sides(session, plan)
        doc = score_session(session, plan, analysis=per_side, file=name)
        doc["warnings"] = [
            *getattr(report, "warnings", []),
            *[str(w) for w in session.extra.get("import_warnings", [])],
            *side_warnings,
            *doc["warnings"],
        ]
        plots: list[str] = []
        for side, out in targets:
            _write_png(doc, out, getattr(per_side[side], "channels", None), side)
            plots.append(str(out))
        return FileResult(file=name, ok=True, doc=doc, plots=tuple(plots), worker_pid=os.getpid())
    except CompanionError as exc:
        text = str(exc)
        if name not in text:
            text = f"{name}: {text}"
        if getattr(report, "truncated", False):
            text = f"{text.rstrip('.')}; note: {report.warnings[0]}"
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
    from companion.scoring.report import flag_text, plural

    if not res.ok or res.doc is None:
        return f"{res.file}: FAILED"
    s = res.doc["summary"]
    parts = []
    if s["reps_done"] or s["reps_prescribed"]:
        rp = f"/{s['reps_prescribed']}" if s["reps_prescribed"] else ""
        parts.append(f"{s['reps_done']}{rp} reps")
    if s["tempo_compliance_pct"] is not None:
        parts.append(f"tempo {s['tempo_compliance_pct']:.0f} %")
    if s["holds_done"]:
        parts.append(f"{plural(s['holds_done'], 'stretch hold')} ({s['holds_met']} on target)")
    parts.append("compliant" if s["compliant"] else ", ".join(map(flag_text, s["flags"])))
    return f"{res.file}: " + "; ".join(parts)


class _Progress:
    """Progress on stderr. On a terminal: a one-line bar redrawn in place, failures printed
    above it. Otherwise (a log, a pipe): one plain line per finished file, no carriage
    returns."""

    def __init__(self, total: int, *, tty: bool | None = None) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.tty = sys.stderr.isatty() if tty is None else tty

    def _bar(self) -> str:
        width = 30
        filled = int(width * self.done / self.total)
        fail = f", {self.failed} failed" if self.failed else ""
        return f"scoring [{'#' * filled}{'-' * (width - filled)}] {self.done}/{self.total}{fail}"

    def step(self, res: FileResult) -> None:
        self.done += 1
        self.failed += not res.ok
        if not self.tty:
            what = "scored" if res.ok else f"FAILED: {res.error}"
            if not res.ok and res.error.startswith(f"{res.file}: "):
                what = f"FAILED: {res.error[len(res.file) + 2 :]}"
            print(
                f"companion score: [{self.done}/{self.total}] {res.file}: {what}",
                file=sys.stderr,
                flush=True,
            )
            return
        if not res.ok:
            note = f"companion score: {res.error}"
            print("\r" + note.ljust(len(self._bar())), file=sys.stderr, flush=True)
        end = "\n" if self.done == self.total else ""
        print(f"\r{self._bar()}", end=end, file=sys.stderr, flush=True)


def score_many(
    jobs_in: list[list[str]],
    plan_spec: str | None,
    *,
    jobs: int = 0,
    map_path: str | None = None,
    plot: str | None = None,
) -> list[FileResult]:
    """Score session files in ``jobs`` spawned worker processes (0: all cores), in input
    order; progress and one line per failed file go to stderr (see :class:`_Progress`)."""
    n_workers = max(1, min(jobs or os.cpu_count() or 1, len(jobs_in)))
    progress = _Progress(len(jobs_in))
    results: dict[int, FileResult] = {}
    ctx = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(
        max_workers=n_workers, mp_context=ctx, initializer=_ignore_interrupt
    )
    try:
        # The workers start while SIGINT is ignored here: they inherit that (Python keeps an
        # ignored SIGINT ignored), so a Ctrl-C during their start-up prints no traceback.
        try:
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not the main thread: nothing to protect
            previous = None
        try:
            futures = {
                pool.submit(score_file, paths, plan_spec, None, map_path, plot, True): i
                for i, paths in enumerate(jobs_in)
            }
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        for fut in cf.as_completed(futures):
            i = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:  # a crashed worker fails only its file
                name = jobs_in[i][0]
                res = FileResult(
                    file=name, ok=False, error=f"{name}: worker failed ({exc})", exit_code=1
                )
            results[i] = res
            progress.step(res)
    except KeyboardInterrupt:
        # Ctrl-C: stop now, not after the files in progress (the workers ignore SIGINT so
        # they print no tracebacks; the CLI prints one line).
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [results[i] for i in range(len(jobs_in))]


def _ignore_interrupt() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle (see :func:`score_many`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def exit_code(results: list[FileResult]) -> int:
    """0 every file scored, 1 some scored and some failed, 2 nothing scored."""
    n_ok = sum(r.ok for r in results)
    if n_ok == len(results):
        return 0
    return 1 if n_ok else 2


def run(args: argparse.Namespace) -> int:
    from companion.scoring import load_plan
    from companion.scoring.report import render_summary_csv, summary_row

    if args.plan:
        load_plan(args.plan)  # a bad plan is one error, before any work
    if args.jobs < 0:
        raise UsageError(f"--jobs {args.jobs}: must be 0 (all cores) or more")
    if args.summary_csv is not None:
        check_new_file(args.summary_csv, "--summary-csv", "summary.csv")
    if args.from_format is not None:
        jobs_in = [[str(p) for p in args.files]]
    else:
        jobs_in = [[str(p)] for p in _expand(list(args.files))]
    many = len(jobs_in) > 1
    plot = None if args.plot is None else str(args.plot)
    if plot is not None:
        check_plot_target(plot, [Path(j[0]) for j in jobs_in])
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
        ordered = [res]
        if res.ok and res.doc is not None:
            sys.stdout.write(_render(res.doc, args.format))
            for p in res.plots:
                print(f"wrote {p}", file=sys.stderr)
    else:
        ordered = score_many(jobs_in, args.plan, jobs=args.jobs, map_path=map_path, plot=plot)
        rows = [summary_row(r.doc, r.file, r.error) for r in ordered]
        if args.format == "csv":
            sys.stdout.write(render_summary_csv(rows))
        else:
            for r in ordered:
                if args.format == "json":
                    if r.doc is not None:
                        sys.stdout.write(
                            json.dumps(r.doc, ensure_ascii=False, allow_nan=False) + "\n"
                        )
                else:
                    print(_one_line(r))
    if args.summary_csv:
        rows = [summary_row(r.doc, r.file, r.error) for r in ordered]
        text = render_summary_csv(rows)
        write_new_file(
            args.summary_csv,
            lambda tmp: Path(tmp).write_text(text, encoding="utf-8"),
            flag="--summary-csv",
        )
        print(f"wrote {args.summary_csv}", file=sys.stderr)
    code = exit_code(ordered)
    if not many and code:
        raise _FileFailedError(ordered[0].error)
    n_failed = sum(not r.ok for r in ordered)
    if n_failed:
        print(
            f"companion score: {n_failed} of {len(ordered)} files failed"
            + ("; nothing was scored" if code == 2 else ""),
            file=sys.stderr,
        )
    return code


class _FileFailedError(CompanionError):
    """The only file failed (the message is the worker's one line); nothing was scored."""

    exit_code = 2
