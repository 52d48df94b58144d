"""An asyncio event loop on virtual time: ``sleep(60)`` returns at once, in order.

Used to run emulated BLE sessions (see :mod:`companion.sources.emulated`) faster than real
time in tests and tools: every ``asyncio.sleep``, ``wait_for`` and ``call_later`` works as
usual, but whenever the loop would wait for its next timer it jumps its clock there
instead. ``loop.time()`` is the virtual clock, which is also the host clock the BLE source
reads, so the whole stack (emulated radio, bleak's client code, the source, the recorder)
sees one consistent time line.

Only for code that does no real I/O while waiting: a real socket that never becomes ready
would make time run forward without bound.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["VirtualTimeLoop", "run_virtual"]

_T = TypeVar("_T")


class _JumpingSelector(selectors.BaseSelector):
    """Wraps the loop's selector: polls without blocking, then advances the clock."""

    def __init__(self, real: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._real = real
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready:
            return ready
        if timeout is None:
            # nothing scheduled: only real I/O (e.g. a thread's wake-up) can make progress
            return self._real.select(None)
        if timeout > 0:
            self._loop.advance(timeout)
        return []

    def close(self) -> None:
        self._real.close()

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.get_key(fileobj)

    def get_map(self) -> Any:
        return self._real.get_map()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose ``time()`` is virtual and jumps to the next timer."""

    def __init__(self, start_s: float = 1000.0) -> None:
        super().__init__()
        self._virtual_now = float(start_s)
        self._selector = _JumpingSelector(self._selector, self)  # type: ignore[has-type]

    def time(self) -> float:
        return self._virtual_now

    def advance(self, dt_s: float) -> None:
        self._virtual_now += dt_s


def run_virtual(coro: Coroutine[Any, Any, _T], *, start_s: float = 1000.0) -> _T:
    """Run ``coro`` to completion on a fresh :class:`VirtualTimeLoop`."""
    with asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(start_s)) as runner:
        return runner.run(coro)
