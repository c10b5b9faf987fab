"""A progress bar that repaints asynchronously.

QProgressBar.setValue repaints synchronously; in a window holding a QOpenGLWidget every repaint recomposes the
whole window (tens of ms with software GL), so a bar updated during training stalled the event loop. This one only
schedules a paint.
"""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets


class ProgressBar(QtWidgets.QWidget):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._min, self._max, self._value = 0, 100, 0
        self._text = ""
        self.setMinimumHeight(22)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)

    def setRange(self, lo: int, hi: int) -> None:  # noqa: N802 - Qt naming, a drop-in for QProgressBar
        self._min, self._max = int(lo), max(int(lo), int(hi))
        self.update()

    def setValue(self, v: int) -> None:  # noqa: N802
        self._value = int(min(max(v, self._min), self._max))
        self.update()

    def value(self) -> int:
        return self._value

    def maximum(self) -> int:
        return self._max

    def setFormat(self, text: str) -> None:  # noqa: N802 - "%v" and "%m" as in QProgressBar
        self._text = text
        self.setToolTip(self.text() if len(text) > 40 else "")  # the whole line when the bar is too narrow for it
        self.update()

    def text(self) -> str:
        return self._text.replace("%v", str(self._value)).replace("%m", str(self._max))

    def paintEvent(self, ev: QtGui.QPaintEvent) -> None:  # noqa: N802
        p = QtGui.QPainter(self)
        pal = self.palette()
        r = self.rect().adjusted(0, 0, -1, -1)
        p.setPen(pal.color(QtGui.QPalette.ColorRole.Mid))
        p.setBrush(pal.color(QtGui.QPalette.ColorRole.Base))
        p.drawRoundedRect(r, 3, 3)
        span = self._max - self._min
        frac = 0.0 if span <= 0 else (self._value - self._min) / span
        if frac > 0:
            fill = QtCore.QRectF(r.x() + 1, r.y() + 1, (r.width() - 1) * frac, r.height() - 1)
            p.setPen(QtCore.Qt.PenStyle.NoPen)
            p.setBrush(QtGui.QColor(63, 127, 191))
            p.drawRoundedRect(fill, 3, 3)
        p.setPen(pal.color(QtGui.QPalette.ColorRole.Text))
        text = p.fontMetrics().elidedText(self.text(), QtCore.Qt.TextElideMode.ElideRight, max(r.width() - 8, 0))
        p.drawText(r, QtCore.Qt.AlignmentFlag.AlignCenter, text)  # a narrow dock: cut at the end, never the start
        p.end()
