"""Initialization panel: scheme and its parameters, bias rule, seed, and "New sample" (next seed)."""
from __future__ import annotations

from PySide6 import QtWidgets

from nnlab.engine.model.inits import INITS
from nnlab.app.choices import field_choices
from nnlab.app.document import Document
from nnlab.engine.model.scene import InitSpec
from nnlab.ui.forms import combo, set_quiet, spin_float, spin_int


class InitPanel(QtWidgets.QWidget):
    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        lay = QtWidgets.QFormLayout(self)
        self.scheme = combo([(e.name, e.label) for e in INITS])
        lay.addRow("Scheme", self.scheme)
        self.about = QtWidgets.QLabel()
        self.about.setWordWrap(True)
        lay.addRow(self.about)
        self.gain = spin_float(0.0, 100.0, 1.0, 3, 0.1)
        self.scale = spin_float(0.0, 100.0, 0.1, 4, 0.01)
        lay.addRow("Gain", self.gain)
        lay.addRow("Scale", self.scale)
        self.bias = combo([(b, b) for b in field_choices(InitSpec, "bias")])
        self.bias_value = spin_float(-100.0, 100.0, 0.0, 4, 0.01)
        lay.addRow("Bias", self.bias)
        lay.addRow("Bias value", self.bias_value)
        self.seed = spin_int(0, 2**31 - 1, 1)
        lay.addRow("Seed", self.seed)
        self.new_sample = QtWidgets.QPushButton("New sample  (Space)")
        self.new_sample.setToolTip("Next seed: a fresh network from the same distribution")
        lay.addRow(self.new_sample)

        self.scheme.currentIndexChanged.connect(lambda: self.doc.update("init", scheme=self.scheme.currentData()))
        self.gain.valueChanged.connect(lambda v: self.doc.update("init", gain=v))
        self.scale.valueChanged.connect(lambda v: self.doc.update("init", scale=v))
        self.bias.currentIndexChanged.connect(lambda: self.doc.update("init", bias=self.bias.currentData()))
        self.bias_value.valueChanged.connect(lambda v: self.doc.update("init", bias_value=v))
        self.seed.valueChanged.connect(lambda v: self.doc.update("init", seed=v))
        self.new_sample.clicked.connect(self.next_seed)
        doc.scene_changed.connect(self.sync)
        self.sync()

    def next_seed(self) -> None:
        self.doc.next_seed()

    def sync(self) -> None:
        s = self.doc.scene.init
        entry = INITS.get(s.scheme)
        set_quiet(self.scheme, s.scheme)
        self.about.setText(entry.description)
        set_quiet(self.gain, s.gain)
        set_quiet(self.scale, s.scale)
        self.gain.setEnabled("gain" in entry.flags)
        self.scale.setEnabled("scale" in entry.flags)
        set_quiet(self.bias, s.bias)
        set_quiet(self.bias_value, s.bias_value)
        self.bias_value.setEnabled(s.bias in ("constant", "uniform", "normal"))
        set_quiet(self.seed, s.seed)
