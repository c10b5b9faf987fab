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


class FloatEdit(QtWidgets.QLineEdit):
    """A float field that never changes a value by displaying it: it shows `value` to 6 significant digits (the
    exact value in its tooltip) and returns it exactly until the user edits the text; then it returns what they
    typed, parsed (1e-12 stays 1e-12, where a 6-decimal spin box would say 0.0). `valueChanged` fires on user edits
    only, once the text is a number inside [lo, hi]."""

    valueChanged = QtCore.Signal(float)

    def __init__(self, lo: float = -1e12, hi: float = 1e12, value: float = 0.0,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._lo, self._hi = float(lo), float(hi)
        self._value = float(value)
        self.touched = False
        self._show(self._value)
        self.textEdited.connect(self._edited)
        self.editingFinished.connect(self._finished)

    def _show(self, v: float) -> None:
        self.setText(f"{v:.6g}")
        self.setToolTip(repr(v))
        self.setStyleSheet("")

    def _parse(self) -> float | None:
        try:
            v = float(self.text().strip())
        except ValueError:
            return None
        return v if self._lo <= v <= self._hi else None

    def _edited(self, _text: str) -> None:
        self.touched = True
        ok = self._parse() is not None
        self.setStyleSheet("" if ok else "color: #ff6b5e")
        self.setToolTip(f"a number from {self._lo:g} to {self._hi:g}" if not ok else self.text().strip())

    def _finished(self) -> None:
        v = self._parse()
        if not self.touched:
            return
        if v is None:  # not a number: back to the last valid value
            self._show(self._value)
            return
        if v != self._value:
            self._value = v
            self.valueChanged.emit(v)

    def value(self) -> float:
        """The exact value: as set, or as the user typed it (the text once it parses)."""
        if self.touched:
            v = self._parse()
            if v is not None:
                return v
        return self._value

    def setValue(self, v: float) -> None:
        """Set by the program (model -> view): exact, not an edit."""
        self._value = float(v)
        self.touched = False
        self._show(self._value)

    def minimum(self) -> float:
        return self._lo

    def maximum(self) -> float:
        return self._hi


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
        if isinstance(w, FloatEdit):
            w.setValue(value)
        elif isinstance(w, QtWidgets.QAbstractButton):
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


NARROW_PX = 48  # a field may shrink to this (its text scrolls inside it) rather than widen a narrow dock


def narrow_form(lay: QtWidgets.QFormLayout) -> None:
    """A form that fits a narrow dock at any text size: a field goes under its label when both do not fit on one
    line (Qt's WrapLongRows)."""
    lay.setRowWrapPolicy(QtWidgets.QFormLayout.RowWrapPolicy.WrapLongRows)


def fit_form(lay: QtWidgets.QFormLayout | None, room: int) -> None:
    """Labels beside their fields when every label and its field fit `room` pixels side by side at their natural
    widths, else every label above its field (a field squeezed beside a long label cut its value)."""
    if not isinstance(lay, QtWidgets.QFormLayout):
        return
    gap = max(lay.horizontalSpacing(), 6)
    need = 0
    for r in range(lay.rowCount()):
        label = lay.itemAt(r, QtWidgets.QFormLayout.ItemRole.LabelRole)
        fld = lay.itemAt(r, QtWidgets.QFormLayout.ItemRole.FieldRole)
        if label is not None and fld is not None:
            need = max(need, label.sizeHint().width() + gap + fld.sizeHint().width())
    m = lay.contentsMargins()
    wrap = need + m.left() + m.right() > room
    policy = QtWidgets.QFormLayout.RowWrapPolicy
    want = policy.WrapAllRows if wrap else policy.WrapLongRows
    if lay.rowWrapPolicy() != want:
        lay.setRowWrapPolicy(want)


def wrap_labels(lay: QtWidgets.QFormLayout) -> None:
    """The form's number, text and choice fields may be narrower than their widest value: with a big text (Ctrl +)
    a spin box's "-1000000000" made the form wider than its dock, which then scrolled sideways (fit_form puts
    them under their labels first). Labels keep one line: a word-wrapped label in a form made its height follow
    its narrowest width (an empty band under the form)."""
    for r in range(lay.rowCount()):
        for role in (QtWidgets.QFormLayout.ItemRole.LabelRole, QtWidgets.QFormLayout.ItemRole.FieldRole,
                     QtWidgets.QFormLayout.ItemRole.SpanningRole):
            item = lay.itemAt(r, role)
            w = item.widget() if item is not None else None
            if isinstance(w, (QtWidgets.QAbstractSpinBox, QtWidgets.QLineEdit, QtWidgets.QComboBox)):
                w.setMinimumWidth(NARROW_PX)


class DataclassForm(QtWidgets.QWidget):
    """Editable fields of a dataclass with defaults: bool -> check box, int -> spin box, float -> FloatEdit,
    str -> line edit. Only what the user changed (or the scene set) is sent: an untouched field sends nothing, so
    the method's own default applies exactly."""

    changed = QtCore.Signal()

    def __init__(self, cls: type | None, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.cls = cls
        self.editors: dict[str, QtWidgets.QWidget] = {}
        self._touched: set[str] = set()
        self._given: dict[str, Any] = {}
        lay = QtWidgets.QFormLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        narrow_form(lay)
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
            self._track(f.name, ed)
            if not isinstance(ed, FloatEdit):
                ed.setToolTip(str(f.metadata.get("help", f"{f.name} (default {default!r})")))
            self.editors[f.name] = ed
            lay.addRow(f.name.replace("_", " "), ed)
        wrap_labels(lay)

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
            w = FloatEdit(float(meta.get("min", -1e12)), float(meta.get("max", 1e12)), float(default or 0.0))
            w.valueChanged.connect(self.changed)
            return w
        if tp is str or isinstance(default, str):
            w = QtWidgets.QLineEdit(str(default or ""))
            w.editingFinished.connect(self.changed)
            return w
        return None  # tuples/dicts stay at their defaults

    def _track(self, name: str, ed: QtWidgets.QWidget) -> None:
        """Remember which fields the user changed (programmatic updates block signals: see set_quiet)."""
        mark = lambda *_a, n=name: self._touched.add(n)  # noqa: E731
        if isinstance(ed, FloatEdit):
            ed.textEdited.connect(mark)
        elif isinstance(ed, QtWidgets.QCheckBox):
            ed.toggled.connect(mark)
        elif isinstance(ed, QtWidgets.QSpinBox):
            ed.valueChanged.connect(mark)
        elif isinstance(ed, QtWidgets.QComboBox):
            ed.currentIndexChanged.connect(mark)
        elif isinstance(ed, QtWidgets.QLineEdit):
            ed.textEdited.connect(mark)

    def values(self) -> dict[str, Any]:
        """The parameters to send: those the scene set (exactly as given) and those the user edited (as typed)."""
        out: dict[str, Any] = dict(self._given)
        for name in self._touched:
            ed = self.editors[name]
            if isinstance(ed, QtWidgets.QCheckBox):
                v: Any = ed.isChecked()
            elif isinstance(ed, (QtWidgets.QSpinBox, FloatEdit)):
                v = ed.value()
            elif isinstance(ed, QtWidgets.QComboBox):
                v = ed.currentData()
            else:
                v = ed.text()
            out[name] = v
        return out

    def set_values(self, values: dict[str, Any]) -> None:
        """Show the scene's parameters; they are sent as given until the user edits them."""
        self._given = dict(values)
        self._touched.clear()
        for k, v in values.items():
            if k in self.editors:
                set_quiet(self.editors[k], v)
