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


class _AngleAxis(pg.AxisItem):
    """The angle axis. Drawn upside down for calf raises (the line rises with the heel), its
    labels then read as plantarflexion, so the numbers grow upwards too."""

    negate = False

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if not self.negate:
            return super().tickStrings(values, scale, spacing)  # type: ignore[no-any-return]
        out = super().tickStrings([-v for v in values], scale, spacing)
        return [x if x not in ("-0", "-0.0") else x[1:] for x in out]


VIEWS = {
    # exercise: (y range, deg, drawn upside down, axis label)
    "calf_raise": ((-50.0, 15.0), True, "heel raise (plantarflexion), °"),
    "tibialis_raise": ((-20.0, 40.0), False, "toe raise (dorsiflexion), °"),
    "stretch": ((-25.0, 45.0), False, "dorsiflexion, °"),
}


class AnglePlot(pg.PlotWidget):
    """Ankle angle over the last ``window_s`` seconds, plus shin/foot inclination on demand.

    The time axis is fixed, in seconds before the newest sample (0 = now): only the curves
    and the shading move, so the axes and grid are painted once rather than every frame
    (scrolling axis labels cost most of a frame's painting, and moving numbers are harder
    to read while exercising)."""

    POOL = 48

    def __init__(self, theme: Theme, *, window_s: float = 20.0) -> None:
        self._angle_axis = _AngleAxis("left")
        super().__init__(axisItems={"left": self._angle_axis})
        self.theme = theme
        self._window_s = float(window_s)
        self.show_segments = False
        self.view_name = ""
        pi = self.getPlotItem()
        pi.setMenuEnabled(False)
        pi.hideButtons()
        self.setMouseEnabled(x=False, y=False)
        pi.showGrid(x=True, y=True, alpha=0.25)
        pi.setLabel("bottom", "seconds before now")
        self.inverted = False
        self._regions: list[pg.LinearRegionItem] = []
        self._region_colour: list[str] = []
        for _ in range(self.POOL):
            reg = pg.LinearRegionItem(movable=False, pen=pg.mkPen(None))
            reg.setZValue(-20)
            reg.setVisible(False)
            pi.addItem(reg, ignoreBounds=True)
            self._regions.append(reg)
            self._region_colour.append("")
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
        self._drawn_t = math.nan
        self._drawn_n = -1
        self.set_theme(theme)
        self.set_view("calf_raise")
        self._apply_x_range()

    @property
    def window_s(self) -> float:
        return self._window_s

    @window_s.setter
    def window_s(self, value: float) -> None:
        self._window_s = float(value)
        self._apply_x_range()
        self._drawn_t = math.nan  # redraw the curves at the new length

    def _apply_x_range(self) -> None:
        self.setXRange(-self._window_s, 0.05 * self._window_s / 20.0, padding=0)
        self._place_legend()

    def _place_legend(self) -> None:
        (lo, hi), _, _ = VIEWS.get(self.view_name, VIEWS["stretch"])
        self.legend.setPos(-self._window_s + 0.2, lo if self.inverted else hi)

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
        self.band.setBrush(_rgba(theme.band, 45))
        edge = pg.mkPen(_rgba(theme.band, 200), width=1, style=pg.QtCore.Qt.PenStyle.DashLine)
        for line in self.band.lines:
            line.setPen(edge)
        self.zero.setPen(pg.mkPen(theme.muted, width=1, style=pg.QtCore.Qt.PenStyle.DashLine))
        self._region_colour = [""] * self.POOL
        self._update_legend()

    def _update_legend(self) -> None:
        th = self.theme
        curves = "ankle angle"
        if self.show_segments:
            curves = (
                f"<span style='color:{th.ankle}'>ankle</span> · "
                f"<span style='color:{th.shin}'>shin inclination</span> · "
                f"<span style='color:{th.foot}'>foot pitch</span>"
            )
        if self.view_name == "stretch":
            phases = f"<span style='color:{th.hold}'>■</span> hold"
        else:
            phases = (
                f"<span style='color:{th.rise}'>■</span> rise "
                f"<span style='color:{th.hold}'>■</span> hold "
                f"<span style='color:{th.lower}'>■</span> lowering"
            )
        html = (
            f"<span style='color:{th.muted}'>{curves} &nbsp; {phases} "
            f"<span style='color:{th.band}'>▤</span> target range</span>"
        )
        if html != getattr(self, "_legend_html", None):
            self._legend_html = html
            self.legend.setHtml(html)

    def set_view(self, exercise: str) -> None:
        """Range, orientation and axis label for ``exercise`` (calf raises are drawn upside
        down so the line rises when the heels do, with plantarflexion labelled upwards)."""
        if exercise == self.view_name:
            return
        self.view_name = exercise
        (lo, hi), inverted, label = VIEWS.get(exercise, VIEWS["stretch"])
        pi = self.getPlotItem()
        if inverted != self.inverted:
            self.inverted = inverted
            pi.invertY(inverted)
            self._angle_axis.negate = inverted
            self._angle_axis.picture = None  # the tick labels change
        pi.setLabel("left", label)
        self.setYRange(lo, hi, padding=0)
        self._place_legend()
        self._update_legend()

    def set_calf_view(self, calf: bool) -> None:
        """Calf raises plot plantarflexion upwards (the line rises when the heels do)."""
        self.set_view("calf_raise" if calf else "stretch")

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
        self._drawn_t = math.nan
        self._update_legend()

    def redraw(self, coach: CoachState) -> float:
        """Update curves and shading from ``coach`` (the caller holds its lock); returns the
        newest drawn t_s. The curves are set again only when new rows arrived."""
        ring = coach.ring
        if len(ring) == 0:
            return math.nan
        now = ring.latest_t_s()
        if now != self._drawn_t or ring.total_written != self._drawn_n:
            data = ring.filled().copy()  # the curves keep their arrays: not the ring's
            x = data[:, 0] - now
            self.ankle.setData(x, data[:, _COL["ankle_sagittal_deg"]])
            if self.show_segments:
                self.shin.setData(x, data[:, _COL["shin_inclination_deg"]])
                self.foot.setData(x, data[:, _COL["foot_pitch_deg"]])
            self._drawn_t, self._drawn_n = now, ring.total_written
        self._shade(coach, now - self._window_s, now)
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
        for k, (reg, (a, b, colour)) in enumerate(zip(self._regions, spans)):
            reg.setRegion((max(a, x0) - now, b - now))
            if self._region_colour[k] != colour:
                self._region_colour[k] = colour
                reg.setBrush(_rgba(colour, 55))
            if not reg.isVisible():
                reg.setVisible(True)
        for reg in self._regions[len(spans) :]:
            if reg.isVisible():
                reg.setVisible(False)

    def visible_spans(self) -> int:
        return sum(r.isVisible() for r in self._regions)
