"""The target part of the training panel: registry target with a preview, an expression validated as you type,
CSV import."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from nnlab.app.document import Document
from nnlab.app.errors import describe
from nnlab.engine.model.targets import TARGETS
from nnlab.ui.forms import combo, set_quiet
from nnlab.ui.thumbs import heat_pixmap


def _targets() -> list[tuple[str, str]]:
    return [("none", "none (untrained)"), *((e.name, e.label) for e in TARGETS), ("expression", "custom expression"),
            ("csv", "CSV data")]


class TargetBox(QtWidgets.QWidget):
    expr_state_changed = QtCore.Signal(bool)  # the typed expression became acceptable (True) or refused (False)

    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        form = QtWidgets.QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.target = combo(_targets())
        form.addRow("Target", self.target)
        self.preview = QtWidgets.QLabel()
        self.preview.setFixedSize(96, 96)
        self.about = QtWidgets.QLabel()
        self.about.setWordWrap(True)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.preview)
        row.addWidget(self.about, 1)
        form.addRow(row)
        self.expr = QtWidgets.QLineEdit()
        self.expr.setPlaceholderText("e.g. sin(3*x) * cos(2*y)")
        self.expr_msg = QtWidgets.QLabel()
        self.expr_msg.setWordWrap(True)
        self.expr_msg.setStyleSheet("color: #e0564a")
        form.addRow("f(x, y) =", self.expr)
        form.addRow(self.expr_msg)
        self.csv_btn = QtWidgets.QPushButton("Import CSV…")
        form.addRow("", self.csv_btn)
        self.target.currentIndexChanged.connect(self._target_chosen)
        self.expr.textChanged.connect(self._check_expr)
        self.expr.returnPressed.connect(self.apply_expr)
        self.expr.editingFinished.connect(self.apply_expr)
        self.csv_btn.clicked.connect(self._import_csv)
        doc.target_changed.connect(self._preview)
        doc.scene_changed.connect(self.sync)
        self.sync()
        self._preview()

    def sync(self) -> None:
        t = self.doc.scene.target
        set_quiet(self.target, t.name)
        set_quiet(self.expr, t.expression)
        self.expr.setEnabled(t.name == "expression")

    def _preview(self) -> None:
        name = self.doc.scene.target.name
        z = self.doc.target_grid()
        if z is None:
            self.preview.clear()
        else:
            self.preview.setPixmap(heat_pixmap(z, 96, self.doc.scene.camera.colormap))
        desc = {"none": "No target: the network stays as initialized.", "expression": "Your formula in x and y.",
                "csv": f"Samples from {self.doc.scene.target.csv or 'a CSV file'} (columns x1, x2, y)."}.get(name)
        if desc is None:
            e = TARGETS.get(name)
            desc = f"{e.label}: {e.description}" if e.description else e.label
        lo, hi = self.doc.scene.domain()
        self.about.setText(f"{desc}\nDomain [{lo[0]:g}, {hi[0]:g}] × [{lo[1]:g}, {hi[1]:g}]")

    def _target_chosen(self) -> None:
        name = self.target.currentData()
        if name == "expression":
            text = self.expr.text().strip() or "sin(3*x) * cos(2*y)"
            set_quiet(self.expr, text)
            self.doc.update("target", name="expression", expression=text)
        elif name == "csv":
            if not self._import_csv():
                self.sync()
        else:
            self.doc.update("target", name=name)

    def _check_expr(self, text: str) -> None:
        from nnlab.engine.model.expression import check_expression

        msg = check_expression(text) if text.strip() else "type an expression in x and y"
        self.expr_msg.setText("" if msg is None else f"{msg} (training is off until it is fixed)")
        self.expr.setStyleSheet("" if msg is None else "border: 2px solid #e0564a")
        self.expr_state_changed.emit(msg is None)

    def refused(self) -> bool:
        """The target is a custom expression and the text typed is not one (Train must not use the old one)."""
        from nnlab.engine.model.expression import check_expression

        if self.target.currentData() != "expression":
            return False
        text = self.expr.text().strip()
        return not text or check_expression(text) is not None

    def apply_expr(self) -> None:
        from nnlab.engine.model.expression import check_expression

        text = self.expr.text().strip()
        if self.target.currentData() != "expression" or not text or check_expression(text) is not None:
            return
        if text != self.doc.scene.target.expression:
            self.doc.update("target", name="expression", expression=text)

    def _import_csv(self) -> bool:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Import samples", "", "CSV files (*.csv);;All files (*)")
        if not path:
            return False
        return self.load_csv(path)

    def load_csv(self, path: str) -> bool:
        from nnlab.engine.model.csvdata import load_csv_samples

        try:
            load_csv_samples(path)
        except Exception as e:  # noqa: BLE001 - see nnlab.app.errors.describe
            self.doc.error.emit(describe(e))
            return False
        return self.doc.update("target", name="csv", csv=path)
