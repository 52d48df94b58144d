"""PySide6 6.12.0 on Python 3.11 aborts ("none_dealloc") after many QPainter calls; we pin 6.11.3.

This test makes 100 000 ``QPainter.setPen`` calls offscreen, which is what the window's
painted widgets do over a session. On an affected build the process aborts and the test run
fails loudly; on the pinned build it passes in well under a second.
"""

from __future__ import annotations

import PySide6
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen


def test_pinned_pyside6_version() -> None:
    assert PySide6.__version__ == "6.11.3", "update tests/ui/test_qt_regression.py with the pin"


def test_100k_setpen_calls_do_not_abort(qapp) -> None:
    img = QImage(64, 64, QImage.Format.Format_ARGB32)
    img.fill(Qt.GlobalColor.white)
    p = QPainter(img)
    pens = [QPen(QColor(c), 1) for c in ("#ff0000", "#00ff00", "#0000ff")]
    for i in range(100_000):
        p.setPen(pens[i % 3])
        if i % 1000 == 0:
            p.drawPoint(i % 64, (i // 64) % 64)
    p.setPen(QPen(QColor("#123456"), 1))
    p.drawPoint(5, 5)
    p.end()
    assert img.pixelColor(5, 5).name() == "#123456"
