"""The scrolling ankle-angle plot: curves from the ring buffer, target band, phase shading.

Redrawn only by the window's timer (:meth:`AnglePlot.redraw`), never per packet. The curves
take views of the preallocated ring buffer; phase regions come from a fixed pool of
``LinearRegionItem``\\ s that are moved, not created, each frame (STYLE.md §3.9).
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtGui import QColor

from companion.ui.coach import CHANNELS, CoachState
from companion.ui.theme import Theme

__all__ = ["AnglePlot"]

_COL = {name: i + 1 for i, name in enumerate(CHANNELS)}


def _rgba(colour: str, alpha: int) -> QColor:
    c = QColor(colour)
    c.setAlpha(alpha)
    return c


class AnglePlot(pg.PlotWidget):
    """Ankle angle over the last ``window_s`` seconds, plus shin/foot inclination on demand."""

    POOL = 48

    def __init__(self, theme: Theme, *, window_s: float = 20.0) -> None:
        super().__init__()
        self.theme = theme
        self.window_s = float(window_s)
        self.show_segments = False
        pi = self.getPlotItem()
        pi.setMenuEnabled(False)
        pi.hideButtons()
        self.setMouseEnabled(x=False, y=False)
        pi.showGrid(x=True, y=True, alpha=0.25)
        pi.setLabel("left", "ankle angle, °")
        pi.setLabel("bottom", "session time", units="s")
        self.inverted = False
        self._regions: list[pg.LinearRegionItem] = []
        for _ in range(self.POOL):
            reg = pg.LinearRegionItem(movable=False, pen=pg.mkPen(None))
            reg.setZValue(-20)
            reg.setVisible(False)
            pi.addItem(reg, ignoreBounds=True)
            self._regions.append(reg)
        self.band = pg.LinearRegionItem(
            values=(-45, -20), orientation="horizontal", movable=False, pen=pg.mkPen(None)
        )
        self.band.setZValue(-30)
        pi.addItem(self.band, ignoreBounds=True)
        self.zero = pg.InfiniteLine(pos=0.0, angle=0, movable=False)
        pi.addItem(self.zero, ignoreBounds=True)
        self.ankle = pi.plot()
        self.shin = pi.plot()
        self.foot = pi.plot()
        self.legend = pg.TextItem(anchor=(0, 0))
        self.legend.setZValue(10)
        pi.addItem(self.legend, ignoreBounds=True)
        for c in (self.ankle, self.shin, self.foot):
            c.setClipToView(True)
            c.setDownsampling(auto=True, method="peak")
        self.shin.setVisible(False)
        self.foot.setVisible(False)
        self.setYRange(-55, 45, padding=0)
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackground(theme.background)
        pi = self.getPlotItem()
        for ax in ("left", "bottom"):
            a = pi.getAxis(ax)
            a.setPen(pg.mkPen(theme.muted))
            a.setTextPen(pg.mkPen(theme.text))
        self.ankle.setPen(pg.mkPen(theme.ankle, width=2))
        self.shin.setPen(pg.mkPen(theme.shin, width=1))
        self.foot.setPen(pg.mkPen(theme.foot, width=1))
        self.band.setBrush(_rgba(theme.band, 40))
        self.zero.setPen(pg.mkPen(theme.muted, width=1, style=pg.QtCore.Qt.PenStyle.DashLine))

    def set_calf_view(self, calf: bool) -> None:
        """Calf raises plot plantarflexion upwards (the line rises when the heels do)."""
        if calf == self.inverted:
            return
        self.inverted = calf
        pi = self.getPlotItem()
        pi.invertY(calf)
        pi.setLabel(
            "left",
            "ankle angle, °  (heel raise drawn upwards)" if calf else "ankle angle, °",
        )

    def set_band(self, band_deg: tuple[float, float] | None) -> None:
        if band_deg is None:
            self.band.setVisible(False)
        else:
            self.band.setRegion(band_deg)
            self.band.setVisible(True)

    def set_show_segments(self, on: bool) -> None:
        self.show_segments = bool(on)
        self.shin.setVisible(self.show_segments)
        self.foot.setVisible(self.show_segments)

    def redraw(self, coach: CoachState) -> float:
        """Update curves, shading and x-range from ``coach``; returns the newest drawn t_s."""
        # A copy: the analysis thread may write the ring while this frame is drawn.
        data = coach.ring.filled().copy()
        if data.shape[0] == 0:
            return math.nan
        t = data[:, 0]
        self.ankle.setData(t, data[:, _COL["ankle_sagittal_deg"]])
        if self.show_segments:
            self.shin.setData(t, data[:, _COL["shin_inclination_deg"]])
            self.foot.setData(t, data[:, _COL["foot_pitch_deg"]])
        now = float(t[-1])
        x0 = now - self.window_s
        legend = "ankle angle"
        if self.show_segments:
            legend = (
                f"<span style='color:{self.theme.ankle}'>ankle</span> · "
                f"<span style='color:{self.theme.shin}'>shin inclination</span> · "
                f"<span style='color:{self.theme.foot}'>foot pitch</span>"
            )
        if legend != getattr(self, "_legend_html", None):
            self._legend_html = legend
            self.legend.setHtml(f"<span style='color:{self.theme.muted}'>{legend}</span>")
        top = 45.0 if not self.inverted else -55.0
        self.legend.setPos(x0 + 0.2, top)
        self._shade(coach, x0, now)
        self.setXRange(x0, now + 0.05 * self.window_s / 20.0, padding=0)
        return now

    def _shade(self, coach: CoachState, x0: float, now: float) -> None:
        th = self.theme
        spans: list[tuple[float, float, str]] = []
        for rv in reversed(coach.reps):
            r = rv.rep
            if r.t_end_s < x0:
                break
            spans += [
                (r.t_start_s, r.t_rise_end_s, th.rise),
                (r.t_rise_end_s, r.t_hold_end_s, th.hold),
                (r.t_hold_end_s, r.t_lower_end_s, th.lower),
            ]
        if coach.rep_in_progress is not None and not math.isnan(coach.phase_t_s):
            colour = {"rise": th.rise, "hold": th.hold, "lower": th.lower}.get(coach.phase)
            if colour:
                spans.append((coach.phase_t_s, now, colour))
        for h in reversed(coach.holds):
            if h.t_end_s < x0:
                break
            spans.append((h.t_start_s, h.t_end_s, th.hold))
        if coach.hold_active() and coach.hold is not None:
            spans.append((coach.hold.t_start_s, now, th.hold))
        spans = [s for s in spans if s[1] >= x0 and s[1] > s[0]][: self.POOL]
        for reg, (a, b, colour) in zip(self._regions, spans):
            reg.setRegion((max(a, x0), b))
            reg.setBrush(_rgba(colour, 55))
            reg.setVisible(True)
        for reg in self._regions[len(spans) :]:
            if reg.isVisible():
                reg.setVisible(False)

    def visible_spans(self) -> int:
        return sum(r.isVisible() for r in self._regions)
