"""Helpers to run the real window on the real qasync loop and drive it from a coroutine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from companion.sources.base import SampleSource


async def until(cond: Callable[[], bool], timeout_s: float = 10.0, what: str = "") -> None:
    """Poll ``cond`` on the running loop (Qt keeps painting) until true or fail."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout_s:
            msg = f"timed out after {timeout_s} s waiting for {what or cond}"
            raise AssertionError(msg)
        await asyncio.sleep(0.01)


def run(
    source: SampleSource,
    script: Callable[[Any], Awaitable[None]],
    *,
    mode: str = "replay",
    targets: Any = None,
    scan: Any = None,
    record_dir: Path | None = None,
    analyzer_factory: Any = None,
) -> Any:
    """Open a MainWindow on ``source``, run ``script(window)``, close; returns the WindowRun.

    Errors raised by the script are re-raised after the window and loop are shut down.
    """
    from PySide6.QtCore import QSettings

    from companion.ui.app import run_window
    from companion.ui.coach import targets_from_plan
    from companion.ui.window import MainWindow

    errors: list[BaseException] = []

    def make() -> MainWindow:
        kw: dict[str, Any] = {}
        if analyzer_factory is not None:
            kw["analyzer_factory"] = analyzer_factory
        return MainWindow(
            source,
            targets=targets or targets_from_plan(None),
            mode=mode,
            settings=QSettings(),
            scan=scan,
            record_dir=record_dir,
            **kw,
        )

    async def started(window: Any) -> None:
        try:
            await script(window)
        except BaseException as exc:  # re-raised below, after the loop is closed
            errors.append(exc)
        finally:
            window.close()

    # the script closes the window; the duration is only a safety net for a stuck script
    result = run_window(make, duration_s=600.0, on_started=started)
    if errors:
        raise errors[0]
    return result
