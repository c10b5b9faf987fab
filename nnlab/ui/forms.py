"""Forms generated from parameter dataclasses, so a newly registered method shows its parameters on its own."""
from __future__ import annotations

import dataclasses
import typing
from typing import Any

from PySide6 import QtCore, QtWidgets


def spin_int(lo: int = 0, hi: int = 10**9, value: int = 0) -> QtWidgets.QSpinBox:
    w = QtWidgets.QSpinBox()
    w.setRange(lo, hi)
    w.setValue(value)
    w.setKeyboardTracking(False)
    return w


def spin_float(lo: float = -1e9, hi: float = 1e9, value: float = 0.0, decimals: int = 4,
               step: float = 0.1) -> QtWidgets.QDoubleSpinBox:
    w = QtWidgets.QDoubleSpinBox()
    w.setDecimals(decimals)
    w.setRange(lo, hi)
    w.setSingleStep(step)
    w.setValue(value)
    w.setKeyboardTracking(False)
    return w


def combo(items: list[tuple[str, str]], current: str | None = None) -> QtWidgets.QComboBox:
    """A combo of (data, label) pairs."""
    w = QtWidgets.QComboBox()
    for data, label in items:
        w.addItem(label, data)
    if current is not None:
        set_combo(w, current)
    return w


def set_combo(w: QtWidgets.QComboBox, data: str) -> None:
    i = w.findData(data)
    if i >= 0 and i != w.currentIndex():
        w.blockSignals(True)
        w.setCurrentIndex(i)
        w.blockSignals(False)


def set_quiet(w: QtWidgets.QWidget, value: Any) -> None:
    """Set a widget's value without emitting change signals (model -> view sync)."""
    w.blockSignals(True)
    try:
        if isinstance(w, QtWidgets.QAbstractButton):
            w.setChecked(bool(value))
        elif isinstance(w, (QtWidgets.QSpinBox, QtWidgets.QDoubleSpinBox)):
            w.setValue(value)
        elif isinstance(w, QtWidgets.QLineEdit):
            if w.text() != value:
                w.setText(value)
        elif isinstance(w, QtWidgets.QComboBox):
            set_combo(w, value)
    finally:
        w.blockSignals(False)


class DataclassForm(QtWidgets.QWidget):
    """Editable fields of a dataclass with defaults: bool -> check box, int/float -> spin box, str -> line edit."""

    changed = QtCore.Signal()

    def __init__(self, cls: type | None, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.cls = cls
        self.editors: dict[str, QtWidgets.QWidget] = {}
        lay = QtWidgets.QFormLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        if cls is None:
            lay.addRow(QtWidgets.QLabel("(no parameters)"))
            return
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            ed = self._editor(hints.get(f.name), default, dict(f.metadata))
            if ed is None:
                continue
            ed.setToolTip(str(f.metadata.get("help", f"{f.name} (default {default!r})")))
            self.editors[f.name] = ed
            lay.addRow(f.name.replace("_", " "), ed)

    def _editor(self, tp: Any, default: Any, meta: dict) -> QtWidgets.QWidget | None:
        if "choices" in meta:
            w = combo([(c, str(c)) for c in meta["choices"]], default)
            w.currentIndexChanged.connect(self.changed)
            return w
        if tp is bool or isinstance(default, bool):
            w = QtWidgets.QCheckBox()
            w.setChecked(bool(default))
            w.toggled.connect(self.changed)
            return w
        if tp is int or (isinstance(default, int) and not isinstance(default, bool)):
            w = spin_int(int(meta.get("min", -10**9)), int(meta.get("max", 10**9)), int(default or 0))
            w.valueChanged.connect(self.changed)
            return w
        if tp is float or isinstance(default, float):
            w = spin_float(float(meta.get("min", -1e12)), float(meta.get("max", 1e12)), float(default or 0.0), 6)
            w.valueChanged.connect(self.changed)
            return w
        if tp is str or isinstance(default, str):
            w = QtWidgets.QLineEdit(str(default or ""))
            w.editingFinished.connect(self.changed)
            return w
        return None  # tuples/dicts stay at their defaults

    def values(self) -> dict[str, Any]:
        """Only the fields whose editor differs from the default (a compact params dict)."""
        out: dict[str, Any] = {}
        if self.cls is None:
            return out
        defaults = {f.name: f.default for f in dataclasses.fields(self.cls)}
        for name, ed in self.editors.items():
            if isinstance(ed, QtWidgets.QCheckBox):
                v: Any = ed.isChecked()
            elif isinstance(ed, (QtWidgets.QSpinBox, QtWidgets.QDoubleSpinBox)):
                v = ed.value()
            elif isinstance(ed, QtWidgets.QComboBox):
                v = ed.currentData()
            else:
                v = ed.text()
            if v != defaults.get(name):
                out[name] = v
        return out

    def set_values(self, values: dict[str, Any]) -> None:
        for k, v in values.items():
            if k in self.editors:
                set_quiet(self.editors[k], v)
