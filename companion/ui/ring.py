"""A preallocated ring buffer whose latest ``capacity`` rows are always one contiguous view.

Every row is written twice, at ``i`` and ``i + capacity`` of a ``2 * capacity`` array, so the
newest ``capacity`` rows in time order are ``buf[head : head + capacity]`` — a numpy *view*,
no copy, no ``np.roll`` (STYLE.md §3.9). Writing costs two slice assignments per chunk.
This module is Qt-free so the plotting maths can be tested without a display.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RingBuffer"]


class RingBuffer:
    """Fixed-size time-stamped buffer of ``n_channels`` float64 channels.

    ``t_s`` and the channels are kept in one ``(2 * capacity, 1 + n_channels)`` array.
    Unfilled rows are NaN, so a partly filled buffer draws as a line starting at the first
    real sample.
    """

    def __init__(self, capacity: int, n_channels: int) -> None:
        if capacity < 1 or n_channels < 0:
            msg = f"capacity must be >= 1 and n_channels >= 0, got {capacity}, {n_channels}"
            raise ValueError(msg)
        self.capacity = int(capacity)
        self.n_channels = int(n_channels)
        self._buf = np.full((2 * self.capacity, 1 + self.n_channels), np.nan)
        self._head = 0  # index of the oldest row of the window in [0, capacity)
        self.total_written = 0

    def clear(self) -> None:
        self._buf.fill(np.nan)
        self._head = 0
        self.total_written = 0

    def __len__(self) -> int:
        return min(self.total_written, self.capacity)

    def extend(self, t_s: np.ndarray, values: np.ndarray) -> None:
        """Append rows: ``t_s`` (n,), ``values`` (n, n_channels)."""
        t = np.asarray(t_s, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64).reshape(t.shape[0], self.n_channels)
        n = t.shape[0]
        if n == 0:
            return
        if n > self.capacity:  # only the newest rows can be kept
            self.total_written += n - self.capacity
            t, v, n = t[-self.capacity :], v[-self.capacity :], self.capacity
        cap = self.capacity
        rows = np.empty((n, 1 + self.n_channels))
        rows[:, 0] = t
        rows[:, 1:] = v
        start = self.total_written % cap
        first = min(n, cap - start)
        self._buf[start : start + first] = rows[:first]
        self._buf[start + cap : start + cap + first] = rows[:first]
        rest = n - first
        if rest:
            self._buf[:rest] = rows[first:]
            self._buf[cap : cap + rest] = rows[first:]
        self.total_written += n
        self._head = self.total_written % cap if self.total_written > cap else 0

    def view(self) -> np.ndarray:
        """The newest ``capacity`` rows in time order: column 0 is ``t_s``, then channels.

        A view into the buffer: valid until the next :meth:`extend`.
        """
        if self.total_written <= self.capacity:
            return self._buf[: self.capacity]
        return self._buf[self._head : self._head + self.capacity]

    def filled(self) -> np.ndarray:
        """Only the rows written so far (at most ``capacity``), in time order."""
        v = self.view()
        if self.total_written < self.capacity:
            return v[: self.total_written]
        return v

    def latest_t_s(self) -> float:
        """Time of the newest row (NaN when empty)."""
        if not self.total_written:
            return float("nan")
        if self.total_written <= self.capacity:
            return float(self._buf[self.total_written - 1, 0])
        return float(self._buf[self._head + self.capacity - 1, 0])
