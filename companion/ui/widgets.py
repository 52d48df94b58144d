"""The coaching widgets: rep counter, tempo bars, pacing cue, hold timer, warning banner.

Each is a small ``QWidget`` painted with ``QPainter`` from plain values the window hands it on
its redraw timer (:meth:`update_from`); none of them reads the stream or does analysis.
Sizes are in device-independent pixels and fonts scale with the window's font, so they stay
readable at 1280×720 and on HiDPI screens.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from companion.scoring import PhaseTarget
from companion.ui.coach import RepView, Verdict
from companion.ui.theme import Theme

__all__ = ["HoldTimer", "PacingCue", "RepCounter", "TempoBars", "WarningBanner"]


def _font(widget: QWidget, scale: float, *, bold: bool = False) -> QFont:
    f = QFont(widget.font())
    f.setPointSizeF(max(6.0, widget.font().pointSizeF() * scale))
    f.setBold(bold)
    return f


class _Painted(QWidget):
    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.update()


class RepCounter(_Painted):
    """The big counter: a caption ("Calf raises · set 2 of 3") over a large number with its
    suffix ("/ 20 reps")."""

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(theme, parent)
        self.caption, self.number, self.suffix = "", 0, ""
        self.setMinimumHeight(120)

    def sizeHint(self) -> QSize:
        return QSize(300, 130)

    def update_from(self, caption: str, number: int, suffix: str) -> None:
        if (caption, number, suffix) != (self.caption, self.number, self.suffix):
            self.caption, self.number, self.suffix = caption, number, suffix
            self.update()

    @property
    def text(self) -> str:
        return f"{self.caption}: {self.number} {self.suffix}"

    def paintEvent(self, event: object) -> None:
        p = QPainter(self)
        t = self.theme
        r = self.rect().adjusted(4, 4, -4, -4)
        p.setPen(QColor(t.muted))
        p.setFont(_font(self, 1.2, bold=True))
        p.drawText(
            QRectF(r.x(), r.y(), r.width(), 26),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            self.caption,
        )
        p.setPen(QColor(t.text))
        p.setFont(_font(self, 4.6, bold=True))
        big = QRectF(r.x(), r.y() + 26, r.width(), r.height() - 26)
        p.drawText(
            big, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{self.number}"
        )
        w = p.fontMetrics().horizontalAdvance(f"{self.number}")
        p.setPen(QColor(t.muted))
        p.setFont(_font(self, 2.0))
        p.drawText(
            QRectF(r.x() + w + 10, r.y() + 26, r.width() - w - 10, r.height() - 26),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            self.suffix,
        )
        p.end()


class TempoBars(_Painted):
    """The last reps of the set: rise, hold and lowering times against target, in colour.

    One row per rep, newest at the top: three bars on a shared seconds scale, each coloured
    green (on target), amber (a little off) or red (rushed lowering / no hold), with the
    target drawn as a tick on each bar.
    """

    ROWS = 8

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(theme, parent)
        self.reps: list[RepView] = []
        self.targets: tuple[PhaseTarget | None, ...] = (None, None, None)
        self.setMinimumHeight(60 + 24 * self.ROWS)

    def sizeHint(self) -> QSize:
        return QSize(300, 60 + 24 * self.ROWS)

    def update_from(self, reps: list[RepView], targets: tuple[PhaseTarget | None, ...]) -> None:
        last = reps[-self.ROWS :]
        if [id(r) for r in last] != [id(r) for r in self.reps] or targets != self.targets:
            self.reps = list(last)
            self.targets = targets
            self.update()

    def _colour(self, v: Verdict) -> QColor:
        t = self.theme
        return QColor(
            {Verdict.OK: t.good, Verdict.SHORT: t.bad, Verdict.LONG: t.warn}.get(v, t.muted)
        )

    def paintEvent(self, event: object) -> None:
        p = QPainter(self)
        t = self.theme
        r = self.rect().adjusted(4, 2, -4, -2)
        p.setFont(_font(self, 1.0, bold=True))
        p.setPen(QColor(t.text))
        p.drawText(QRectF(r.x(), r.y(), r.width(), 22), Qt.AlignmentFlag.AlignLeft, "Tempo per rep")
        label_w = 34.0
        col_w = (r.width() - label_w) / 3.0
        heads = ("rise", "hold", "lowering")
        p.setFont(_font(self, 0.85))
        p.setPen(QColor(t.muted))
        for i, (h, tgt) in enumerate(zip(heads, self.targets)):
            p.drawText(
                QRectF(r.x() + label_w + i * col_w, r.y() + 20, col_w - 6, 18),
                Qt.AlignmentFlag.AlignLeft,
                f"{h} {tgt.describe()}" if tgt is not None else h,
            )
        scale_s = (3.0, 3.0, 6.0)  # seconds at full bar width per column
        y = r.y() + 42.0
        row_h = 22.0
        if not self.reps:
            p.setPen(QColor(t.muted))
            p.drawText(
                QRectF(r.x(), y, r.width(), row_h * 2),
                Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap,
                "Each finished rep appears here with its rise, hold and lowering times.",
            )
            p.end()
            return
        for rv in reversed(self.reps):
            rep = rv.rep
            p.setPen(QColor(t.muted))
            p.setFont(_font(self, 0.9))
            p.drawText(
                QRectF(r.x(), y, label_w, row_h),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                f"#{rep.rep_index + 1}",
            )
            vals = (rep.rise_s, rep.hold_s, rep.lower_s)
            verdicts = (rv.rise, rv.hold, rv.lower)
            for i, (val, ver, tgt) in enumerate(zip(vals, verdicts, self.targets)):
                x0 = r.x() + label_w + i * col_w
                w_full = col_w - 8
                w = max(2.0, min(1.0, val / scale_s[i]) * w_full)
                if tgt is not None:  # the accepted range, lightly
                    lo = min(1.0, tgt.min_s / scale_s[i]) * w_full
                    hi = (
                        min(1.0, tgt.max_s / scale_s[i]) * w_full
                        if math.isfinite(tgt.max_s)
                        else w_full
                    )
                    ok = QColor(t.good)
                    ok.setAlpha(45)
                    p.fillRect(QRectF(x0 + lo, y + 1, max(1.0, hi - lo), row_h - 2), ok)
                bar = QRectF(x0, y + 5, w, row_h - 10)
                p.fillRect(bar, self._colour(ver))
                if tgt is not None:
                    mark = tgt.target_s if tgt.target_s is not None else tgt.max_s
                    if math.isfinite(mark):
                        tx = x0 + min(1.0, mark / scale_s[i]) * w_full
                        p.setPen(QPen(QColor(t.text), 2))
                        p.drawLine(int(tx), int(y + 1), int(tx), int(y + row_h - 1))
                p.setPen(QColor(t.text))
                p.setFont(_font(self, 0.85))
                p.drawText(
                    QRectF(x0 + 3, y, w_full, row_h),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    f"{val:.1f}",
                )
            if rep.partial:
                p.setPen(QColor(t.warn))
                p.drawText(
                    QRectF(r.x(), y, r.width(), row_h),
                    Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                    "partial",
                )
            y += row_h
        p.end()


class PacingCue(_Painted):
    """A bar the eye can follow: it fills over the prescribed time of the phase in progress.

    During the lowering it fills over the target (3 s) with the seconds counted out; reaching
    the bottom before it is full means the rep was rushed. During the top hold it fills over
    the hold target; during the rise it says "up", at rest "ready".
    """

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(theme, parent)
        self.phase, self.elapsed_s, self.target_s = "rest", 0.0, 0.0
        self.setMinimumHeight(64)

    def sizeHint(self) -> QSize:
        return QSize(600, 70)

    def update_from(self, phase: str, elapsed_s: float, target_s: float) -> None:
        new = (phase, round(elapsed_s, 2), target_s)
        if new != (self.phase, round(self.elapsed_s, 2), self.target_s):
            self.phase, self.elapsed_s, self.target_s = phase, elapsed_s, target_s
            self.update()

    @property
    def text(self) -> str:
        if self.phase == "lower":
            n = min(int(self.elapsed_s) + 1, max(1, math.ceil(self.target_s)))
            count = " ".join(str(i) for i in range(1, n + 1))
            return f"Lower slowly … {count}"
        if self.phase == "hold":
            return "Hold at the top"
        if self.phase == "rise":
            return "Up quickly"
        if self.phase == "done":
            return "Session done: the report is on the left (S toggles it)"
        if self.phase == "calibrating":
            return "Calibrating: see above"
        return "Ready: rise when you are"

    @property
    def fraction(self) -> float:
        if self.target_s <= 0 or self.phase not in ("lower", "hold"):
            return 0.0
        return min(1.0, self.elapsed_s / self.target_s)

    def paintEvent(self, event: object) -> None:
        p = QPainter(self)
        t = self.theme
        r = QRectF(self.rect().adjusted(4, 4, -4, -4))
        p.fillRect(r, QColor(t.panel))
        colour = {"lower": t.accent, "hold": t.good, "rise": t.warn}.get(self.phase, t.muted)
        if self.phase in ("lower", "hold") and self.target_s > 0:
            fill = QRectF(r.x(), r.y(), r.width() * self.fraction, r.height())
            c = QColor(colour)
            c.setAlpha(200)
            p.fillRect(fill, c)
            # second ticks
            p.setPen(QPen(QColor(t.text), 1))
            for s in range(1, math.ceil(self.target_s)):
                x = r.x() + r.width() * s / self.target_s
                p.drawLine(int(x), int(r.bottom() - 10), int(x), int(r.bottom()))
        p.setPen(QColor(t.text))
        p.setFont(_font(self, 1.8, bold=True))
        p.drawText(r.adjusted(12, 0, -12, 0), Qt.AlignmentFlag.AlignVCenter, self.text)
        p.end()


class HoldTimer(_Painted):
    """The stretch timer: seconds in position against the target, running only while the
    angle stays in position; shows the knee (straight/bent) and the held angle."""

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(theme, parent)
        self.seconds, self.target_s = 0.0, 30.0
        self.active, self.in_position = False, False
        self.knee, self.angle_deg = "", math.nan
        self.setMinimumHeight(120)

    def sizeHint(self) -> QSize:
        return QSize(300, 130)

    def update_from(
        self,
        seconds: float,
        target_s: float,
        *,
        active: bool,
        in_position: bool,
        knee: str,
        angle_deg: float,
    ) -> None:
        new = (round(seconds, 1), target_s, active, in_position, knee, round(angle_deg, 0))
        old = (
            round(self.seconds, 1),
            self.target_s,
            self.active,
            self.in_position,
            self.knee,
            round(self.angle_deg, 0),
        )
        if new != old:
            self.seconds, self.target_s = seconds, target_s
            self.active, self.in_position = active, in_position
            self.knee, self.angle_deg = knee, angle_deg
            self.update()

    @property
    def text(self) -> str:
        return f"{self.seconds:.0f} / {self.target_s:g} s"

    def paintEvent(self, event: object) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        t = self.theme
        r = self.rect().adjusted(6, 6, -6, -6)
        d = min(r.height(), 110)
        ring = QRectF(r.x(), r.y() + (r.height() - d) / 2, d, d).adjusted(6, 6, -6, -6)
        p.setPen(QPen(QColor(t.grid), 10))
        p.drawEllipse(ring)
        frac = 0.0 if self.target_s <= 0 else min(1.0, self.seconds / self.target_s)
        colour = t.good if (self.in_position or not self.active) else t.warn
        p.setPen(QPen(QColor(colour), 10, c=Qt.PenCapStyle.RoundCap))
        p.drawArc(ring, 90 * 16, int(-frac * 360 * 16))
        p.setPen(QColor(t.text))
        p.setFont(_font(self, 2.0, bold=True))
        p.drawText(ring, Qt.AlignmentFlag.AlignCenter, f"{self.seconds:.0f}")
        x = ring.right() + 18
        p.setFont(_font(self, 1.4, bold=True))
        p.drawText(QRectF(x, r.y() + 4, r.width() - x, 30), Qt.AlignmentFlag.AlignLeft, self.text)
        if self.active:
            status = "in position" if self.in_position else "timer paused: back into position"
        else:
            status = "stretch done" if self.seconds > 0 else "lean in to start the stretch"
        p.setFont(_font(self, 1.0))
        p.setPen(QColor(colour if self.active else t.muted))
        p.drawText(QRectF(x, r.y() + 38, r.width() - x, 24), Qt.AlignmentFlag.AlignLeft, status)
        p.setPen(QColor(t.muted))
        extra = self.knee
        if not math.isnan(self.angle_deg):
            extra = f"{extra} · {self.angle_deg:.0f}° dorsiflexion".lstrip(" ·")
        p.drawText(
            QRectF(x, r.y() + 64, r.width() - x, 40),
            Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap,
            extra,
        )
        p.end()


class WarningBanner(QLabel):
    """The active warnings as sentences on a red band, word-wrapped; hidden when none."""

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.lines: list[str] = []
        self.setWordWrap(True)
        self.setVisible(False)
        self._style()

    def _style(self) -> None:
        f = _font(self, 1.15, bold=True)
        self.setFont(f)
        self.setStyleSheet(
            f"QLabel {{ background: {self.theme.bad}; color: white; padding: 8px; "
            "border-radius: 4px; }"
        )

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self._style()

    def update_from(self, lines: list[str]) -> None:
        if lines != self.lines:
            self.lines = list(lines)
            self.setText("\n".join("⚠ " + line for line in self.lines))
            self.setVisible(bool(self.lines))
