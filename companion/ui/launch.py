"""Shared by ``companion live`` and ``companion replay``: window flags and the launch itself.

Imports no Qt at module level, so ``companion --help`` stays fast and a machine without a
display gets its one-line message before Qt is loaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from companion.errors import UsageError
from companion.sources.base import SampleSource

__all__ = [
    "add_window_arguments",
    "bundled_recording",
    "check_screenshot_target",
    "launch",
    "positive_seconds",
]

REPO_ROOT = Path(__file__).resolve().parents[2]


def positive_seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return v


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_screenshot_target(path: Path) -> None:
    """Raise :class:`UsageError` now (before the window opens) if ``--screenshot`` may not
    write ``path``: it must end in ``.png``, its folder must exist and be writable, and an
    existing file there is replaced only if it is itself a PNG (an earlier screenshot)."""
    import os

    if path.suffix.lower() != ".png":
        msg = (
            f"--screenshot {path}: a screenshot is saved as a PNG; give a file name ending in "
            ".png (nothing was written)"
        )
        raise UsageError(msg)
    if path.is_dir():
        msg = f"--screenshot {path} is a folder; give a file name such as {path / 'window.png'}"
        raise UsageError(msg)
    if path.exists():
        try:
            with path.open("rb") as f:
                head = f.read(len(_PNG_MAGIC))
        except OSError as exc:
            msg = (
                f"--screenshot {path} exists and cannot be read ({exc.strerror}); "
                "choose another name"
            )
            raise UsageError(msg) from None
        if head != _PNG_MAGIC:
            msg = (
                f"--screenshot {path} exists and is not a PNG image; choose another name "
                "(nothing was overwritten)"
            )
            raise UsageError(msg)
    folder = path.parent
    if not folder.is_dir():
        msg = (
            f"--screenshot {path}: the folder {folder} does not exist; create it first or "
            "choose another place"
        )
        raise UsageError(msg)
    if not os.access(folder, os.W_OK):
        msg = (
            f"--screenshot {path}: the folder {folder} is read-only; "
            "choose a folder you can write to"
        )
        raise UsageError(msg)


WINDOW_RANGE_S = (10.0, 30.0)
"""Seconds of signal the plot may show (``--window``)."""


def window_seconds(text: str) -> float:
    """``--window S``: seconds of signal in the plot, within :data:`WINDOW_RANGE_S`."""
    lo, hi = WINDOW_RANGE_S
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not lo <= v <= hi:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} s is out of range; choose {lo:g} to {hi:g}")
    return v


def add_window_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--plan",
        default=None,
        metavar="PLAN",
        help="exercise plan: a TOML file or a preset name such as seed, hsr, stretch "
        "(default: the session's own plan, else the seed tempo: 3 s down, quick up, 1 s hold)",
    )
    p.add_argument(
        "--duration",
        type=positive_seconds,
        default=None,
        metavar="S",
        help="close the window after S seconds (for scripted and headless runs)",
    )
    p.add_argument(
        "--screenshot",
        type=Path,
        default=None,
        metavar="OUT.png",
        help="save the window as a PNG when it closes",
    )
    p.add_argument(
        "--dark", action="store_true", help="use the dark palette for this run (View menu: always)"
    )
    p.add_argument(
        "--devices",
        action="store_true",
        help="open the device panel (and scan for sensors where scanning is possible)",
    )
    p.add_argument(
        "--window",
        type=window_seconds,
        default=None,
        metavar="S",
        help="seconds of signal shown in the plot (10–30; remembered)",
    )


def bundled_recording() -> str:
    """A bundled recording to suggest where no window can open (relative path)."""
    folder = REPO_ROOT / "recordings"
    files = sorted(folder.glob("*.calf")) if folder.is_dir() else []
    preferred = (
        [f for f in files if f.name == "calf-raises.calf"]
        or [f for f in files if "calf-raise" in f.name]
        or files
    )
    return f"recordings/{preferred[0].name}" if preferred else "recordings/calf-raises.calf"


def launch(
    source: SampleSource,
    args: argparse.Namespace,
    *,
    mode: str,
    title: str,
    session_plan: dict[str, Any] | None = None,
    on_started: Any = None,
    scan: Any = None,
    connect: Any = None,
    warnings: list[str] | None = None,
) -> int:
    """Open the window on ``source`` with the flags of :func:`add_window_arguments`.

    ``warnings``: what the reader had to say about the file (a truncated file recovered…),
    printed once on stderr here and shown in the window's status bar and log."""
    from companion.ui.app import check_display, run_window

    check_display(suggestion=f"companion score {bundled_recording()}")
    if args.screenshot is not None:
        check_screenshot_target(args.screenshot)
    from companion.ui.coach import load_targets

    targets, plan = load_targets(args.plan, session_plan)
    for w in warnings or ():
        print(f"warning: {w}", file=sys.stderr)

    def make() -> Any:
        from PySide6.QtCore import QSettings

        from companion.ui.window import MainWindow

        settings = QSettings()
        if getattr(args, "window", None):
            settings.setValue("view/window_s", float(args.window))
        return MainWindow(
            source,
            targets=targets,
            mode=mode,
            title=title,
            settings=settings,
            plan=plan,
            scan=scan,
            connect=connect,
            theme="dark" if getattr(args, "dark", False) else None,
        )

    def started(window: Any) -> Any:
        if warnings:
            window.show_load_warnings(list(warnings))
        if getattr(args, "devices", False):
            window.device_dock.setVisible(True)
            if scan is not None:
                window.devices.scan_button.click()
        return on_started(window) if on_started is not None else None

    run = run_window(make, duration_s=args.duration, screenshot=args.screenshot, on_started=started)
    if args.screenshot is not None and run.screenshot is None:
        msg = getattr(run.window, "screenshot_error", "") or (
            f"could not write the screenshot {args.screenshot}; check that its folder is writable"
        )
        raise UsageError(msg)
    if args.screenshot is not None:
        print(f"screenshot: {run.screenshot}")
    return 0
