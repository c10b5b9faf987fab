"""Lecture mode helpers: the overlay listing the keys (H)."""
from __future__ import annotations

from PySide6 import QtWidgets

KEYS = (("Space", "new sample (next seed)"), ("T", "train / pause"), ("S", "one training step"),
        ("O", "run the optimizer"), ("R", "auto-rotate"), ("PgUp / PgDn", "previous / next preset"),
        ("2 / 3 / C", "2-D heatmap / 3-D / compare"), ("F11", "full screen"), ("Ctrl + / Ctrl -", "bigger / smaller text"),
        ("P", "presenter profile (hide panels)"), ("H", "this help"), ("Ctrl+Q", "quit"))


class KeysOverlay(QtWidgets.QLabel):
    """A centred card over the view listing the lecture keys; H shows and hides it."""

    def __init__(self, parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("keysOverlay")
        self.setText("<h2>Keys</h2><table>" + "".join(
            f"<tr><td><b>{k}</b>&nbsp;&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in KEYS) + "</table>")
        self.hide()

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
            return
        self.adjustSize()
        parent = self.parentWidget()
        self.move((parent.width() - self.width()) // 2, (parent.height() - self.height()) // 2)
        self.raise_()
        self.show()
