"""Compare: two surface views side by side with linked cameras (orbit one, the other follows)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtWidgets

from nnlab.app.document import Document
from nnlab.app.errors import describe
from nnlab.ui.surface_view import SurfaceWindow
from nnlab.ui.worker import TaskSlot


class CompareView(QtWidgets.QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        lay.addWidget(self.split)
        self.slot = TaskSlot(self)
        self.other: Document | None = None
        self.views: list[SurfaceWindow] = []
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
            view = SurfaceWindow()
            v.addWidget(title)
            v.addWidget(view.widget, 1)
            self.split.addWidget(box)
            self.views.append(view)
            self.titles.append(title)
        a, b = self.views
        a.camera_changed.connect(lambda: self._follow(a, b))
        b.camera_changed.connect(lambda: self._follow(b, a))

    @staticmethod
    def _follow(src: SurfaceWindow, dst: SurfaceWindow) -> None:
        if dst.camera() != src.camera():
            dst.set_camera(*src.camera())

    def set_title(self, side: int, text: str) -> None:
        self.titles[side].setText(text)

    def render_image(self, width: int, height: int) -> np.ndarray:
        """Both views side by side in one (height, width, 4) image."""
        left = self.views[0].render_image(width // 2, height)
        right = self.views[1].render_image(width - width // 2, height)
        return np.concatenate([left, right], axis=1)

    def show_pair(self, doc: Document, path: str | None, on_error) -> bool:
        """Show `doc` left and the scene at `path` (default: doc's `compare` field) right; False if it cannot load."""
        target = path or doc.scene.compare
        if not target:
            self.other = None
            self.set_title(1, "(no comparison scene: set compare = \"other.toml\" in the scene file)")
        else:
            other = Document()
            other.error.connect(on_error)
            full = doc.scene.resolve_path(target) if path is None else Path(path)
            if not other.load(full):  # (its error went to on_error) nothing of the old partner stays on screen
                self.clear_other(f"cannot show the comparison scene {target}")
                return False
            self.other = other
            self.set_title(1, other.caption())
            self._train_other(other, on_error)
        self.set_title(0, doc.caption())
        half = max(1, self.split.width() // 2)
        self.split.setSizes([half, half])
        self.views[0].set_surface(doc.xs, doc.ys, doc.z)
        if self.other is not None:
            self.views[1].set_surface(self.other.xs, self.other.ys, self.other.z)
        return True

    def clear_other(self, title: str = "") -> None:
        """Empty the right pane: no partner scene, no job training it, no surface."""
        self.slot.cancel()
        self.other = None
        self.views[1].clear()
        self.set_title(1, title)

    def _train_other(self, other: Document, on_error) -> None:
        self.slot.cancel()
        s = other.scene
        if not s.trains():
            return
        from nnlab.engine.train.training import TrainProgress

        view = self.views[1]

        def on_yield(ev) -> None:
            if isinstance(ev, TrainProgress) and ev.surface is not None:
                other.show_surface(ev.surface)
                view.set_surface(other.xs, other.ys, other.z)
                self.set_title(1, f"{other.caption()} — training, epoch {ev.epoch}/{ev.epochs}")

        def on_return(res) -> None:
            other.set_network(res.snapshot, surface=res.surface)
            view.set_surface(other.xs, other.ys, other.z)
            r2 = "" if res.val_r2 is None else f", val R² {res.val_r2:.3f}"
            self.set_title(1, other.caption() + r2)

        self.slot.start(other.train_job(), on_yield, on_return,
                        lambda e: on_error(f"training the comparison scene failed: {describe(e)}"), process=True)
