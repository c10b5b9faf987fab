"""Dark and light themes (style sheets in resources/styles) and the text size (Ctrl +/- and Lecture view).

A theme is applied to everything the user sees: the widgets (the style sheet), the pyqtgraph plots of the panels
(background, axes, tick text: plots are not styled by style sheets) and the plots made later (pyqtgraph's
configured colours).
"""
from __future__ import annotations

from PySide6 import QtGui, QtWidgets

from nnlab import bundled

RESOURCES = bundled.root()  # the bundled files: package data in an installed nnlab
THEMES = ("dark", "light")
BASE_POINT_SIZE = 10.0
MIN_POINT_SIZE, MAX_POINT_SIZE = 7.0, 32.0
LECTURE_CAPTION_SCALE = 2.2  # the Lecture view's caption and results, relative to the base text

# window background, text, plot axes (as in the style sheets)
PALETTES = {"dark": {"bg": "#1e2027", "fg": "#e6e8ee", "axis": "#aeb3bf"},
            "light": {"bg": "#f5f6f8", "fg": "#1d1f24", "axis": "#4a4f5a"}}


def style_sheet(name: str) -> str:
    """The theme's style sheet, its image urls made absolute (check marks and spin-box arrows)."""
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r}; allowed: {', '.join(THEMES)}")
    qss = RESOURCES / "styles" / f"{name}.qss"
    sheet = qss.read_text(encoding="utf-8") if qss.exists() else ""
    return sheet.replace("@STYLES@", (RESOURCES / "styles").as_posix())


def apply_theme(app: QtWidgets.QApplication, name: str, point_size: float = BASE_POINT_SIZE) -> None:
    """Style sheet of the theme plus the base font size, then the plots of every window."""
    sheet = style_sheet(name)
    app.setStyleSheet(sheet + f"\n* {{ font-size: {point_size:.1f}pt; }}"  # (a style sheet beats setFont)
                      f"\nQLabel#keysOverlay {{ font-size: {1.5 * point_size:.1f}pt; }}")
    font = QtGui.QFont(app.font())
    font.setPointSizeF(point_size)
    app.setFont(font)
    import pyqtgraph as pg

    pg.setConfigOption("foreground", PALETTES[name]["axis"])  # plots made later start in the theme
    for w in app.topLevelWidgets():
        style_plots(w, name, point_size)


def style_plots(root: QtWidgets.QWidget, name: str, point_size: float = BASE_POINT_SIZE) -> None:
    """Recolour and resize the text of every pyqtgraph plot under `root`: axes, tick labels, titles, legends.
    Views that own their background (set_background, e.g. the heatmap) keep it; the others take the theme's."""
    import pyqtgraph as pg

    pal = PALETTES[name]
    tick_font = QtGui.QFont(QtWidgets.QApplication.font())
    tick_font.setPointSizeF(point_size)
    for gv in root.findChildren(pg.GraphicsView):
        if not hasattr(gv, "set_background"):
            gv.setBackground(pal["bg"])
        for item in gv.scene().items():
            if isinstance(item, pg.AxisItem):
                item.setPen(pal["axis"])
                item.setTextPen(pal["fg"])
                item.setTickFont(tick_font)
                item.label.setFont(tick_font)
            elif isinstance(item, pg.LabelItem):
                item.setAttr("color", pal["fg"])
                item.setText(item.text)
            elif isinstance(item, pg.LegendItem):
                item.setLabelTextColor(pal["fg"])
                item.setLabelTextSize(f"{point_size:.1f}pt")
