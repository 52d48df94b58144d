"""Start the window on one asyncio loop (qasync) and run it until it closes.

The only place that creates the ``QApplication`` and the event loop (STYLE.md §3.3): sources
and bleak run on the same loop the window's timers run on. ``--duration`` and ``--screenshot``
are implemented here so the window can be driven headlessly (``QT_QPA_PLATFORM=offscreen``).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from companion.errors import UsageError

__all__ = ["HeadlessError", "WindowRun", "check_display", "run_window"]

ORG = "calf-companion"
APP = "companion"


class HeadlessError(UsageError):
    """There is no display to open the window on."""


def check_display(environ: dict[str, str] | None = None, *, suggestion: str) -> None:
    """Raise :class:`HeadlessError` on Linux/BSD when there is no display and no Qt platform.

    ``suggestion`` is the command to run instead (a text report of a bundled recording).
    """
    env = os.environ if environ is None else environ
    if sys.platform in ("win32", "darwin"):
        return
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("QT_QPA_PLATFORM"):
        return
    msg = (
        "there is no display here (DISPLAY and WAYLAND_DISPLAY are unset), so the window "
        f"cannot open; try `{suggestion}` for a text report, or set QT_QPA_PLATFORM=offscreen "
        "and pass --screenshot OUT.png"
    )
    raise HeadlessError(msg)


@dataclass(slots=True)
class WindowRun:
    """What a finished run measured (returned to the command and to benchmarks/tests)."""

    frames: int
    wall_s: float
    latencies_s: list[float]
    frame_times_s: list[float]
    screenshot: Path | None
    window: Any


_QUIET = ("propagateSizeHints",)


def _message_handler(mode: Any, context: Any, message: str) -> None:
    """Qt's own log: drop the offscreen plugin's harmless chatter, pass the rest on."""
    if any(q in message for q in _QUIET):
        return
    sys.stderr.write(f"qt: {message}\n")


def _app() -> Any:
    from PySide6.QtCore import QCoreApplication, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    qInstallMessageHandler(_message_handler)
    app = QApplication.instance()
    if app is None:
        QCoreApplication.setOrganizationName(ORG)
        QCoreApplication.setApplicationName(APP)
        app = QApplication([sys.argv[0] if sys.argv else APP])
    return app


def run_window(
    make_window: Callable[[], Any],
    *,
    duration_s: float | None = None,
    screenshot: Path | None = None,
    on_started: Callable[[Any], Any] | None = None,
) -> WindowRun:
    """Create the window with ``make_window()``, run it, return when it closes.

    ``duration_s`` closes it after that many seconds of wall time; ``screenshot`` saves the
    window to a PNG just before it closes (also when the user closes it). ``on_started`` is
    awaited (if a coroutine) once the loop runs — tests and benchmarks drive the window
    from there.
    """
    import time

    import qasync
    from PySide6.QtCore import QTimer

    from companion.ui.theme import THEMES, apply_theme

    app = _app()
    app.setQuitOnLastWindowClosed(False)  # the loop ends when main() does, not before
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = make_window()
    apply_theme(app, THEMES.get(window.theme.name, THEMES["light"]))
    window.set_dark(window.theme.name == "dark")
    window.screenshot_path = screenshot
    finished = loop.create_future()

    async def finish() -> None:
        t0 = time.monotonic()  # a screenshot waits (up to 60 s) for work the user awaits
        busy = window.busy
        while screenshot is not None and busy() and time.monotonic() - t0 < 60.0:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        window.close()  # saves the screenshot (closeEvent), then stops the timers

    def on_closed() -> None:
        if not finished.done():
            finished.set_result(None)

    window.closed.connect(on_closed)

    async def main() -> None:
        window.show()
        window.start()
        timer = None
        if duration_s is not None:
            timer = QTimer()
            timer.setSingleShot(True)
            timer.timeout.connect(lambda: asyncio.ensure_future(finish()))
            timer.start(max(0, int(duration_s * 1000)))
        if on_started is not None:
            r = on_started(window)
            if asyncio.iscoroutine(r):
                await r
        await finished
        if timer is not None:
            timer.stop()
        await window.shutdown()
        # Nothing may outlive the loop: cancel what is left (sensor links, helpers) and wait.
        me = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
        for t in rest:
            t.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    t0 = time.monotonic()
    try:
        with loop:
            loop.run_until_complete(main())
    finally:
        asyncio.set_event_loop(None)
    return WindowRun(
        frames=window.frames,
        wall_s=time.monotonic() - t0,
        latencies_s=list(window.latencies_s),
        frame_times_s=list(window.frame_times_s),
        screenshot=window.screenshot_saved,
        window=window,
    )
