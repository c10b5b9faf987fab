"""Lecture helpers: the keys overlay (H), the guard that keeps one-key shortcuts out of text fields, and the caption
of the Lecture view.

The overlay lists the window's own shortcut actions (never a hand-kept list), so it and the menus always name the
same keys.
"""
from __future__ import annotations

import html

from PySide6 import QtCore, QtGui, QtWidgets

# fields that take typed text or numbers: a key typed there is text, never a command
TEXT_FIELDS = (QtWidgets.QLineEdit, QtWidgets.QAbstractSpinBox, QtWidgets.QTextEdit, QtWidgets.QPlainTextEdit)
COMMAND_MODIFIERS = (QtCore.Qt.KeyboardModifier.ControlModifier | QtCore.Qt.KeyboardModifier.AltModifier
                     | QtCore.Qt.KeyboardModifier.MetaModifier)
LECTURE_TICK_PX_1080 = 30  # tick labels of the Lecture view, in pixels on a 1080-pixel-high screen


def is_text_field(w: QtWidgets.QWidget | None) -> bool:
    """A focused widget that types text (an editable combo box counts: its line edit has the focus)."""
    return isinstance(w, TEXT_FIELDS) and w.isEnabled()


def is_typed_key(ev: QtGui.QKeyEvent) -> bool:
    """A key a text field uses: no Ctrl/Alt/Meta, and neither a function key nor Escape (F11 stays a command)."""
    if ev.modifiers() & COMMAND_MODIFIERS:
        return False
    key = ev.key()
    return not (QtCore.Qt.Key.Key_F1 <= key <= QtCore.Qt.Key.Key_F35 or key == QtCore.Qt.Key.Key_Escape)


class TypingGuard(QtCore.QObject):
    """Application event filter: while a text or number field has the focus, the keys it types (letters, digits,
    Space, PgUp/PgDn, Home/End...) go to the field and never fire a window shortcut. Qt asks the focus widget with a
    ShortcutOverride event before firing a shortcut; accepting it sends the key to the widget instead (QLineEdit
    already claims printable keys, QAbstractSpinBox does not claim PgUp/PgDn, and other helpers' fields may not)."""

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:  # noqa: N802 (Qt's name)
        if ev.type() == QtCore.QEvent.Type.ShortcutOverride and is_typed_key(ev) \
                and is_text_field(QtWidgets.QApplication.focusWidget()):
            ev.accept()
            return True
        return False


def install_typing_guard(app: QtWidgets.QApplication) -> TypingGuard:
    """One guard per application (it lives as the application's child)."""
    guard = app.findChild(TypingGuard, "typingGuard")
    if guard is None:
        guard = TypingGuard(app)
        guard.setObjectName("typingGuard")
        app.installEventFilter(guard)
    return guard


def action_keys(a: QtGui.QAction) -> str:
    return " / ".join(s.toString(QtGui.QKeySequence.SequenceFormat.NativeText) for s in a.shortcuts())


def action_label(a: QtGui.QAction) -> str:
    return a.text().replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


class KeysOverlay(QtWidgets.QLabel):
    """A centred card over the view listing every shortcut of `actions` (H shows and hides it)."""

    def __init__(self, parent: QtWidgets.QWidget, actions: list[QtGui.QAction]) -> None:
        super().__init__(parent)
        self.setObjectName("keysOverlay")
        self.actions_shown = actions
        self.hide()

    def entries(self) -> list[tuple[str, str]]:
        """(keys, what they do) of every action with a shortcut."""
        return [(action_keys(a), action_label(a)) for a in self.actions_shown if a.shortcuts()]

    def _fill(self) -> None:
        rows = self.entries()
        half = (len(rows) + 1) // 2  # two columns: the list fits a 768-pixel-high screen
        cells = []
        for i in range(half):
            pair = [rows[i]] + ([rows[i + half]] if i + half < len(rows) else [])
            cells.append("<tr>" + "".join(f"<td><b>{html.escape(k)}</b>&nbsp;&nbsp;</td><td>{html.escape(v)}"
                                          "&nbsp;&nbsp;&nbsp;&nbsp;</td>" for k, v in pair) + "</tr>")
        self.setText("<h2>Keys</h2><table>" + "".join(cells) + "</table>")

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
            return
        self._fill()
        self.adjustSize()
        parent = self.parentWidget()
        self.move(max(0, (parent.width() - self.width()) // 2), max(0, (parent.height() - self.height()) // 2))
        self.raise_()
        self.show()


class LectureCaption(QtWidgets.QLabel):
    """The Lecture view's caption over the surface: what is on screen (the scene and network) and the latest
    result (training progress, optimizer result), in large type."""

    def __init__(self, parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("lectureCaption")
        self.setWordWrap(True)
        self.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self.hide()

    def show_text(self, caption: str, result: str) -> None:
        text = f"<b>{html.escape(caption)}</b>" + (f"<br>{html.escape(result)}" if result else "")
        if text != self.text():
            self.setText(text)
            self.place()

    def place(self) -> None:
        """Top left, on as few lines as fit in 70% of the view's width (a word-wrapped label picks a narrow
        column on its own)."""
        parent = self.parentWidget()
        widest = max(200, int(parent.width() * 0.7))
        self.setWordWrap(False)
        self.setMinimumWidth(0)
        self.setMaximumWidth(16777215)
        natural = self.sizeHint().width()
        self.setWordWrap(natural > widest)
        self.setFixedWidth(min(natural, widest))
        self.adjustSize()
        self.move(16, 12)
        self.raise_()


def lecture_tick_points(screen: QtGui.QScreen | None) -> float:
    """Tick label size of the Lecture view in points: LECTURE_TICK_PX_1080 pixels at 1080p, in proportion on other
    screens (logical pixels: at 4K with a 2x scale the labels are as large on the wall)."""
    if screen is None:
        return LECTURE_TICK_PX_1080 * 72.0 / 96.0
    px = LECTURE_TICK_PX_1080 * max(0.6, screen.geometry().height() / 1080.0)
    return px * 72.0 / screen.logicalDotsPerInchY()
