"""The device panel: the sensors of the session, their links, and scanning for new ones.

The upper table shows each sensor of the running source: placement, connection state
(``reconnecting`` stands out), battery, effective rate, loss and sample counts, refreshed from
:class:`~companion.ui.coach.CoachState` on the window's slow timer. The lower part scans for
sensors (through :mod:`companion.sources.ble` when it is installed), lets the user assign
each found sensor to shin/foot and left/right — remembered per address in ``QSettings`` — and
asks the window to connect to the chosen pair.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from companion.sources.base import LinkState
from companion.ui.coach import DeviceStatus
from companion.ui.theme import Theme

__all__ = ["DevicePanel", "FoundSensor"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundSensor:
    """A sensor seen by a scan."""

    address: str
    name: str
    family: str
    rssi_dbm: float | None = None


STATE_TEXT = {
    LinkState.SCANNING: "scanning…",
    LinkState.CONNECTING: "connecting…",
    LinkState.CONFIGURING: "configuring…",
    LinkState.STREAMING: "streaming",
    LinkState.RECONNECTING: "reconnecting…",
    LinkState.DISCONNECTED: "disconnected",
    LinkState.FAILED: "failed",
}


def _fmt(v: float | None, spec: str, unit: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:{spec}} {unit}"


class DevicePanel(QWidget):
    """Sensor table + scan/assign; emits :attr:`connect_requested` with the assignment."""

    connect_requested = Signal(list)
    """``list[tuple[FoundSensor, str segment, str side]]`` the user chose."""

    COLUMNS = ("sensor", "state", "battery", "rate", "loss", "samples", "gaps")

    def __init__(
        self,
        theme: Theme,
        settings: QSettings,
        *,
        scan: Callable[[float], Awaitable[list[FoundSensor]]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setMinimumWidth(470)
        self.theme = theme
        self._settings = settings
        self._scan_fn = scan
        self.found: list[FoundSensor] = []
        lay = QVBoxLayout(self)
        title = QLabel("<b>Sensors in this session</b>")
        lay.addWidget(title)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(90)
        lay.addWidget(self.table)
        self.state_label = QLabel("")
        self.state_label.setWordWrap(True)
        lay.addWidget(self.state_label)

        lay.addWidget(QLabel("<b>Find sensors</b>"))
        row = QHBoxLayout()
        self.scan_button = QPushButton("Scan for sensors")
        self.scan_button.setToolTip("Look for supported sensors nearby for 5 s")
        row.addWidget(self.scan_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setVisible(False)
        self.progress.setMaximumWidth(120)
        row.addWidget(self.progress)
        row.addStretch(1)
        lay.addLayout(row)
        self.found_table = QTableWidget(0, 4)
        self.found_table.setHorizontalHeaderLabels(["sensor", "segment", "side", "address"])
        self.found_table.verticalHeader().setVisible(False)
        self.found_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.found_table.setMinimumHeight(90)
        lay.addWidget(self.found_table)
        self.scan_message = QLabel(
            "Strap one sensor on the shin and one on the top of the foot, switch them on, "
            "then scan."
        )
        self.scan_message.setWordWrap(True)
        lay.addWidget(self.scan_message)
        self.connect_button = QPushButton("Use these sensors")
        self.connect_button.setEnabled(False)
        lay.addWidget(self.connect_button)
        lay.addStretch(1)
        self.scan_button.clicked.connect(self._on_scan_clicked)
        self.connect_button.clicked.connect(self._on_connect_clicked)
        self._scan_task: Any = None

    # -- the session's sensors --------------------------------------------------------------------
    def update_from(self, devices: dict[str, DeviceStatus]) -> None:
        items = list(devices.values())
        if self.table.rowCount() != len(items):
            self.table.setRowCount(len(items))
        notes = []
        for i, d in enumerate(items):
            state = STATE_TEXT.get(d.state, str(d.state))
            vals = (
                d.info.sensor_id,
                state,
                _fmt(d.battery_pct, ".0f", "%"),
                _fmt(d.effective_rate_hz, ".0f", "Hz"),
                _fmt(d.loss_pct, ".1f", "%"),
                str(d.samples),
                str(d.gaps),
            )
            for j, v in enumerate(vals):
                cell = self.table.item(i, j)
                if cell is None:
                    cell = QTableWidgetItem(v)
                    self.table.setItem(i, j, cell)
                elif cell.text() != v:
                    cell.setText(v)
                if j == 1:
                    colour = {
                        LinkState.STREAMING: self.theme.good,
                        LinkState.RECONNECTING: self.theme.warn,
                        LinkState.FAILED: self.theme.bad,
                    }.get(d.state, self.theme.muted)
                    cell.setForeground(QColor(colour))
            if d.message and d.state != LinkState.STREAMING:
                notes.append(d.message)
        text = " ".join(notes)
        if self.state_label.text() != text:
            self.state_label.setText(text)

    def reconnecting(self, devices: dict[str, DeviceStatus]) -> list[str]:
        return [k for k, d in devices.items() if d.state == LinkState.RECONNECTING]

    # -- scanning and assignment ----------------------------------------------------------------
    def _on_scan_clicked(self) -> None:
        import asyncio

        if self._scan_fn is None:
            self.scan_message.setText(
                "Scanning needs Bluetooth support (companion.sources.ble), which this build "
                "does not have; use `companion live --simulate` to try the window."
            )
            return
        self.scan_button.setEnabled(False)
        self.progress.setVisible(True)
        self.scan_message.setText("Scanning for 5 s…")
        self._scan_task = asyncio.ensure_future(self._scan())

    async def _scan(self) -> None:
        assert self._scan_fn is not None
        try:
            found = await self._scan_fn(5.0)
        except Exception as exc:
            self.scan_message.setText(f"Scanning failed: {exc}")
            found = []
        else:
            self.scan_message.setText(
                f"Found {len(found)} sensor(s). Assign shin and foot, then press "
                "'Use these sensors'."
                if found
                else "No sensors found: switch them on, bring them closer and scan again."
            )
        finally:
            self.scan_button.setEnabled(True)
            self.progress.setVisible(False)
        self.show_found(found)

    def show_found(self, found: list[FoundSensor]) -> None:
        self.found = list(found)
        self.found_table.setRowCount(len(found))
        for i, f in enumerate(found):
            self.found_table.setItem(i, 0, QTableWidgetItem(f"{f.name or '?'} ({f.family})"))
            self.found_table.setItem(i, 3, QTableWidgetItem(f.address))
            remembered = str(self._settings.value(f"assign/{f.address}", "") or "")
            seg0, _, side0 = remembered.partition("/")
            seg = QComboBox()
            seg.addItems(["–", "shin", "foot"])
            seg.setCurrentText(seg0 if seg0 in ("shin", "foot") else "–")
            side = QComboBox()
            side.addItems(["left", "right"])
            side.setCurrentText(side0 if side0 in ("left", "right") else "left")
            seg.currentTextChanged.connect(self._assignment_changed)
            side.currentTextChanged.connect(self._assignment_changed)
            self.found_table.setCellWidget(i, 1, seg)
            self.found_table.setCellWidget(i, 2, side)
        self._assignment_changed()

    def assignment(self) -> list[tuple[FoundSensor, str, str]]:
        out = []
        for i, f in enumerate(self.found):
            seg = self.found_table.cellWidget(i, 1)
            side = self.found_table.cellWidget(i, 2)
            if isinstance(seg, QComboBox) and isinstance(side, QComboBox):
                if seg.currentText() in ("shin", "foot"):
                    out.append((f, seg.currentText(), side.currentText()))
        return out

    def _assignment_changed(self, *_: object) -> None:
        chosen = self.assignment()
        for f, seg, side in chosen:
            self._settings.setValue(f"assign/{f.address}", f"{seg}/{side}")
        segs = sorted(seg for _, seg, _ in chosen)
        sides = {side for _, _, side in chosen}
        ok = segs == ["foot", "shin"] and len(sides) == 1
        self.connect_button.setEnabled(ok)
        if chosen and not ok:
            self.scan_message.setText(
                "Assign exactly one shin and one foot sensor on the same leg."
            )

    def _on_connect_clicked(self) -> None:
        self.connect_requested.emit(self.assignment())


def set_alignment(item: QTableWidgetItem) -> None:  # pragma: no cover - tiny helper
    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
