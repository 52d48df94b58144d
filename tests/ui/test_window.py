"""The window, offscreen, on the real qasync loop: simulated live, replay vs score, controls."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest

from companion.model import ImuChunk, Session
from companion.sources.base import LinkState, LinkStateChanged
from companion.sources.replay import ReplaySource
from companion.storage import load_session, write_session
from tests.ui._drive import run, until


def _truth_reps(session: Session, t_max_s: float) -> list[dict]:
    return [
        a
        for a in session.annotations
        if a["kind"] == "truth.rep" and a["t_lower_end_s"] + 0.6 <= t_max_s
    ]


def test_simulated_live_counts_the_simulators_reps(calf_session: Session) -> None:
    """`live --simulate`: 30 s of simulated session (played at 16×) shows the truth's reps."""
    source = ReplaySource.live(calf_session, speed=16.0)
    assert not source.seekable

    async def script(w) -> None:
        await until(lambda: w.coach.latest_t_s >= 30.0, 60.0, "30 s of session")
        w.redraw()

    result = run(source, script, mode="simulate")
    w = result.window
    truth_done = _truth_reps(calf_session, w.coach.latest_t_s)
    truth_all = [a for a in calf_session.annotations if a["kind"] == "truth.rep"]
    assert len(truth_done) >= 2  # the scenario's stance and pumps take ~15 s
    done = [r for r in w.coach.reps if r.rep.exercise == "calf_raise"]
    # every rep the simulator finished by then is counted, and nothing else
    assert len(truth_done) <= len(done) <= len(truth_done) + 1
    for rv, tr in zip(done, truth_all):
        assert rv.rep.t_start_s == pytest.approx(tr["t_start_s"], abs=0.3)
    assert w.counter.number == len(done)
    assert w.devices.table.item(0, 1).text() == "streaming"
    assert result.frames > 10
    assert w.coach.calibrated is not None


def test_replay_shows_the_same_reps_and_verdicts_as_score(
    calf_session: Session, tmp_path: Path
) -> None:
    """A recording replayed to its end: rep count and per-rep verdicts equal `companion score`."""
    from companion.scoring.score import score_session

    path = tmp_path / "calf.calf"
    write_session(path, calf_session)
    session = load_session(path)
    doc = score_session(session, None)
    source = ReplaySource(session, speed=1.0)

    async def script(w) -> None:
        w.seek_to(source.t_end_s)  # catch up unpaced
        await until(lambda: w.summary_ready, 60.0, "the end-of-session report")

    w = run(source, script).window
    reps = [r for r in w.coach.reps]
    assert len(reps) == len(doc["reps"]) > 0
    for rv, rd in zip(reps, doc["reps"]):
        assert rv.rep.t_start_s == pytest.approx(rd["t_start_s"], abs=1e-3)
        assert {
            "rise": rv.rise.value,
            "hold": rv.hold.value,
            "lower": rv.lower.value,
        } == rd["verdicts"]
    assert "tempo compliance" in w.report.toPlainText()
    assert w.stack.currentIndex() == 1  # the report is shown at the end


def test_play_at_the_end_plays_the_recording_again(stretch_session: Session) -> None:
    """At the end the button offers "Play again" (it said "Pause" over a finished replay) and
    plays from the start."""
    source = ReplaySource(stretch_session, speed=1.0)

    async def script(w) -> None:
        w.seek_to(source.t_end_s)
        await until(lambda: w.summary_ready, 30.0, "the end-of-session report")
        await until(lambda: w.play_button.text() == "Play again", 60.0, "the button to change")
        w.play_button.click()
        assert source.rewinds == 1
        assert not source.paused
        assert source.cursor_s == source.t_start_s
        assert w.stack.currentIndex() == 0  # back to the plot
        assert w.play_button.text() == "Pause"

    run(source, script)


def _key(w, key, modifier=None) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    QTest.keyClick(w, key, modifier or Qt.KeyboardModifier.NoModifier)


def test_every_control_and_shortcut(calf_session: Session, tmp_path: Path) -> None:
    from PySide6.QtCore import QSettings, Qt

    from companion.ui.devices import FoundSensor

    found = [
        FoundSensor(address="AA:01", name="WT901 shin", family="witmotion"),
        FoundSensor(address="AA:02", name="WT901 foot", family="witmotion"),
    ]

    async def fake_scan(timeout_s: float) -> list[FoundSensor]:
        await asyncio.sleep(0.05)
        return found

    source = ReplaySource(calf_session, speed=4.0, start_paused=True)

    async def script(w) -> None:
        K = Qt.Key
        w.activateWindow()
        await until(w.isActiveWindow, 60.0, "the window to become active")
        # Space: play / pause
        assert source.paused
        _key(w, K.Key_Space)
        assert not source.paused
        assert w.play_button.text() == "Pause"
        w.play_button.click()
        assert source.paused
        # ] and [: speed
        _key(w, K.Key_BracketRight)
        assert source.speed == 8.0
        _key(w, K.Key_BracketLeft)
        _key(w, K.Key_BracketLeft)
        assert source.speed == 2.0
        w.speed_box.setCurrentIndex(6)
        assert source.speed == 16.0
        # → seeks forward 5 s, ← back (a rewind: the analysis restarts)
        _key(w, K.Key_Right)
        await until(lambda: w.coach.latest_input_t_s >= 4.9, 60.0, "seek forward")
        assert source.position_s == pytest.approx(5.0, abs=0.05)
        _key(w, K.Key_Right)
        _key(w, K.Key_Right)
        await until(lambda: source.position_s >= 15.0, 60.0, "seek forward twice")
        _key(w, K.Key_Left)
        assert source.rewinds == 1
        await until(lambda: w.coach.latest_input_t_s >= 9.9, 60.0, "catch up after rewind")
        # Page Down: next rep (runs on until one completes); the button does the same
        _key(w, K.Key_PageDown)
        await until(lambda: len(w.coach.reps) >= 1, 60.0, "next rep")
        w.next_button.click()
        await until(lambda: len(w.coach.reps) >= 2, 60.0, "next rep (button)")
        second_start = w.coach.reps[1].rep.t_start_s
        # Page Up: back to the previous rep (a rewind, then catch-up to before it)
        _key(w, K.Key_PageUp)
        assert source.cursor_s < second_start
        w.prev_button.click()
        # the seek slider
        w.seek.setValue(200)
        w.seek.sliderReleased.emit()
        assert source.cursor_s == pytest.approx(20.0, abs=0.05)
        # R: record, R again: stop; the file is a loadable session
        _key(w, K.Key_R)
        assert w.act_record.isChecked()
        source.play()
        await until(lambda: source.position_s >= 24.0, 60.0, "some recorded samples")
        source.pause()
        _key(w, K.Key_R)
        assert not w.act_record.isChecked()
        saved = sorted(tmp_path.glob("session-*.calf"))  # noqa: ASYNC240 - a test
        assert len(saved) == 1
        rec = load_session(saved[0])
        assert all(len(c) > 100 for c in rec.chunks.values())
        assert str(saved[0]) in w.rec_label.text()
        # C: calibrate (analysis restarts, the guide appears)
        _key(w, K.Key_C)
        assert w.coach.reps == []
        w.speed_box.setCurrentIndex(2)
        assert source.speed == 1.0
        assert w.cal_label.text() == "Waiting for the sensors…"
        # one more second of data (a step forward, not timed playback: the guide's first
        # step lasts 3 s of session time, which a starved test could miss while playing)
        w.seek_by(1.0)
        await until(lambda: "stand still" in w.cal_label.text(), 60.0, "the calibration guide")
        assert w.pacing.text.startswith("Calibrating")  # not "Ready: rise" meanwhile
        # I: shin and foot curves; D: device panel; Ctrl+D: dark; T: tick; S: report; F1
        _key(w, K.Key_I)
        assert w.plot.shin.isVisible()
        assert w.plot.foot.isVisible()
        _key(w, K.Key_D)
        assert w.device_dock.isVisible()
        _key(w, K.Key_D, Qt.KeyboardModifier.ControlModifier)
        assert w.theme.name == "dark"
        _key(w, K.Key_T)
        assert w.act_tick.isChecked()
        _key(w, K.Key_S)
        assert w.stack.currentIndex() == 1
        _key(w, K.Key_S)
        assert w.stack.currentIndex() == 0
        _key(w, K.Key_F1)
        assert "Space" in w.summary.text()
        # the device panel: scan, assign (remembered), connect request
        w.devices.scan_button.click()
        await until(lambda: w.devices.found_table.rowCount() == 2, 60.0, "scan results")
        assert not w.devices.connect_button.isEnabled()
        w.devices.found_table.cellWidget(0, 1).setCurrentText("shin")
        w.devices.found_table.cellWidget(1, 1).setCurrentText("foot")
        w.devices.found_table.cellWidget(0, 2).setCurrentText("right")
        assert not w.devices.connect_button.isEnabled()  # two legs: refused
        w.devices.found_table.cellWidget(1, 2).setCurrentText("right")
        assert w.devices.connect_button.isEnabled()
        requested = []
        w.devices.connect_requested.connect(requested.append)
        w.devices.connect_button.click()
        assert [(f.address, seg, side) for f, seg, side in requested[0]] == [
            ("AA:01", "shin", "right"),
            ("AA:02", "foot", "right"),
        ]
        assert QSettings().value("assign/AA:02") == "foot/right"

    run(source, script, scan=fake_scan, record_dir=tmp_path)
    # choices persist between runs
    s = QSettings()
    assert s.value("view/theme") == "dark"
    assert s.value("view/segments") == "true"


class _ScriptedSource:
    """Samples, then a disconnect with reconnection, then samples again (the link path)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.gate = asyncio.Event()
        self.closed = False

    @property
    def sensors(self):
        return self._session.sensors

    async def _run(self):
        chunks = self._session.chunks
        for sid in chunks:
            yield LinkStateChanged(sensor_id=sid, state=LinkState.STREAMING, t_s=0.0)
        n = len(next(iter(chunks.values())))
        for i0 in range(0, n // 2, 50):
            for c in chunks.values():
                yield c.slice(i0, i0 + 50)
        shin = next(s for s in self._session.sensors if s.placement.segment == "shin")
        yield LinkStateChanged(
            sensor_id=shin.sensor_id,
            state=LinkState.RECONNECTING,
            t_s=10.0,
            message="shin_left stopped answering; reconnecting.",
        )
        await self.gate.wait()
        yield LinkStateChanged(sensor_id=shin.sensor_id, state=LinkState.STREAMING, t_s=12.0)
        for i0 in range(n // 2, n, 50):
            for c in chunks.values():
                yield c.slice(i0, i0 + 50)

    def __aiter__(self):
        return self._run()

    async def close(self) -> None:
        self.closed = True


def test_a_disconnect_shows_reconnecting_then_recovers(calf_session: Session) -> None:
    src = _ScriptedSource(calf_session)

    async def script(w) -> None:
        await until(
            lambda: "Reconnecting" in w.status_label.text(), 60.0, "the reconnecting notice"
        )
        assert w.devices.table.item(0, 1).text() == "reconnecting…"
        assert "reconnecting" in w.devices.state_label.text()
        src.gate.set()
        await until(lambda: "sensors back" in w.status_label.text(), 60.0, "recovery notice")
        assert w.devices.table.item(0, 1).text() == "streaming"

    run(src, script, mode="emulate")
    assert src.closed


def test_stretch_view_times_the_hold_and_warns_about_bouncing(stretch_session: Session) -> None:
    """Stepping through the bouncing stretch: the timer runs during the hold, the warning
    stays up while the person bounces, the knee is inferred straight."""
    truth = next(a for a in stretch_session.annotations if a["kind"] == "truth.hold")
    source = ReplaySource(stretch_session, speed=1.0, start_paused=True)
    seen: dict[str, object] = {}
    t_mid = truth["t_start_s"] + 12.0

    async def script(w) -> None:
        w.seek_to(t_mid)
        await until(lambda: w.coach.latest_t_s >= t_mid - 0.5, 60.0, "catch-up to mid-hold")
        w.redraw()
        seen["active"] = w.coach.hold_active()
        seen["seconds"] = w.hold_timer.seconds
        seen["banner"] = w.banner.text() if w.banner.isVisible() else ""
        seen["hold_visible"] = w.hold_timer.isVisible()
        seen["tempo_visible"] = w.tempo.isVisible()
        seen["counter"] = w.counter.caption

    run(source, script)
    assert seen["active"] is True
    # in position most of the 12 s since the hold began (the analysis starts it a little late)
    assert 5.0 <= float(seen["seconds"]) <= 12.5
    assert "Bouncing" in str(seen["banner"])
    assert seen["hold_visible"] is True
    assert seen["tempo_visible"] is False
    assert "straight knee" in str(seen["counter"])


def test_sensors_back_is_said_even_when_the_stream_ends_right_after(
    calf_session: Session,
) -> None:
    """A reconnect, then the end of the stream at once: "sensors back" still appears (it used
    to depend on the status bar still reading "Reconnecting" when the 4 Hz update came)."""
    chunks = calf_session.chunks
    shin = next(s for s in calf_session.sensors if s.placement.segment == "shin")

    class ReconnectThenEnd:
        sensors = calf_session.sensors
        gate = asyncio.Event()

        async def _run(self):
            for c in chunks.values():
                yield c.slice(0, 300)
            yield LinkStateChanged(
                sensor_id=shin.sensor_id, state=LinkState.RECONNECTING, t_s=3.0, message="lost"
            )
            await self.gate.wait()
            yield LinkStateChanged(sensor_id=shin.sensor_id, state=LinkState.STREAMING, t_s=4.0)

        def __aiter__(self):
            return self._run()

        async def close(self) -> None:
            return None

    src = ReconnectThenEnd()

    async def script(w) -> None:
        await until(lambda: "Reconnecting" in w.status_label.text(), 60.0, "reconnecting")
        src.gate.set()
        await until(lambda: w.summary_ready, 30.0, "the end of the stream")
        await until(lambda: "sensors back" in w.status_label.text(), 60.0, "recovery notice")

    run(src, script, mode="emulate")


def test_the_window_survives_a_source_error(calf_session: Session) -> None:
    class Broken:
        sensors = calf_session.sensors

        async def _run(self):
            yield calf_session.chunks[calf_session.sensors[0].sensor_id].slice(0, 10)
            raise OSError("the adapter went away")

        def __aiter__(self):
            return self._run()

        async def close(self) -> None:
            return None

    async def script(w) -> None:
        await until(lambda: "stream stopped" in w.status_label.text(), 60.0, "error sentence")
        assert "Traceback" not in w.status_label.text()

    run(Broken(), script, mode="live")


def test_screenshot_is_written_at_1280x720(calf_session: Session, tmp_path: Path) -> None:
    from PySide6.QtGui import QImage

    from companion.ui.app import run_window
    from companion.ui.coach import targets_from_plan
    from companion.ui.window import MainWindow

    out = tmp_path / "shot.png"
    source = ReplaySource.live(calf_session, speed=16.0)
    result = run_window(
        lambda: MainWindow(source, targets=targets_from_plan(None), mode="simulate"),
        duration_s=0.5,
        screenshot=out,
    )
    assert result.screenshot == out
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1280, 720)


def test_chunks_are_not_drawn_per_packet(calf_session: Session) -> None:
    """Frames come from the timer only: with the timer stopped, thousands of small chunks
    (every one analysed and drawable) make no frame; restarted, it draws them. (No rate
    comparison: how many frames fit in a burst depends on the machine's load.)"""
    chunks = list(calf_session.chunks.values())
    gate = asyncio.Event()

    class Small:
        sensors = calf_session.sensors

        async def _run(self):
            await gate.wait()
            for i0 in range(0, len(chunks[0]), 5):
                for c in chunks:
                    yield c.slice(i0, i0 + 5)
                await asyncio.sleep(0)
            await asyncio.Event().wait()  # a live link: no end-of-stream frame

        def __aiter__(self):
            return self._run()

        async def close(self) -> None:
            return None

    n_items = 2 * len(range(0, len(chunks[0]), 5))
    seen: dict[str, int] = {}

    async def script(w) -> None:
        w.redraw_timer.stop()
        frames0 = w.frames
        gate.set()
        await until(lambda: w.coach.items_seen == n_items and not w.busy(), 60.0, "all chunks")
        seen["frames_during"] = w.frames - frames0
        seen["drawn_before"] = len(w.latencies_s)
        w.redraw_timer.start()
        await until(lambda: w.frames > frames0 + 2, 60.0, "frames from the timer")
        seen["drawn_after"] = len(w.latencies_s)

    r = run(Small(), script, mode="live")
    assert n_items > 1500
    assert seen["frames_during"] == 0
    assert seen["drawn_before"] == 0
    assert seen["drawn_after"] > 100  # the rows after the calibration (~15 s in) are drawn
    assert all(math.isfinite(x) and x >= 0 for x in r.latencies_s)


def test_ring_keeps_the_plot_window(calf_session: Session) -> None:
    from companion.ui.coach import CoachState

    coach = CoachState(calf_session.sensors, window_s=10.0)
    for c in calf_session.chunks.values():
        del c
    shin, foot = (calf_session.chunks[s.sensor_id] for s in calf_session.sensors)
    for i0 in range(0, len(shin), 100):
        coach.push(shin.slice(i0, i0 + 100))
        coach.push(foot.slice(i0, i0 + 100))
    data = coach.ring.filled()
    assert data.shape[0] == coach.ring.capacity
    assert np.all(np.diff(data[:, 0]) > 0)
    assert data[-1, 0] - data[0, 0] == pytest.approx(10.0, abs=0.02)
    assert isinstance(shin, ImuChunk)


def test_emulated_disconnect_shows_reconnecting_then_recovers() -> None:
    """`live --emulate witmotion` with a forced disconnect: the real BLE code over the
    emulated radio; the window says "reconnecting" and then that the sensors are back."""
    import argparse

    from companion.commands.live import ble_source

    args = argparse.Namespace(
        emulate="witmotion",
        faults="disconnect_every=1.5,down_s=0.3",
        side="left",
        rate=None,
        seed=0,
    )
    source, _scan = ble_source(args)
    seen: list[str] = []

    async def script(w) -> None:
        await until(lambda: w.coach.items_seen > 20, 60.0, "streaming")
        await until(
            lambda: (
                "Reconnecting" in w.status_label.text()
                and not seen.append(
                    w.devices.table.item(0, 1).text() + "|" + w.devices.table.item(1, 1).text()
                )
            ),
            60.0,
            "the reconnecting notice",
        )
        n = w.coach.items_seen
        await until(lambda: "sensors back" in w.status_label.text(), 60.0, "recovery")
        await until(lambda: w.coach.items_seen > n + 20, 60.0, "samples after the reconnect")

    w = run(source, script, mode="emulate").window
    assert any("reconnecting…" in s for s in seen)
    assert w.stream_error == ""


def test_a_seek_during_next_rep_takes_over(calf_session: Session) -> None:
    """Page Down runs on in the background; a seek meanwhile (Page Up, an arrow, the slider)
    stops it, so the position the user asked for stays (a race CI once hit)."""
    source = ReplaySource(calf_session, speed=4.0, start_paused=True)

    async def script(w) -> None:
        w.next_rep()
        await until(lambda: source.cursor_s >= 2.0, 60.0, "the run-on to start")
        assert w.coach.reps == []  # the first rep is well after 2 s: still running on
        w.seek_to(1.0)
        await asyncio.sleep(0.3)  # the run-on would have moved ~30 s further by now
        assert source.cursor_s == pytest.approx(1.0, abs=1e-9)
        assert w.coach.reps == []

    run(source, script)


def test_next_rep_stops_at_the_next_rep_however_slow_the_analysis(calf_session: Session) -> None:
    """Page Down runs on one step at a time, each after the analysis took the last one in:
    with an analysis slower than the run-on it used to run ahead to the end of the file."""
    import time

    from companion.ui.coach import default_analyzer_factory

    def slow_factory(side, hint, rate):
        inner = default_analyzer_factory(side, hint, rate)

        class Slow:
            def feed(self, chunk):
                time.sleep(0.05)  # a slow machine, or a slow step of the analysis
                return inner.feed(chunk)

            def __getattr__(self, name):
                return getattr(inner, name)

        return Slow()

    truth = [a for a in calf_session.annotations if a["kind"] == "truth.rep"]
    source = ReplaySource(calf_session, speed=4.0, start_paused=True)
    seen: dict[str, float] = {}

    async def script(w) -> None:
        w.seek_to(truth[0]["t_start_s"] - 3.0)
        await until(lambda: not w.busy(), 60.0, "the catch-up")
        w.next_rep()
        await until(lambda: len(w.coach.reps) >= 1, 60.0, "the next rep")
        await until(lambda: not w.busy() and not w._tasks, 60.0, "the run-on to stop")
        seen["cursor"] = source.cursor_s
        seen["reps"] = len(w.coach.reps)

    run(source, script, analyzer_factory=slow_factory)
    # stopped within a step of the first rep's end, long before the second rep is over
    assert truth[0]["t_lower_end_s"] < seen["cursor"] < truth[0]["t_lower_end_s"] + 2.0
    assert seen["reps"] == 1
