"""The desktop window (PySide6 + pyqtgraph on one qasync loop); the only package importing Qt.

Entry points: ``companion live`` and ``companion replay`` (see :mod:`companion.ui.launch`).
Public pieces:

* :class:`companion.ui.window.MainWindow` — the window over any ``SampleSource``;
* :func:`companion.ui.app.run_window` — create the app and loop, run, return a ``WindowRun``;
* :class:`companion.ui.coach.CoachState` — the Qt-free coaching state the window draws;
* :class:`companion.ui.ring.RingBuffer` — the preallocated plot buffer.

Modules here import Qt; :mod:`companion.ui.coach`, :mod:`companion.ui.ring` and
:mod:`companion.ui.launch` do not.
"""
