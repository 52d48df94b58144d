"""Light and dark palettes: one set of named colours for the widgets and the plot.

Colours were picked for contrast on both backgrounds and for colour-blind safety in the
verdict trio (green/amber/red differ in lightness as well as hue).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

__all__ = ["DARK", "LIGHT", "THEMES", "Theme", "apply_theme"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Theme:
    name: str
    background: str
    panel: str
    text: str
    muted: str
    grid: str
    accent: str
    good: str
    warn: str
    bad: str
    ankle: str
    shin: str
    foot: str
    band: str
    rise: str
    hold: str
    lower: str


LIGHT = Theme(
    name="light",
    background="#fbfbfa",
    panel="#eceae6",
    text="#1d1d1f",
    muted="#5f6368",
    grid="#d5d3cf",
    accent="#1f6fd1",
    good="#2e8b3e",
    warn="#c77800",
    bad="#c8322b",
    ankle="#1d1d1f",
    shin="#8e44ad",
    foot="#16a085",
    band="#5f6368",
    rise="#f0b429",
    hold="#2e8b3e",
    lower="#1f6fd1",
)

DARK = Theme(
    name="dark",
    background="#17191c",
    panel="#24272b",
    text="#ececec",
    muted="#9aa0a6",
    grid="#3a3e44",
    accent="#4c9aff",
    good="#4caf50",
    warn="#f0a020",
    bad="#e5534b",
    ankle="#f2f2f2",
    shin="#c39bd3",
    foot="#48c9b0",
    band="#c0c4c9",
    rise="#f0b429",
    hold="#4caf50",
    lower="#4c9aff",
)

THEMES = {"light": LIGHT, "dark": DARK}


def apply_theme(app: QApplication, theme: Theme) -> None:
    """Set the application palette from ``theme`` (Fusion style for consistency)."""
    app.setStyle("Fusion")
    pal = QPalette()
    bg, panel, text = QColor(theme.background), QColor(theme.panel), QColor(theme.text)
    pal.setColor(QPalette.ColorRole.Window, bg)
    pal.setColor(QPalette.ColorRole.WindowText, text)
    pal.setColor(QPalette.ColorRole.Base, panel if theme.name == "dark" else QColor("#ffffff"))
    pal.setColor(QPalette.ColorRole.AlternateBase, panel)
    pal.setColor(QPalette.ColorRole.Text, text)
    pal.setColor(QPalette.ColorRole.Button, panel)
    pal.setColor(QPalette.ColorRole.ButtonText, text)
    pal.setColor(QPalette.ColorRole.ToolTipBase, panel)
    pal.setColor(QPalette.ColorRole.ToolTipText, text)
    pal.setColor(QPalette.ColorRole.Highlight, QColor(theme.accent))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    pal.setColor(QPalette.ColorRole.PlaceholderText, QColor(theme.muted))
    app.setPalette(pal)
