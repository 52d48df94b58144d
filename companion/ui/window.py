"""The main window: one window for live sensors, simulation and replay.

Layout: the scrolling angle plot with the pacing cue under it on the left; the rep counter,
warnings, stretch timer, tempo bars and set summary on the right; a transport bar for replay;
the device panel as a dock. Data arrive on the asyncio loop (qasync) from a
:class:`~companion.sources.base.SampleSource` and go into :class:`~companion.ui.coach.CoachState`;
the window reads that state on a 30–60 Hz ``QTimer`` and redraws (STYLE.md §3.9).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QFontDatabase, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from companion.analysis.events import CalibrationDone, SetCompleted
from companion.errors import CompanionError
from companion.model import Gap, ImuChunk, Session
from companion.sources.base import SampleSource
from companion.sources.replay import ReplaySource
from companion.ui.coach import AnalyzerFactory, CoachState, Targets, default_analyzer_factory
from companion.ui.devices import DevicePanel, FoundSensor
from companion.ui.plot import AnglePlot
from companion.ui.theme import THEMES, apply_theme
from companion.ui.widgets import HoldTimer, PacingCue, RepCounter, TempoBars, WarningBanner

__all__ = ["SPEEDS", "MainWindow"]

log = logging.getLogger(__name__)

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
EXERCISE_NAMES = {
    "calf_raise": "Calf raises",
    "tibialis_raise": "Tibialis raises",
    "stretch": "Calf stretch",
}
CAL_STILL_S = 3.0


class MainWindow(QMainWindow):
    """The companion window.

    Parameters
    ----------
    source
        Where samples come from. A :class:`ReplaySource` that is seekable gets the transport
        bar (play/pause, speed, seek, previous/next rep).
    targets
        The plan's targets.
    mode
        ``live``, ``simulate``, ``emulate`` or ``replay`` (shown in the title and status bar).
    settings
        Where window state and choices persist.
    """

    closed = Signal()

    def __init__(
        self,
        source: SampleSource,
        *,
        targets: Targets,
        mode: str,
        title: str = "",
        settings: QSettings | None = None,
        plan: dict[str, Any] | None = None,
        analyzer_factory: AnalyzerFactory = default_analyzer_factory,
        redraw_hz: float = 60.0,
        scan: Callable[[float], Any] | None = None,
        connect: Callable[[list[Any]], SampleSource] | None = None,
        record_dir: Path | None = None,
        theme: str | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.mode = mode
        self.plan = plan
        self.targets = targets
        self.settings = settings or QSettings()
        theme_name = theme or str(self.settings.value("view/theme", "light"))
        self.theme = THEMES.get(theme_name, THEMES["light"])
        self._theme_from_user = theme is None
        """``--dark`` is for one run; a choice in the View menu is remembered."""
        window_s = float(self.settings.value("view/window_s", 20.0))
        self.coach = CoachState(
            source.sensors,
            targets=targets,
            window_s=max(window_s, 30.0),
            analyzer_factory=analyzer_factory,
        )
        self.replay = source if isinstance(source, ReplaySource) and source.seekable else None
        self._record_dir = record_dir
        self._connect = connect
        self._analyzer_factory = analyzer_factory
        self._writer: Any = None
        self._record_path: Path | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._closing = False
        self.frames = 0
        self.latencies_s: list[float] = []
        self.frame_times_s: list[float] = []
        self._last_summary_set = -1
        self._cal_started_t_s = math.nan
        self._cal_done_t_s = math.nan
        self._tick_enabled = self.settings.value("view/tick", "false") in (True, "true")
        self._last_tick_s = -1
        self._source_done = False
        self._band: tuple[float, float] | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._coach_lock = threading.Lock()
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._preview_inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._outbox: collections.deque[Any] = collections.deque()
        self._queued = 0
        self._analysed = 0
        self._preview_queued = 0
        self._previewed = 0
        self._generation = 0
        self._reconnecting: list[str] = []
        """Sensors the status bar last said are reconnecting (cleared by "sensors back")."""
        self._worker = threading.Thread(target=self._analysis_worker, name="analysis", daemon=True)
        self._worker.start()
        self._preview_worker = threading.Thread(
            target=self._preview_loop, name="analysis-preview", daemon=True
        )
        self._preview_worker.start()
        self._shutdown: asyncio.Future[None] | None = None
        self._summary_shown = False
        self.stream_error = ""
        """Why the source stopped, as a sentence (shown in the status bar)."""
        self.score_doc: dict[str, Any] | None = None
        """``companion score``'s document of the session, once the end is reached."""
        self.summary_ready = False
        """The end-of-session report is on screen (tests and --screenshot wait for it)."""
        self._status_t = -1e9
        self.screenshot_path: Path | None = None
        """Saved (once) when the window closes: ``--screenshot``."""
        self.screenshot_saved: Path | None = None
        self.screenshot_error = ""
        self.load_warnings: list[str] = []
        """What the reader said about the session file (shown in the status bar)."""
        """Why ``--screenshot`` could not be written (the command reports it once)."""
        self.setWindowTitle(title or f"calf companion — {mode}")
        self._build(window_s, scan)
        self._build_menus()
        self._restore()
        self.redraw_timer = QTimer(self)
        self.redraw_timer.setInterval(max(16, round(1000.0 / redraw_hz)))
        self.redraw_timer.timeout.connect(self.redraw)
        self.slow_timer = QTimer(self)
        self.slow_timer.setInterval(250)
        self.slow_timer.timeout.connect(self._slow_update)

    # -- construction -------------------------------------------------------------------------
    def _build(self, window_s: float, scan: Callable[[float], Any] | None) -> None:
        th = self.theme
        central = QWidget()
        outer = QHBoxLayout(central)
        outer.setContentsMargins(8, 8, 8, 8)
        left = QVBoxLayout()
        self.cal_label = QLabel("")
        self.cal_label.setWordWrap(True)
        self.cal_label.setVisible(False)
        left.addWidget(self.cal_label)
        self.plot = AnglePlot(th, window_s=window_s)
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.report.setFont(mono)
        self.report.setPlaceholderText("The session report appears here when the session ends.")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.plot)
        self.stack.addWidget(self.report)
        left.addWidget(self.stack, 1)
        self.pacing = PacingCue(th)
        left.addWidget(self.pacing)
        self.transport = self._build_transport()
        left.addWidget(self.transport)
        outer.addLayout(left, 3)
        right_w = QWidget()
        right_w.setMinimumWidth(330)
        right_w.setMaximumWidth(460)
        right = QVBoxLayout(right_w)
        right.setContentsMargins(0, 0, 0, 0)
        self.counter = RepCounter(th)
        right.addWidget(self.counter)
        self.banner = WarningBanner(th)
        right.addWidget(self.banner)
        self.hold_timer = HoldTimer(th)
        right.addWidget(self.hold_timer)
        self.tempo = TempoBars(th)
        right.addWidget(self.tempo)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        right.addWidget(self.summary, 1)
        outer.addWidget(right_w, 1)
        self.setCentralWidget(central)

        self.devices = DevicePanel(th, self.settings, scan=scan)
        self.devices.connect_requested.connect(self._on_connect_requested)
        self.device_dock = QDockWidget("Devices", self)
        self.device_dock.setObjectName("devices")
        self.device_dock.setWidget(self.devices)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.device_dock)
        self.device_dock.setVisible(False)

        self.toolbar = QToolBar("Session")
        self.toolbar.setObjectName("session-toolbar")
        self.addToolBar(self.toolbar)
        self.status_label = QLabel("")
        self.statusBar().addWidget(self.status_label, 1)
        self.rec_label = QLabel("")
        self.statusBar().addPermanentWidget(self.rec_label)
        self._apply_exercise_view()

    def _build_transport(self) -> QWidget:
        w = QWidget()
        row = QHBoxLayout(w)
        row.setContentsMargins(0, 0, 0, 0)
        self.prev_button = QPushButton("◀◀ rep")
        self.prev_button.setToolTip("Jump to the previous rep (Page Up)")
        self.play_button = QPushButton("Play")
        self.play_button.setToolTip("Play or pause (Space)")
        self.next_button = QPushButton("rep ▶▶")
        self.next_button.setToolTip("Jump to the next rep (Page Down)")
        self.speed_box = QComboBox()
        for s in SPEEDS:
            self.speed_box.addItem(f"{s:g}×", s)
        self.speed_box.setToolTip("Playback speed ([ and ] change it)")
        self.seek = QSlider(Qt.Orientation.Horizontal)
        self.seek.setRange(0, 1000)
        self.seek.setToolTip("Seek (← and → move 5 s)")
        self.time_label = QLabel("0:00 / 0:00")
        for wd in (self.prev_button, self.play_button, self.next_button, self.speed_box):
            # Space, arrows and Page Up/Down always reach the window's shortcuts.
            wd.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            row.addWidget(wd)
        self.seek.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        row.addWidget(self.seek, 1)
        row.addWidget(self.time_label)
        self.play_button.clicked.connect(self.toggle_play)
        self.prev_button.clicked.connect(self.previous_rep)
        self.next_button.clicked.connect(self.next_rep)
        self.speed_box.currentIndexChanged.connect(self._on_speed_index)
        self.seek.sliderReleased.connect(self._on_seek_released)
        self.seek.actionTriggered.connect(self._on_seek_action)
        if self.replay is None:
            w.setVisible(False)
        else:
            self.seek.setRange(0, max(1, int(self.replay.duration_s * 10)))
            self._sync_speed_box()
        return w

    def _action(
        self, text: str, slot: Callable[..., Any], shortcut: str | QKeySequence | None = None
    ) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        a.triggered.connect(slot)
        self.addAction(a)
        return a

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m_file = mb.addMenu("&File")
        self.act_record = self._action("&Record", self.toggle_record, "R")
        self.act_record.setCheckable(True)
        m_file.addAction(self.act_record)
        m_file.addAction(self._action("Save &screenshot", self._save_screenshot_dialog, "Ctrl+S"))
        m_file.addSeparator()
        m_file.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))

        m_play = mb.addMenu("&Playback")
        self.act_play = self._action("&Play / pause", self.toggle_play, "Space")
        self.act_back = self._action("Back 5 s", lambda: self.seek_by(-5.0), "Left")
        self.act_fwd = self._action("Forward 5 s", lambda: self.seek_by(5.0), "Right")
        self.act_prev = self._action("Previous rep", self.previous_rep, "PgUp")
        self.act_next = self._action("Next rep", self.next_rep, "PgDown")
        self.act_slower = self._action("Slower", lambda: self.change_speed(-1), "[")
        self.act_faster = self._action("Faster", lambda: self.change_speed(+1), "]")
        for a in (
            self.act_play,
            self.act_back,
            self.act_fwd,
            self.act_prev,
            self.act_next,
            self.act_slower,
            self.act_faster,
        ):
            m_play.addAction(a)
            a.setEnabled(self.replay is not None or a is self.act_play)

        m_session = mb.addMenu("&Session")
        self.act_cal = self._action("&Calibrate…", self.start_calibration, "C")
        m_session.addAction(self.act_cal)
        m_session.addAction(self.act_record)

        m_view = mb.addMenu("&View")
        self.act_segments = self._action(
            "Shin and foot &inclination", lambda on: self.plot.set_show_segments(on), "I"
        )
        self.act_segments.setCheckable(True)
        m_view.addAction(self.act_segments)
        self.act_devices = self.device_dock.toggleViewAction()
        self.act_devices.setText("&Device panel")
        self.act_devices.setShortcut(QKeySequence("D"))
        m_view.addAction(self.act_devices)
        self.act_dark = self._action("&Dark theme", self.set_dark, "Ctrl+D")
        self.act_dark.setCheckable(True)
        self.act_dark.setChecked(self.theme.name == "dark")
        m_view.addAction(self.act_dark)
        self.act_report = self._action("Session &report", self.toggle_report, "S")
        self.act_report.setCheckable(True)
        m_view.addAction(self.act_report)
        self.act_tick = self._action("Audible &tick while lowering", self._set_tick, "T")
        self.act_tick.setCheckable(True)
        self.act_tick.setChecked(self._tick_enabled)
        m_view.addAction(self.act_tick)
        m_window = m_view.addMenu("Plot &length")
        for s in (10, 20, 30):
            m_window.addAction(self._action(f"{s} s", lambda _=False, s=s: self.set_window_s(s)))

        m_help = mb.addMenu("&Help")
        m_help.addAction(self._action("&Keyboard shortcuts", self._show_shortcuts, "F1"))

        for a in (self.act_record, self.act_cal, self.act_segments, self.act_devices):
            self.toolbar.addAction(a)
        self.act_devices.setText("Devices")

    @staticmethod
    def _offscreen() -> bool:
        app = QApplication.instance()
        return isinstance(app, QApplication) and app.platformName() == "offscreen"

    def _restore(self) -> None:
        geo = None if self._offscreen() else self.settings.value("window/geometry")
        if isinstance(geo, QByteArray | bytes):
            self.restoreGeometry(QByteArray(geo))
        else:
            self.resize(1280, 720)
        state = None if self._offscreen() else self.settings.value("window/state")
        if isinstance(state, QByteArray | bytes):
            self.restoreState(QByteArray(state))
        if self.settings.value("view/segments", "false") in (True, "true"):
            self.act_segments.setChecked(True)
            self.plot.set_show_segments(True)

    def _save_state(self) -> None:
        if not self._offscreen():  # a headless run has no meaningful geometry
            self.settings.setValue("window/geometry", self.saveGeometry())
            self.settings.setValue("window/state", self.saveState())
        if self._theme_from_user:
            self.settings.setValue("view/theme", self.theme.name)
        self.settings.setValue("view/window_s", self.plot.window_s)
        self.settings.setValue("view/segments", "true" if self.plot.show_segments else "false")
        self.settings.setValue("view/tick", "true" if self._tick_enabled else "false")
        self.settings.sync()

    # -- running ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start consuming the source and the redraw timers (call with the loop running)."""
        self._consumer = asyncio.ensure_future(self._consume())
        self.redraw_timer.start()
        self.slow_timer.start()
        if self.replay is None:
            self._cal_started_t_s = 0.0
        self._set_status(self._status_line(), sticky=False)
        self._update_play_button()

    async def _consume(self) -> None:
        """Take items from the source and hand them to the analysis thread.

        The GUI thread only records, queues and draws. Two worker threads take every item as
        soon as it is queued: :meth:`_preview_loop` computes the angles the plot draws (no rep
        or hold detection, so it keeps up within milliseconds) and :meth:`_analysis_worker`
        runs the full analysis whose events (reps, holds, warnings) the coaching widgets show.
        A slow step of the full analysis (a rep's phase fit) therefore neither delays a frame
        nor holds the curve back. Unpaced replay is throttled to the analysis.
        """
        stream = self.source.__aiter__()
        try:
            async for item in stream:
                if self._closing:
                    break
                if self._writer is not None and isinstance(item, ImuChunk | Gap):
                    self._record_item(item)
                job = (self._generation, item, time.monotonic())
                if isinstance(item, ImuChunk) and self.coach.preview is not None:
                    self._preview_queued += 1
                    self._preview_inbox.put(job)
                self._queued += 1
                self._inbox.put(job)
                # Throttle to the analysis (polled: the worker thread must not wake the loop
                # per item, which is the hop this design avoids).
                while self._queued - self._analysed > 256 and not self._closing:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
        except CompanionError as exc:
            self.stream_error = str(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("source failed")
            self.stream_error = f"The sensor stream stopped ({exc}); check the sensors and restart."
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:  # run the source's own clean-up now, on this loop
                with contextlib.suppress(Exception):
                    await aclose()
        while self._pending() and not self._closing:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        self._source_done = True
        if not self._closing:
            self._handle_events()
            self._on_source_finished()

    def _pending(self) -> bool:
        """Items queued that a worker thread has not finished with."""
        return self._queued > self._analysed or self._preview_queued > self._previewed

    def _analysis_worker(self) -> None:
        """Worker thread: analyse queued items in order; events go to :attr:`_outbox`.

        The coaching state is locked only to take an item in and to apply the analysis'
        result, never while the analysis runs, so the GUI thread (which reads the state under
        the same lock to draw) waits microseconds, not a phase fit. A seek or calibration
        (a new generation) meanwhile makes the result stale: it is dropped.
        """
        while True:
            job = self._inbox.get()
            if job is None:
                return
            generation, item, arrival = job
            try:
                with self._coach_lock:
                    if generation != self._generation:
                        continue
                    coach = self.coach
                    analyzer = coach.analyzer
                    coach.note_input(item, arrival_s=arrival)
                if analyzer is None or not isinstance(item, ImuChunk) or not len(item):
                    continue
                analysed = coach.analyse(analyzer, item)
                with self._coach_lock:
                    if generation == self._generation and coach is self.coach:
                        self._outbox.extend(coach.apply_analysis(analysed))
            except Exception as exc:  # an analysis bug: say so, keep the window alive
                log.exception("analysis failed")
                with self._coach_lock:
                    if generation == self._generation:
                        self.coach.analyzer = None
                        self.coach.error = (
                            f"The analysis stopped on this data ({exc}); the recording goes "
                            "on, please report the problem."
                        )
            finally:
                self._analysed += 1

    def _preview_loop(self) -> None:
        """Worker thread: the angles-only analysis whose rows the plot draws."""
        while True:
            job = self._preview_inbox.get()
            if job is None:
                return
            generation, chunk, arrival = job
            try:
                with self._coach_lock:
                    if generation != self._generation:
                        continue
                    coach = self.coach
                    preview = coach.preview
                if preview is None:
                    continue
                block = coach.preview_rows(preview, chunk)
                with self._coach_lock:
                    if generation == self._generation and coach is self.coach:
                        coach.apply_preview(chunk, block, arrival)
            except Exception:  # the full analysis' rows are drawn instead from now on
                log.exception("the preview analysis failed")
                with self._coach_lock:
                    if generation == self._generation:
                        self.coach.drop_preview()
            finally:
                self._previewed += 1

    def _handle_events(self) -> None:
        """GUI thread: react to the events the worker produced since the last frame."""
        while self._outbox:
            ev = self._outbox.popleft()
            if isinstance(ev, CalibrationDone):
                self._cal_done_t_s = ev.t_s
            elif isinstance(ev, SetCompleted):
                self._show_set_summary(ev.set.exercise, ev.set.set_index)

    def reset_analysis(self) -> None:
        """Forget the analysis state (seek backwards, calibrate); queued items are skipped."""
        self._generation += 1
        with self._coach_lock:
            self.coach.reset()
        self._outbox.clear()

    def _on_source_finished(self) -> None:
        self._finish_analysis()
        self.redraw()
        self._show_session_summary()
        # why the stream stopped is a notice; the end of a healthy stream is routine
        self._set_status(self._status_line(), sticky=bool(self.stream_error))

    async def shutdown(self) -> None:
        """Stop the source, the timers and any recording (idempotent)."""
        if self._shutdown is None:
            self._shutdown = asyncio.ensure_future(self._shutdown_once())
        await asyncio.shield(self._shutdown)

    async def _shutdown_once(self) -> None:
        self._closing = True
        self.redraw_timer.stop()
        self.slow_timer.stop()
        self.stop_recording()
        with contextlib.suppress(Exception):
            await self.source.close()
        if self._consumer is not None and not self._consumer.done():
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._consumer
        self._generation += 1  # whatever is still queued is skipped
        self._inbox.put(None)
        self._preview_inbox.put(None)
        loop = asyncio.get_running_loop()
        for worker in (self._worker, self._preview_worker):
            await loop.run_in_executor(None, worker.join, 30.0)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.screenshot_path is not None and self.screenshot_saved is None:
            try:
                self.screenshot_saved = self.save_screenshot(self.screenshot_path)
            except OSError as exc:  # the command says it, once
                self.screenshot_error = str(exc)
        self._save_state()
        self._closing = True
        self.redraw_timer.stop()
        self.slow_timer.stop()
        self.stop_recording()
        super().closeEvent(event)
        self.closed.emit()

    # -- drawing ------------------------------------------------------------------------------
    def redraw(self) -> None:
        """One frame: plot and widgets from the coaching state (the timer calls this).

        The state is read under the lock the worker threads apply their results under (they
        hold it for microseconds), so a frame never sees half an update."""
        t0 = time.perf_counter()
        with self._coach_lock:
            self._redraw_locked()
        self.frames += 1
        self.frame_times_s.append(time.perf_counter() - t0)
        if len(self.frame_times_s) > 10000:
            del self.frame_times_s[:5000]

    def _redraw_locked(self) -> None:
        self._handle_events()
        c = self.coach
        drawn_t = self.plot.redraw(c)
        if not math.isnan(drawn_t):
            self.latencies_s.extend(c.mark_drawn(drawn_t))
        exercise = self.view_exercise()
        if exercise == "stretch":
            planned = self.targets.block("stretch").sets
            done = len(c.holds) + (1 if c.hold_active() else 0)
            knee = c.knee_label().split(" (")[0]
            self.counter.update_from(
                "Calf stretch" + (f" · {knee}" if knee else ""),
                done,
                f"/ {planned} holds" if planned else "holds",
            )
        else:
            set_no, sets, rep_no, reps = c.rep_counter()
            name = EXERCISE_NAMES.get(exercise, exercise)
            self.counter.update_from(
                f"{name} · set {set_no}" + (f" of {sets}" if sets else ""),
                rep_no,
                f"/ {reps} reps" if reps else "reps",
            )
        tg = self.targets
        self.tempo.update_from(c.reps_in_set(), tg.phase_targets(c.exercise))
        phase, elapsed, target = c.pacing()
        if c.rep_in_progress is None and phase != "rest" and elapsed > 2 * max(target, 1.0):
            phase, elapsed, target = "rest", 0.0, 0.0
        finished = self._source_done or (self.replay is not None and self.replay.finished)
        calibrating = (
            not math.isnan(self._cal_started_t_s)
            and math.isnan(self._cal_done_t_s)
            and c.calibrated is None
        )
        cue = "done" if finished else "calibrating" if calibrating else phase
        self.pacing.update_from(cue, elapsed, target)
        self._maybe_tick(phase, elapsed)
        h = c.hold
        self.hold_timer.update_from(
            c.hold_seconds(),
            tg.stretch_hold_s,
            active=c.hold_active(),
            in_position=bool(h and h.in_position),
            knee=c.knee_label(),
            angle_deg=h.angle_deg if h else math.nan,
        )
        self.banner.update_from([w.message for w in c.active_warnings()])
        if not self._status_hold():
            self._set_status(self._status_line(), sticky=False)
        self._apply_exercise_view()
        self._update_calibration_label()
        if self.replay is not None and not self.seek.isSliderDown():
            pos = int((self.replay.position_s - self.replay.t_start_s) * 10)
            if self.seek.value() != pos:
                self.seek.blockSignals(True)
                self.seek.setValue(pos)
                self.seek.blockSignals(False)
            self.time_label.setText(
                f"{_mmss(self.replay.position_s - self.replay.t_start_s)} / "
                f"{_mmss(self.replay.duration_s)}"
            )

    def _slow_update(self) -> None:
        with self._coach_lock:
            self.devices.update_from(self.coach.devices)
            rec = self.devices.reconnecting(self.coach.devices)
            error = self.coach.error
        if rec:
            self._reconnecting = rec
            self._set_status(f"Reconnecting to {', '.join(rec)}…")
        elif error:
            self._set_status(error)
        elif self._reconnecting:
            # said once, whatever the status bar showed since (the end of a file, a report)
            self._reconnecting = []
            self._set_status(f"{self._mode_text()} — sensors back.")
        elif not self._status_hold():
            self._set_status(self._status_line(), sticky=False)
        if self._writer is not None and self._record_path is not None:
            self.rec_label.setText(f"● recording to {self._record_path}")
        self._update_play_button()
        if (
            self.replay is not None
            and self.replay.finished
            and not self._summary_shown
            and not self._pending()
        ):
            self._finish_analysis()
            self.redraw()
            self._show_session_summary()

    def view_exercise(self) -> str:
        """What the person is doing now: ``stretch`` when the latest activity is a hold,
        else the rep exercise."""
        c = self.coach
        if c.hold_active():
            return "stretch"
        ex = c.exercise
        if c.rep_in_progress is not None:
            return ex
        last_rep_t = c.reps[-1].rep.t_end_s if c.reps else -math.inf
        last_hold_t = c.hold.t_start_s if c.hold is not None else -math.inf
        if last_hold_t > last_rep_t:
            return "stretch"
        if c.reps:
            return c.reps[-1].rep.exercise
        return self.targets.exercise

    def _apply_exercise_view(self) -> None:
        stretch = self.view_exercise() == "stretch"
        if self.hold_timer.isVisible() != stretch or self.tempo.isVisible() == stretch:
            self.hold_timer.setVisible(stretch)
            self.tempo.setVisible(not stretch)
            self.pacing.setVisible(not stretch)
        self.plot.set_view(self.view_exercise())
        band = self.coach.target_band()
        if band != self._band:
            self._band = band
            self.plot.set_band(band)

    def _update_calibration_label(self) -> None:
        c = self.coach
        text = ""
        if not math.isnan(self._cal_started_t_s) and math.isnan(self._cal_done_t_s):
            now = c.latest_input_t_s
            if c.calibrated is not None:
                self._cal_done_t_s = c.calibrated.t_s
            elif not math.isnan(now) and not math.isnan(c.t_first_s):
                since = now - max(c.t_first_s, self._cal_started_t_s)
                if since < CAL_STILL_S:
                    text = (
                        f"Calibration 1/2: stand still on both feet for {CAL_STILL_S:.0f} s "
                        f"… {max(0.0, CAL_STILL_S - since):.0f}"
                    )
                else:
                    text = "Calibration 2/2: pump your ankles 3 times (toes up, then heels up)."
            else:
                text = "Waiting for the sensors…"
        elif (
            not math.isnan(self._cal_done_t_s)
            and not math.isnan(c.latest_t_s)
            and 0 <= c.latest_t_s - self._cal_done_t_s < 3.0
            and c.calibrated is not None
        ):
            text = (
                "Calibrated (from a short still period; recalibrate with C for better angles)."
                if c.calibrated.flagged_fallback
                else "Calibrated ✓"
            )
        if text != self.cal_label.text():
            self.cal_label.setText(text)
            self.cal_label.setVisible(bool(text))
            self.cal_label.setStyleSheet(
                f"QLabel {{ background: {self.theme.accent}; color: white; padding: 6px; "
                "font-weight: bold; border-radius: 4px; }"
            )

    def _maybe_tick(self, phase: str, elapsed: float) -> None:
        if not self._tick_enabled or phase != "lower":
            self._last_tick_s = -1
            return
        sec = int(elapsed)
        if sec != self._last_tick_s and sec < math.ceil(
            self.targets.nominal_s(self.coach.exercise, "lower")
        ):
            self._last_tick_s = sec
            QApplication.beep()

    def _finish_analysis(self) -> None:
        try:
            with self._coach_lock:
                events = self.coach.finish()
            for ev in events:
                if isinstance(ev, SetCompleted):
                    self._show_set_summary(ev.set.exercise, ev.set.set_index)
        except Exception:  # the analysis' own bug must not take the window down
            log.exception("analysis finish failed")

    def _show_set_summary(self, exercise: str, set_index: int) -> None:
        lines = self.coach.set_summary_lines(exercise, set_index)
        if not lines:
            return
        self._last_summary_set = set_index
        body = "<br>".join(lines[1:])
        self.summary.setText(f"<h3>{lines[0]}</h3>{body}")

    def _show_session_summary(self) -> None:
        """At the end: ``companion score``'s report on the left (scored in a worker thread
        so the window stays responsive), the last set on the right."""
        if self._summary_shown:
            return
        self._summary_shown = True
        task = asyncio.ensure_future(self._summarize())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def busy(self) -> bool:
        """Work is under way whose result the user is waiting for: a catch-up after a seek,
        or the end-of-session report (``--screenshot`` waits for it)."""
        if self._summary_shown and not self.summary_ready:
            return True
        if self._pending():
            return True
        r = self.replay
        if r is not None and r.finished and not self._summary_shown:
            return True
        return r is not None and r.cursor_s > r.position_s + 1e-9

    async def _summarize(self) -> None:
        session: Session | None = getattr(self.source, "session", None)
        text = ""
        if session is not None:
            self._set_status("Scoring the session…")
            loop = asyncio.get_running_loop()
            t0 = min(float(c.t_s[0]) for c in session.chunks.values() if len(c))
            analysis = None
            if len({s.placement.side for s in session.sensors}) == 1:
                analysis = self.coach.analysis_result(t0)
            text, self.score_doc = await loop.run_in_executor(
                None, scoring_report, session, self.targets, analysis
            )
        if not text:
            text = own_summary_text(self.coach)
        if self.status_label.text() == "Scoring the session…":
            self._status_t = -1e9  # progress, not a notice: done now
        if text and not self._closing:
            self.report.setPlainText(text)
            self.show_report(True)
            self._set_status(self._status_line(), sticky=False)
        self.summary_ready = True

    def toggle_report(self) -> None:
        self.show_report(self.stack.currentIndex() == 0)

    def show_report(self, on: bool) -> None:
        self.stack.setCurrentIndex(1 if on else 0)
        self.act_report.setChecked(on)

    # -- transport ------------------------------------------------------------------------------
    def toggle_play(self) -> None:
        """Play or pause; at the end of the recording, play it again from the start."""
        if self.replay is None:
            return
        if self.replay.finished:
            self.seek_to(self.replay.t_start_s)
            self.replay.play()
        else:
            self.replay.toggle()
        self._update_play_button()

    def _update_play_button(self) -> None:
        if self.replay is None:
            return
        if self.replay.finished:
            text, tip = "Play again", "Play the recording again from the start (Space)"
        elif self.replay.paused:
            text, tip = "Play", "Play (Space)"
        else:
            text, tip = "Pause", "Pause (Space)"
        if self.play_button.text() != text:
            self.play_button.setText(text)
            self.play_button.setToolTip(tip)

    def _sync_speed_box(self) -> None:
        if self.replay is None:
            return
        sp = self.replay.speed
        idx = min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - sp))
        self.speed_box.blockSignals(True)
        self.speed_box.setCurrentIndex(idx)
        self.speed_box.blockSignals(False)

    def _on_speed_index(self, idx: int) -> None:
        if self.replay is not None and 0 <= idx < len(SPEEDS):
            self.replay.set_speed(SPEEDS[idx])

    def change_speed(self, step: int) -> None:
        if self.replay is None:
            return
        idx = min(len(SPEEDS) - 1, max(0, self.speed_box.currentIndex() + step))
        self.speed_box.setCurrentIndex(idx)

    def seek_to(self, t_s: float) -> None:
        """Replay only: move playback to session time ``t_s``."""
        if self.replay is None:
            return
        if self.replay.seek(t_s):
            self.reset_analysis()
            self.summary.setText("")
            self._cal_done_t_s = math.nan
            self._summary_shown = False
            self.summary_ready = False
            self.show_report(False)
        self.redraw()

    def seek_by(self, delta_s: float) -> None:
        if self.replay is not None:
            self.seek_to(self.replay.cursor_s + delta_s)

    def _on_seek_released(self) -> None:
        if self.replay is not None:
            self.seek_to(self.replay.t_start_s + self.seek.value() / 10.0)

    def _on_seek_action(self, action: int) -> None:
        if self.replay is not None and not self.seek.isSliderDown():
            QTimer.singleShot(0, self._on_seek_released)

    def previous_rep(self) -> None:
        """Replay: jump to the start of the rep before the current position."""
        if self.replay is None or not self.coach.reps:
            return
        now = self.replay.cursor_s
        starts = [r.rep.t_start_s for r in self.coach.reps if r.rep.t_start_s < now - 1.0]
        if starts:
            self.seek_to(starts[-1] - 1.0)

    def next_rep(self) -> None:
        """Replay: run on (unpaced) until the next rep has completed, then show it."""
        if self.replay is None:
            return
        target = self.replay.position_s + 0.1
        n0 = len(self.coach.reps)
        self._tasks.add(
            task := asyncio.ensure_future(
                self._advance_until(lambda: len(self.coach.reps) > n0, target)
            )
        )
        task.add_done_callback(self._tasks.discard)

    async def _advance_until(self, done: Callable[[], bool], min_t_s: float) -> None:
        """Run on in 1 s steps until ``done()``; each step waits until the analysis has
        taken the previous one in, so the run-on stops within a second of the rep however
        slow the analysis is (it used to run ahead to the end of the file meanwhile)."""
        replay = self.replay
        assert replay is not None
        t = min_t_s
        while not done() and t < replay.t_end_s and not self._closing:
            t = min(t + 1.0, replay.t_end_s)
            replay.seek(t)
            generation = replay.generation
            while True:
                await asyncio.sleep(0.01)
                if replay.generation != generation or self.replay is not replay:
                    # another seek (the user pressed Page Up, an arrow, the slider) took over
                    return
                if self._closing or (replay.position_s >= t and not self._pending()):
                    break
        self.redraw()

    def set_window_s(self, s: float) -> None:
        self.plot.window_s = float(s)
        self.redraw()

    # -- record / calibrate / theme -----------------------------------------------------------
    def toggle_record(self) -> None:
        if self._writer is None:
            self.start_recording()
        else:
            self.stop_recording()

    def start_recording(self, path: Path | None = None) -> Path | None:
        from companion.storage import SUFFIX, SessionWriter

        if path is None:
            folder = self._record_dir or Path(
                str(self.settings.value("record/dir", str(Path.home() / "calf-recordings")))
            )
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
            path = folder / f"session-{stamp}{SUFFIX}"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = SessionWriter(
                path,
                sensors=self.source.sensors,
                start_time_utc=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                plan=self.plan,
                source=f"record:{self.mode}",
            )
        except (CompanionError, OSError) as exc:
            self._writer = None
            self._set_status(f"Could not start recording: {exc}")
            self.act_record.setChecked(False)
            return None
        self._record_path = path
        self.act_record.setChecked(True)
        self.rec_label.setText(f"● recording to {path}")
        self._set_status(f"Recording to {path}.")
        return path

    def stop_recording(self) -> Path | None:
        if self._writer is None:
            return None
        writer, self._writer = self._writer, None
        try:
            writer.close()
        except (CompanionError, OSError) as exc:
            self._set_status(f"Recording could not be finished: {exc}")
        path = self._record_path
        self.act_record.setChecked(False)
        self.rec_label.setText(f"saved {path}")
        self._set_status(f"Session saved to {path}.")
        return path

    def _record_item(self, item: ImuChunk | Gap) -> None:
        try:
            if isinstance(item, ImuChunk):
                self._writer.write_chunk(item)
            else:
                self._writer.add_gap(item)
        except (CompanionError, OSError) as exc:
            self._set_status(f"Recording stopped: {exc}")
            self._writer = None

    def start_calibration(self) -> None:
        """Reset the analysis and guide the user through stance + ankle pumps."""
        self.reset_analysis()
        now = self.replay.position_s if self.replay is not None else 0.0
        self._cal_started_t_s = now
        self._cal_done_t_s = math.nan
        self.summary.setText("")
        self._update_calibration_label()

    def set_dark(self, on: bool) -> None:
        if self.sender() is self.act_dark:
            self._theme_from_user = True
        self.theme = THEMES["dark" if on else "light"]
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, self.theme)
        for w in (self.counter, self.tempo, self.pacing, self.hold_timer, self.banner):
            w.set_theme(self.theme)
        self.devices.theme = self.theme
        self.plot.set_theme(self.theme)
        self.redraw()

    def _set_tick(self, on: bool) -> None:
        self._tick_enabled = bool(on)

    def _on_connect_requested(self, chosen: list[tuple[FoundSensor, str, str]]) -> None:
        names = ", ".join(f"{f.name or f.address} as {seg}/{side}" for f, seg, side in chosen)
        if self._connect is None:
            self._set_status(f"Assignment saved ({names}); open `companion live` to use them.")
            return
        try:
            source = self._connect(chosen)
        except CompanionError as exc:
            self._set_status(str(exc))
            return
        self._set_status(f"Connecting to {names}…")
        task = asyncio.ensure_future(self.replace_source(source))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def replace_source(self, source: SampleSource) -> None:
        """Stop the current source and stream from ``source`` (the device panel's choice)."""
        self.stop_recording()
        if self._consumer is not None and not self._consumer.done():
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._consumer
        with contextlib.suppress(Exception):
            await self.source.close()
        self.source = source
        self.replay = source if isinstance(source, ReplaySource) and source.seekable else None
        self.transport.setVisible(self.replay is not None)
        self._generation += 1
        with self._coach_lock:
            self.coach = CoachState(
                source.sensors,
                targets=self.targets,
                window_s=self.coach.window_s,
                analyzer_factory=self._analyzer_factory,
            )
        self.stream_error = ""
        self._source_done = False
        self._summary_shown = False
        self._cal_started_t_s = 0.0
        self._cal_done_t_s = math.nan
        self._consumer = asyncio.ensure_future(self._consume())

    def _save_screenshot_dialog(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(
            self, "Save screenshot", "companion.png", "PNG (*.png)"
        )
        if path:
            try:
                self.save_screenshot(Path(path))
            except OSError as exc:
                self._set_status(str(exc))

    def save_screenshot(self, path: Path) -> Path:
        """Save the window as a PNG at ``path``, atomically: a temporary file beside it is
        renamed into place only when complete, so a failure never leaves ``path`` empty or
        half-written. The folder is not created (a mistyped folder is the caller's error)."""
        self.redraw()
        if not path.parent.is_dir():
            msg = (
                f"could not write the screenshot {path}: the folder {path.parent} does not "
                "exist; create it first or choose another place"
            )
            raise OSError(msg)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
        try:
            if not self.grab().save(str(tmp), "PNG"):
                msg = (
                    f"could not write the screenshot {path}: saving the image failed; "
                    "check that the folder is writable and the disk is not full"
                )
                raise OSError(msg)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if str(exc).startswith("could not write the screenshot"):
                raise
            msg = f"could not write the screenshot {path}: {exc.strerror or exc}"
            raise OSError(msg) from exc
        return path

    def _show_shortcuts(self) -> None:
        self.summary.setText(
            "<h3>Keyboard</h3>Space play/pause · ←/→ seek 5 s · PgUp/PgDn previous/next rep · "
            "[ ] slower/faster · R record · C calibrate · I shin/foot curves · D devices · "
            "T audible tick · Ctrl+D dark theme"
        )

    def _status_hold(self) -> bool:
        """Keep a one-off message (saved, error) on screen for 6 s."""
        return time.monotonic() - self._status_t < 6.0

    def show_load_warnings(self, warnings: list[str]) -> None:
        """Keep the session file's warnings in the status bar (its tooltip has them all)."""
        self.load_warnings = list(warnings)
        self.status_label.setToolTip("\n".join(self.load_warnings))
        if self.load_warnings:
            self._set_status(f"File warning: {self.load_warnings[0]}")

    def _status_line(self) -> str:
        if self.stream_error:
            return self.stream_error
        c = self.coach
        clock = "" if math.isnan(c.latest_input_t_s) else f" · {_mmss(c.latest_input_t_s)}"
        done = " — finished" if self._source_done else ""
        n = len(self.load_warnings)
        warn = f" · ⚠ {n} file warning{'' if n == 1 else 's'} (hover)" if n else ""
        return f"{self._mode_text()}{clock}{done} · plan: {self.targets.name}{warn}"

    def _mode_text(self) -> str:
        return {
            "live": "Live: sensors",
            "simulate": "Live: simulated sensors",
            "emulate": "Live: emulated sensors",
            "replay": "Replay",
        }.get(self.mode, self.mode)

    def _set_status(self, text: str, *, sticky: bool = True) -> None:
        """Show ``text`` in the status bar. A sticky one is a notice (saved, sensors back, an
        error) and stays up for 6 s; the routine status line (``sticky=False``) never
        replaces a notice before that, whatever comes first (the end of the stream, say)."""
        if sticky:
            self._status_t = time.monotonic()
        elif self._status_hold():
            return
        if self.status_label.text() != text:
            self.status_label.setText(text)


def _mmss(s: float) -> str:
    s = max(0.0, s)
    return f"{int(s // 60)}:{int(s % 60):02d}"


def own_summary_text(c: CoachState) -> str:
    """The analysis' own per-set and per-stretch numbers (when no session is at hand)."""
    parts = []
    for ex, s in sorted({(r.rep.exercise, r.rep.set_index) for r in c.reps}, key=lambda x: x[1]):
        parts.append("\n  ".join(c.set_summary_lines(ex, s)))
    for i, h in enumerate(c.holds):
        knee = "" if h.knee == "unknown" else f", {h.knee} knee"
        flags = [f for f, on in (("bouncing", h.bouncing), ("knee caving in", h.knee_in)) if on]
        parts.append(
            f"Stretch {i + 1}: {h.time_in_position_s:.0f} s in position at "
            f"{h.mean_angle_deg:.0f}°{knee}" + (f" — {', '.join(flags)}" if flags else "")
        )
    return "Session summary\n\n" + "\n\n".join(parts) if parts else ""


def advice_first(table: str) -> str:
    """Move the report's "next time:" advice right under its headline, where it is read."""
    lines = table.splitlines()
    try:
        i = next(k for k, line in enumerate(lines) if line.strip().lower() == "next time:")
    except StopIteration:
        return table
    j = i + 1
    while j < len(lines) and lines[j].strip():
        j += 1
    advice = lines[i:j]
    rest = lines[:i] + lines[j:]
    head = next((k for k, line in enumerate(rest) if not line.strip()), len(rest))
    return "\n".join([*rest[:head], "", *advice, *rest[head:]]).rstrip() + "\n"


def scoring_report(
    session: Session, targets: Targets, analysis: Any = None
) -> tuple[str, dict[str, Any] | None]:
    """``companion score``'s document and table for ``session`` under the window's plan
    (``("", None)`` when scoring fails; the log has why). ``analysis``: the window's own
    streaming analysis of the whole session, reused instead of a second pass."""
    from companion.scoring.report import render_table
    from companion.scoring.score import score_session

    try:
        doc = score_session(session, targets.plan, analysis=analysis)
        return advice_first(str(render_table(doc))), doc
    except CompanionError as exc:
        return f"The session could not be scored: {exc}", None
    except Exception:  # the window must survive a scoring bug; the log has the traceback
        log.exception("scoring failed")
        return "", None
