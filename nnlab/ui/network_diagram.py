"""The Network diagram dock: layers as columns of nodes, edges coloured by the sign of their weight and thickened by
its magnitude (TensorFlow Playground's network view), live while training.

It draws what nnlab.engine.analysis.diagram computes (which units a large layer shows, the "+n more" nodes and
bundled edges, the activation pattern shares) for the network on screen: the Document's network, or while training
the latest weights the trainer sent (TrainProgress.network). While training, the worker computes the diagram of
the live weights too (nnlab.app.training.LiveDiagram), and the redraw happens on the training panel's screen
refresh (TrainState.frame), in the same event-loop pass as the surface and curves: the window is composed once.
Redraws are throttled (REDRAW_MS) and skipped while the dock is hidden. A click on a hidden unit shows its surface in the big view (view.unit), on the output goes back
to the output; hovering a node shows its incoming weights and its active share in the line under the diagram and
as a tooltip.
"""
from __future__ import annotations

import time
from collections import deque

from PySide6 import QtCore, QtGui, QtWidgets

from nnlab.app.document import Document
from nnlab.engine.analysis.diagram import (MAX_SHOWN, Diagram, activation_shares, build_diagram, domain_sample,
                                           unit_info)
from nnlab.engine.model.network import NetSnapshot

REDRAW_MS = 250  # at most four redraws a second while training
CATCH_UP_MS = 800  # while training, live weights not drawn by a screen refresh (paused, Step) are drawn after this
POSITIVE = QtGui.QColor("#2f8fe0")  # Playground's convention: blue positive, orange negative
NEGATIVE = QtGui.QColor("#f08a24")
MAX_EDGE_PX = 6.0
MIN_EDGE_PX = 0.6
EDGE_STEPS = 8  # edge widths are drawn in this many steps
THEME_COLORS = {"dark": ("#1e2027", "#e6e8ee", "#3a3f4b", "#ffd54a"),  # background, text, node, selection
                "light": ("#ffffff", "#1d1f24", "#c9ccd3", "#d81b60")}


class _Canvas(QtWidgets.QGraphicsView):
    """The graphics view: reports the node under the mouse (hover) and clicked nodes by their index."""

    hovered = QtCore.Signal(int)  # node index, -1: none
    clicked = QtCore.Signal(int)
    resized = QtCore.Signal()

    def __init__(self, scene: QtWidgets.QGraphicsScene) -> None:
        super().__init__(scene)
        self.setMouseTracking(True)
        self.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumSize(260, 200)
        self._last = -1
        self.paint_ms: deque[float] = deque(maxlen=1000)  # how long the last paints took

    def node_at(self, pos: QtCore.QPoint) -> int:
        for item in self.items(pos):
            idx = item.data(0)
            if idx is not None:
                return int(idx)
        return -1

    def mouseMoveEvent(self, ev: QtGui.QMouseEvent) -> None:
        idx = self.node_at(ev.position().toPoint())
        if idx != self._last:
            self._last = idx
            self.hovered.emit(idx)
        super().mouseMoveEvent(ev)

    def leaveEvent(self, ev: QtCore.QEvent) -> None:
        if self._last != -1:
            self._last = -1
            self.hovered.emit(-1)
        super().leaveEvent(ev)

    def mousePressEvent(self, ev: QtGui.QMouseEvent) -> None:
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            idx = self.node_at(ev.position().toPoint())
            if idx >= 0:
                self.clicked.emit(idx)
                ev.accept()
                return
        super().mousePressEvent(ev)

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        super().resizeEvent(ev)
        self.resized.emit()

    def paintEvent(self, ev: QtGui.QPaintEvent) -> None:
        t0 = time.perf_counter()
        super().paintEvent(ev)
        self.paint_ms.append(1000.0 * (time.perf_counter() - t0))  # bench/ui_latency.py reports these


class NetworkDiagram(QtWidgets.QWidget):
    """The diagram of the network on screen; `diagram` is what it draws, `node_items[i]` draws diagram.nodes[i]."""

    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None, max_shown: int = MAX_SHOWN) -> None:
        super().__init__(parent)
        self.doc = doc
        self.max_shown = max_shown
        self.net: NetSnapshot = doc.shown_net()  # the network to show (the next redraw draws it)
        self.drawn_net: NetSnapshot = self.net  # the network `diagram` was built from
        self.diagram: Diagram | None = None
        self.shares: list = []
        self.node_items: list[QtWidgets.QGraphicsItem] = []
        self.edge_items: list[QtWidgets.QGraphicsPathItem] = []
        self.edge_pens: list[QtGui.QPen] = []  # the pen of diagram.edges[i]
        self.draws = 0  # how many times the diagram was drawn (throttling is tested on it)
        self.draw_ms: deque[float] = deque(maxlen=1000)  # how long the last redraws took (bench/ui_latency.py)
        self._sample_key: tuple | None = None
        self._pens: dict[tuple, QtGui.QPen] = {}
        self._bg = QtGui.QColor(THEME_COLORS["dark"][0])
        self._sample = None
        self._dirty = True
        self._clock = QtCore.QElapsedTimer()
        self._timer = QtCore.QTimer(self, singleShot=True)
        self._timer.timeout.connect(self._due)
        self.scene = QtWidgets.QGraphicsScene(self)
        self.canvas = _Canvas(self.scene)
        self.info = QtWidgets.QLabel("Hover a unit for its weights; click it to show its surface.")
        self.info.setWordWrap(True)
        self.info.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.info.setMinimumHeight(self.info.fontMetrics().lineSpacing() * 4)
        self.info.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.canvas, 1)
        lay.addWidget(self.info)
        self.canvas.hovered.connect(self._hover)
        self.canvas.clicked.connect(self._click)
        self.canvas.resized.connect(self.schedule)
        doc.network_changed.connect(self._new_network)
        doc.target_changed.connect(self.schedule)  # the domain (the share sample) may have changed
        doc.training.changed.connect(self._training)
        doc.view.changed.connect(self._view_changed)

    # ---- what is shown ------------------------------------------------------------------------------------
    def _new_network(self) -> None:
        self.net = self.doc.shown_net()
        self.schedule(now=True)

    def _training(self, name: str, value) -> None:
        """Live weights while training (Document.shown_net), drawn on the next screen refresh of the training
        ("frame"); the network on screen again when the run ends."""
        if name == "frame":
            if self._dirty and self.on_screen() and (not self._clock.isValid() or
                                                     self._clock.elapsed() >= REDRAW_MS * 0.8):
                self.redraw()
            return
        if (name == "last" and getattr(value, "network", None) is not None) or (name == "running" and not value):
            net = self.doc.shown_net()
            if net is not self.net:
                self.net = net
                self.schedule()

    def _view_changed(self, name: str, value) -> None:
        if name == "unit":
            self.schedule(now=True)
        elif name in ("theme", "point_size"):
            self.schedule(now=True)

    def schedule(self, now: bool = False) -> None:
        """Redraw soon: at once when `now` (a click, a new network) or REDRAW_MS after the last draw."""
        self._dirty = True
        if not self.on_screen():
            return  # drawn when shown (showEvent, or the first paint once its tab is in front)
        if self.doc.training.running and not now:  # drawn by the training's next screen refresh ("frame"); the
            if not self._timer.isActive():  # timer only catches up when none comes (paused, Step)
                self._timer.start(CATCH_UP_MS)
            return
        wait = 0 if now or not self._clock.isValid() else max(0, REDRAW_MS - self._clock.elapsed())
        if not self._timer.isActive() or wait == 0:
            self._timer.start(wait)

    def on_screen(self) -> bool:
        """Shown and not behind another tab (a tabified dock stays "visible" with an empty visible region)."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def showEvent(self, ev: QtGui.QShowEvent) -> None:
        super().showEvent(ev)
        if self._dirty:
            self.schedule(now=True)

    def paintEvent(self, ev: QtGui.QPaintEvent) -> None:  # exposed again (its tab brought to front): catch up
        super().paintEvent(ev)
        if self._dirty and not self._timer.isActive() and not self.doc.training.running:  # (training: its frames)
            self._timer.start(0)

    def _points(self):
        lo, hi = self.doc.domain()
        key = (tuple(lo), tuple(hi), self.net.input_dim)
        if key != self._sample_key:
            self._sample_key, self._sample = key, domain_sample(lo, hi)
        return self._sample

    # ---- drawing --------------------------------------------------------------------------------------------
    def _due(self) -> None:
        if self._dirty:
            self.redraw()

    def redraw(self) -> None:
        self._timer.stop()
        if not self.on_screen():
            self._dirty = True
            return
        t0 = time.perf_counter()
        try:
            self._draw()
        finally:
            self.draw_ms.append(1000.0 * (time.perf_counter() - t0))

    def _draw(self) -> None:
        self._clock.start()
        self._dirty = False
        self.draws += 1
        net = self.drawn_net = self.net
        unit = self.doc.view.unit
        keep = {unit[0] + 1: unit[1]} if unit is not None else {}
        live = self.doc.training.live_diagram
        lo, hi = self.doc.domain()
        if (live is not None and live.network is net and not keep and live.max_shown == self.max_shown and
                live.lower == tuple(map(float, lo)) and live.upper == tuple(map(float, hi))):
            d, self.shares = live.diagram, live.shares  # computed by the worker: the GUI only draws
            self.diagram = d
        else:
            d = self.diagram = build_diagram(net, self.max_shown, keep)
            self.shares = activation_shares(net, self._points())
        bg, fg, node_fill, sel = (QtGui.QColor(c) for c in THEME_COLORS.get(self.doc.view.theme, THEME_COLORS["dark"]))
        self._bg = bg
        self.scene.clear()
        self.node_items, self.edge_items = [], []
        self.scene.setBackgroundBrush(bg)
        vp = self.canvas.viewport().size()
        W, H = max(vp.width(), 200), max(vp.height(), 160)
        self.scene.setSceneRect(0, 0, W, H)
        font = QtGui.QFont(QtWidgets.QApplication.font())
        fm = QtGui.QFontMetricsF(font)
        top, bottom = fm.height() * 1.8, fm.height() * 0.6
        ncols = len(d.widths)
        per_col = [d.column_nodes(c) for c in range(ncols)]
        tallest = max(len(p) for p in per_col)
        slot = (H - top - bottom) / tallest
        radius = max(5.0, min(slot * 0.42, fm.height() * 1.1, (W / ncols) * 0.2))
        margin = max(radius + 4, fm.horizontalAdvance("inputs") / 2 + 4)
        xs = [margin + (W - 2 * margin) * c / max(1, ncols - 1) for c in range(ncols)]
        pos: dict[int, QtCore.QPointF] = {}
        for c, idxs in enumerate(per_col):
            h = slot * len(idxs)
            y0 = top + (H - top - bottom - h) / 2 + slot / 2
            for k, i in enumerate(idxs):
                pos[i] = QtCore.QPointF(xs[c], y0 + k * slot)
            room = (W - 2 * margin) / max(1, ncols - 1) - 8  # headers must not run into each other
            name = "inputs" if c == 0 else "output" if c == ncols - 1 else f"layer {c}"
            short = "in" if c == 0 else "out" if c == ncols - 1 else f"L{c}"
            label = next((t for t in (f"{name} ({d.widths[c]})", f"{short} ({d.widths[c]})", f"{short}")
                          if fm.horizontalAdvance(t) <= room), short)
            t = self.scene.addSimpleText(label, font)
            t.setBrush(fg)
            tw = fm.horizontalAdvance(label)
            t.setPos(min(max(2.0, xs[c] - tw / 2), W - tw - 2), 2)
        self.edge_pens = []
        buckets: dict[tuple[bool, int], QtGui.QPainterPath] = {}
        for e in d.edges:  # one path per (sign, width step): a few items paint much faster than one per edge
            frac = e.magnitude / d.max_magnitude if d.max_magnitude > 0 else 0.0
            key = (e.weight >= 0, min(EDGE_STEPS - 1, int(frac * EDGE_STEPS)))
            path = buckets.setdefault(key, QtGui.QPainterPath())
            a, b = pos[e.src], pos[e.dst]
            path.moveTo(a)
            path.lineTo(b)
            self.edge_pens.append(self._edge_pen(*key))
        for (positive, step), path in buckets.items():
            item = self.scene.addPath(path, self._edge_pen(positive, step))
            item.setZValue(-2 + step / EDGE_STEPS)  # strong edges on top of weak ones
            self.edge_items.append(item)
        small = QtGui.QFont(font)
        small.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
        for i, n in enumerate(d.nodes):
            p = pos[i]
            selected = (unit is not None and n.column == unit[0] + 1 and n.unit == unit[1]) or \
                       (unit is None and n.column == ncols - 1)
            fill = QtGui.QColor(node_fill)
            if 0 < n.column < ncols - 1 and n.unit is not None:  # brighter = active on more of the domain
                fill = _mix(node_fill, fg, float(self.shares[n.column - 1][n.unit]))
            if n.summary:
                w = max(2 * radius, fm.horizontalAdvance(f"+{len(n.members)}") + 8)
                item: QtWidgets.QAbstractGraphicsShapeItem = self.scene.addRect(
                    p.x() - w / 2, p.y() - radius * 0.8, w, radius * 1.6, QtGui.QPen(fg, 1.2), QtGui.QBrush(bg))
                text = f"+{len(n.members)}"
            else:
                item = self.scene.addEllipse(p.x() - radius, p.y() - radius, 2 * radius, 2 * radius,
                                             QtGui.QPen(sel if selected else fg, 3.0 if selected else 1.0),
                                             QtGui.QBrush(fill))
                text = ("xy"[n.unit] if d.widths[0] == 2 and n.column == 0 else
                        "out" if n.column == ncols - 1 else str(n.unit + 1))
            item.setData(0, i)  # (its tooltip is written when hovered: _hover)
            item.setCursor(QtCore.Qt.CursorShape.PointingHandCursor if n.column > 0 and not n.summary
                           else QtCore.Qt.CursorShape.ArrowCursor)
            f = font if n.summary or n.column in (0, ncols - 1) else small
            label = self.scene.addSimpleText(text, f)
            m = QtGui.QFontMetricsF(f)
            if m.horizontalAdvance(text) <= 2.2 * radius or n.summary:
                lum = fill.lightnessF() if not n.summary else bg.lightnessF()
                label.setBrush(QtGui.QColor("#101114") if lum > 0.55 else QtGui.QColor("#f4f5f7"))
                label.setPos(p.x() - m.horizontalAdvance(text) / 2, p.y() - m.height() / 2)
            else:
                label.setVisible(False)
            label.setData(0, i)
            self.node_items.append(item)
        if self.canvas.underMouse():  # the mouse rests on the diagram: its line describes the new weights
            self.canvas._last = self.canvas.node_at(self.canvas.mapFromGlobal(QtGui.QCursor.pos()))
            self._hover(self.canvas._last)

    def _edge_pen(self, positive: bool, step: int) -> QtGui.QPen:
        """The pen of an edge whose magnitude is in width step `step` (of EDGE_STEPS) of the largest: wider and
        stronger in colour with the magnitude. Opaque (the colour mixed with the background): translucent
        antialiased lines cost about 7x more to paint in Qt's raster engine (bench/ui_latency.py)."""
        key = (positive, step, self._bg.rgb())
        pen = self._pens.get(key)
        if pen is None:
            frac = (step + 0.5) / EDGE_STEPS
            pen = QtGui.QPen(_mix(self._bg, POSITIVE if positive else NEGATIVE, 0.3 + 0.7 * frac),
                             MIN_EDGE_PX + (MAX_EDGE_PX - MIN_EDGE_PX) * frac)
            pen.setCosmetic(True)
            self._pens[key] = pen
        return pen

    # ---- hover and click ------------------------------------------------------------------------------------
    def hover_text(self, i: int) -> str:
        """What hovering node `i` says: its incoming weights summarised and its activation pattern share."""
        d = self.diagram
        if d is None:
            return ""
        n = d.nodes[i]
        last = len(d.widths) - 1
        where = "input" if n.column == 0 else "output" if n.column == last else f"layer {n.column}"
        if n.summary:
            shares = self.shares[n.column - 1][list(n.members)] if 0 < n.column < last else None
            text = f"{len(n.members)} more units of {where} (weaker by |in|·|out| weights; all are in the Neurons panel)"
            if shares is not None:
                dead = int((shares == 0).sum())
                text += f"\nactive on {100 * shares.mean():.0f}% of the domain on average; {dead} never active"
            return text
        names = ["x", "y"] if d.widths[0] == 2 else [f"x{k + 1}" for k in range(d.widths[0])]
        if n.column == 0:
            return f"input {names[n.unit]}"
        u = unit_info(self.drawn_net, n.column, n.unit, self.shares)
        src = (lambda k: names[k]) if n.column == 1 else (lambda k: f"unit {k + 1}")
        head = "output" if n.column == last else f"layer {n.column}, unit {n.unit + 1} ({self.drawn_net.activation})"
        lines = [head]
        if u.share is not None:
            lines.append(f"active (pre-activation > 0) on {100 * u.share:.0f}% of the domain")
        lines.append(f"bias {u.bias:+.3g} · {u.n_in} incoming weights, {u.positive} positive, mean |w| {u.mean_abs:.3g}")
        lines.append("strongest in: " + ", ".join(f"{src(k)} {w:+.3g}" for k, w in u.strongest))
        if n.column < last:
            lines.append("click: show its surface")
        elif self.doc.view.unit is not None:
            lines.append("click: back to the output")
        return "\n".join(lines)

    def _hover(self, i: int) -> None:
        """The line under the diagram and the node's tooltip tell about the node under the mouse."""
        if i < 0 or i >= len(self.node_items):
            self.info.setText("Hover a unit for its weights; click it to show its surface.")
            return
        text = self.hover_text(i)
        self.info.setText(text)
        self.node_items[i].setToolTip(text)

    def _click(self, i: int) -> None:
        """A hidden unit: its surface in the big view; the output: back to the output."""
        if self.diagram is None:
            return
        n = self.diagram.nodes[i]
        last = len(self.diagram.widths) - 1
        if n.column == last:
            self.doc.view.unit = None
        elif 0 < n.column < last and n.unit is not None:
            self.doc.view.unit = (n.column - 1, n.unit)
        else:
            self._hover(i)

    def node_center(self, column: int, unit: int) -> QtCore.QPoint:
        """Where node (column, unit) is, in viewport pixels (tests click there)."""
        idx = self.diagram.index(column, unit) if self.diagram is not None else None
        if idx is None:
            raise KeyError(f"unit {unit} of column {column} is not drawn")
        return self.canvas.mapFromScene(self.node_items[idx].sceneBoundingRect().center())


def _mix(a: QtGui.QColor, b: QtGui.QColor, t: float) -> QtGui.QColor:
    t = min(1.0, max(0.0, t))
    return QtGui.QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * t, a.greenF() + (b.greenF() - a.greenF()) * t,
                                 a.blueF() + (b.blueF() - a.blueF()) * t)
