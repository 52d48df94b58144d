"""``companion replay FILE``: the live window driven by a saved session.

Play/pause (Space), speed 0.25–16× ([ and ]), a seek bar (← and → move 5 s), previous/next
rep (Page Up/Down). The rep counter, tempo verdicts and summaries are those of a live session,
and the end-of-session summary is ``companion score``'s.
"""

from __future__ import annotations

import argparse

from companion.commands._common import add_source_arguments, open_from_args
from companion.errors import UsageError
from companion.ui.launch import add_window_arguments, check_screenshot_target, launch


def _speed(text: str) -> float:
    try:
        v = float(text.rstrip("x×"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a speed like 2 or 0.5, got {text!r}") from None
    if not 0.25 <= v <= 16.0:
        raise argparse.ArgumentTypeError(f"speed {v:g}× is out of range; choose 0.25 to 16")
    return v


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay",
        help="replay a session file in the window (play/pause, speed, seek, rep jumps)",
        description=(
            "Open the companion window on a saved session: the same coaching view as live, "
            "with play/pause (Space), speed 0.25–16× ([ ]), seeking (← →) and previous/next "
            "rep (Page Up/Down)."
        ),
    )
    add_source_arguments(p)
    add_window_arguments(p)
    p.add_argument("--speed", type=_speed, default=1.0, help="playback speed, 0.25–16 (default 1)")
    p.add_argument(
        "--start",
        default=None,
        metavar="S|end",
        help="start at S seconds into the session, or at the end (its summary)",
    )
    p.add_argument("--paused", action="store_true", help="open paused")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from companion.ui.app import check_display
    from companion.ui.launch import bundled_recording

    # Say "no display" before spending time loading a large file.
    check_display(
        suggestion=f"companion score {args.files[0] if args.files else bundled_recording()}"
    )
    if args.screenshot is not None:  # before loading a large file
        check_screenshot_target(args.screenshot)
    session, report = open_from_args(args)
    from companion.sources.replay import ReplaySource

    source = ReplaySource(session, speed=args.speed, start_paused=args.paused)
    start = args.start
    if start is not None and start != "end":
        try:
            float(start)
        except ValueError:
            msg = f"--start expects seconds or 'end', got {start!r}"
            raise UsageError(msg) from None

    def on_started(window: object) -> None:
        if start is None:
            return
        t = source.t_end_s if start == "end" else source.t_start_s + float(start)
        window.seek_to(t)  # type: ignore[attr-defined]

    name = ", ".join(f.name for f in args.files)
    return launch(
        source,
        args,
        mode="replay",
        title=f"calf companion — replay {name}",
        session_plan=session.plan,
        on_started=on_started,
        warnings=list(report.warnings),
    )
