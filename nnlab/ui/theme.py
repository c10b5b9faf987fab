"""Dark and light themes (style sheets in resources/styles) and the lecture font size."""
from __future__ import annotations

from PySide6 import QtGui, QtWidgets

from nnlab import bundled

RESOURCES = bundled.root()  # the bundled files: package data in an installed nnlab
THEMES = ("dark", "light")
BASE_POINT_SIZE = 10.0


def apply_theme(app: QtWidgets.QApplication, name: str, point_size: float = BASE_POINT_SIZE) -> None:
    """Style sheet of the theme plus the base font size (Ctrl +/- in lecture mode)."""
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r}; allowed: {', '.join(THEMES)}")
    qss = RESOURCES / "styles" / f"{name}.qss"
    sheet = qss.read_text(encoding="utf-8") if qss.exists() else ""
    app.setStyleSheet(sheet + f"\n* {{ font-size: {point_size:.1f}pt; }}")
    font = QtGui.QFont(app.font())
    font.setPointSizeF(point_size)
    app.setFont(font)

