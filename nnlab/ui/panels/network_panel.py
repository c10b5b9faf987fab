"""Network panel: input box, hidden layers (add/remove), activation; for a scene that names a model file, which of
its outputs (or the scene's objective) is drawn, while the architecture (the file's) is shown but not edited."""
from __future__ import annotations

from PySide6 import QtWidgets

from nnlab.app.document import Document
from nnlab.engine.model import activations
from nnlab.ui.forms import combo, set_quiet, spin_float, spin_int

MAX_LAYERS = 12


class NetworkPanel(QtWidgets.QWidget):
    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        lay = QtWidgets.QFormLayout(self)
        self.natural = QtWidgets.QCheckBox("target's natural domain")
        self.natural.setToolTip("Unchecked: the box below; checked: the target's own domain ([0,1]² without a target)")
        lay.addRow("Domain", self.natural)
        self.box = [spin_float(-1e4, 1e4, v, 2, 0.5) for v in (0.0, 1.0, 0.0, 1.0)]
        for s in self.box:
            s.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)
        for label, (a, b) in (("x1 from/to", self.box[:2]), ("x2 from/to", self.box[2:])):
            row = QtWidgets.QHBoxLayout()
            row.addWidget(a)
            row.addWidget(b)
            lay.addRow(label, row)
        self.layers_box = QtWidgets.QVBoxLayout()
        self.layer_spins: list[QtWidgets.QSpinBox] = []
        lay.addRow("Hidden widths", self.layers_box)
        btns = QtWidgets.QHBoxLayout()
        self.add_btn = QtWidgets.QPushButton("+ layer")
        self.del_btn = QtWidgets.QPushButton("− layer")
        for b in (self.add_btn, self.del_btn):
            b.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)
        btns.addWidget(self.add_btn)
        btns.addWidget(self.del_btn)
        lay.addRow("", btns)
        self.activation = combo([(a, a) for a in activations.names()])
        lay.addRow("Activation", self.activation)
        self.output = QtWidgets.QComboBox()
        self.output.setToolTip("Which output of the model file is drawn and optimised (or the scene's objective c^T y)")
        self.output_label = QtWidgets.QLabel("Output")
        lay.addRow(self.output_label, self.output)
        self._objective: tuple[float, ...] | None = None  # the scene's objective, offered after picking an output
        self.summary = QtWidgets.QLabel()
        lay.addRow(self.summary)

        self.natural.toggled.connect(self._apply_box)
        for s in self.box:
            s.valueChanged.connect(self._apply_box)
        self.add_btn.clicked.connect(self.add_layer)
        self.del_btn.clicked.connect(self.remove_layer)
        self.activation.currentIndexChanged.connect(
            lambda: self.doc.update("network", activation=self.activation.currentData()))
        self.output.currentIndexChanged.connect(self._apply_output)
        doc.loaded.connect(self._forget_objective)
        doc.scene_changed.connect(self.sync)
        doc.network_changed.connect(self.sync)
        self.sync()

    def sync(self) -> None:
        net = self.doc.scene.network
        set_quiet(self.natural, net.lower is None)
        lo, hi = self.doc.scene.domain()
        for s, v in zip(self.box, (lo[0], hi[0], lo[1], hi[1]) if len(lo) >= 2 else (0, 1, 0, 1)):
            set_quiet(s, v)
            s.setEnabled(net.lower is not None)
        while len(self.layer_spins) < len(net.hidden):
            s = spin_int(1, 4096, 1)
            s.valueChanged.connect(self._apply_layers)
            self.layer_spins.append(s)
            self.layers_box.addWidget(s)
        while len(self.layer_spins) > len(net.hidden):
            s = self.layer_spins.pop()
            s.setParent(None)
            s.deleteLater()
        for s, w in zip(self.layer_spins, net.hidden):
            set_quiet(s, w)
        if self.activation.findData(net.activation) < 0:  # a model file's own slope (leaky_relu:0.2)
            self.activation.addItem(net.activation, net.activation)
        set_quiet(self.activation, net.activation)
        fixed = bool(net.model)  # a model file's architecture is the file's
        for w in (*self.layer_spins, self.activation):
            w.setEnabled(not fixed)
        self.del_btn.setEnabled(not fixed and len(net.hidden) > 1)
        self.add_btn.setEnabled(not fixed and len(net.hidden) < MAX_LAYERS)
        self._sync_output()
        widths = "-".join(str(w) for w in (net.input_dim, *net.hidden, 1))
        self.summary.setText(f"{widths}  ·  {self.doc.net.n_params:,} parameters")

    def _sync_output(self) -> None:
        """The Output combo: y0 .. y{k-1} and the scene's objective, for a model file with several outputs."""
        net = self.doc.scene.network
        k = self.doc.model_outputs()
        if net.objective is not None:
            self._objective = net.objective
        items = [(str(j), f"y{j}") for j in range(k)]
        if self._objective is not None and len(self._objective) == k:
            items.append(("objective", self.doc.objective_label(self._objective)))
        self.output.blockSignals(True)
        try:
            if [(self.output.itemData(i), self.output.itemText(i)) for i in range(self.output.count())] != items:
                self.output.clear()
                for data, label in items:
                    self.output.addItem(label, data)
            current = "objective" if net.objective is not None else str(net.output or 0)
            self.output.setCurrentIndex(max(0, self.output.findData(current)))
        finally:
            self.output.blockSignals(False)
        shown = k > 1
        self.output.setEnabled(shown)
        self.output.setVisible(shown)
        self.output_label.setVisible(shown)

    def _apply_output(self) -> None:
        choice = self.output.currentData()
        if choice is None:
            return
        if choice == "objective":
            self.doc.update("network", output=None, objective=self._objective)
        else:
            self.doc.update("network", output=int(choice), objective=None)

    def _forget_objective(self, _path: str = "") -> None:
        """A newly opened scene offers its own objective only."""
        self._objective = self.doc.scene.network.objective
        self.sync()

    def _apply_box(self) -> None:
        if self.natural.isChecked():
            self.doc.update("network", lower=None, upper=None)
        else:
            v = [s.value() for s in self.box]
            self.doc.update("network", lower=(v[0], v[2]), upper=(v[1], v[3]))
        self.sync()

    def _apply_layers(self) -> None:
        self.doc.update("network", hidden=tuple(s.value() for s in self.layer_spins))

    def add_layer(self) -> None:
        h = self.doc.scene.network.hidden
        self.doc.update("network", hidden=(*h, h[-1]))

    def remove_layer(self) -> None:
        h = self.doc.scene.network.hidden
        if len(h) > 1:
            self.doc.update("network", hidden=h[:-1])
