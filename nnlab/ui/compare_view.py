"""Compare: two surface views side by side with linked cameras (orbit one, the other follows)."""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from nnlab.ui.surface_view import SurfaceView


class CompareView(QtWidgets.QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        lay.addWidget(self.split)
        self.views: list[SurfaceView] = []
        self.titles: list[QtWidgets.QLabel] = []
        for _ in range(2):
            box = QtWidgets.QWidget()
            v = QtWidgets.QVBoxLayout(box)
            v.setContentsMargins(0, 0, 0, 0)
            v.setSpacing(0)
            title = QtWidgets.QLabel()
            title.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            title.setObjectName("compareTitle")
            title.setWordWrap(True)
            title.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
            view = SurfaceView()
            v.addWidget(title)
            v.addWidget(view, 1)
            self.split.addWidget(box)
            self.views.append(view)
            self.titles.append(title)
        a, b = self.views
        a.camera_changed.connect(lambda: self._follow(a, b))
        b.camera_changed.connect(lambda: self._follow(b, a))

    @staticmethod
    def _follow(src: SurfaceView, dst: SurfaceView) -> None:
        if dst.camera() != src.camera():
            dst.set_camera(*src.camera())

    def set_title(self, side: int, text: str) -> None:
        self.titles[side].setText(text)

    def render_image(self, width: int, height: int) -> np.ndarray:
        """Both views side by side in one (height, width, 4) image."""
        left = self.views[0].render_image(width // 2, height)
        right = self.views[1].render_image(width - width // 2, height)
        return np.concatenate([left, right], axis=1)
