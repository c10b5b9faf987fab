"""Frame layout for export: panels side by side, panel titles in a top band and captions in a bottom band, so text
never overlaps a surface. Pure numpy + Pillow (no Qt)."""
from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    from nnlab.engine.export import Frame, Panel, Plan

BACKGROUNDS = {"white": (255, 255, 255), "dark": (22, 24, 30), "transparent": (255, 255, 255)}
PanelRenderer = Callable[[int, "Panel", "Frame", int, int], np.ndarray]  # (slot, panel, frame, w, h) -> (h, w, 4)


def _font(size: int):
    """DejaVu Sans when the system has it (crisper at small sizes), else Pillow's bundled font."""
    from PIL import ImageFont

    try:
        return ImageFont.truetype("DejaVuSans.ttf", max(8, size))
    except OSError:
        return ImageFont.load_default(size=max(8, size))


_BANDS: "weakref.WeakKeyDictionary[Plan, tuple[int, int]]" = weakref.WeakKeyDictionary()


def bands(plan: Plan) -> tuple[int, int]:
    """Heights of the top band (panel titles, compare only) and bottom band (captions), 0 when unused."""
    if plan in _BANDS:
        return _BANDS[plan]
    h = plan.options.height
    band = max(12, round(h * 0.07))
    top = band if len(plan.frames[0].panels) > 1 and any(p.title for p in plan.frames[0].panels) else 0
    bottom = band if any(f.caption for f in plan.frames) else 0
    _BANDS[plan] = (top, bottom)
    return top, bottom


def frame_image(plan: Plan, i: int, render: PanelRenderer) -> np.ndarray:
    """Frame i as (H, W, 4) uint8 RGBA: panels side by side between the caption bands."""
    from PIL import Image, ImageDraw

    o = plan.options
    fr = plan.frames[i]
    top, bottom = bands(plan)
    k = len(fr.panels)
    ph = o.height - top - bottom
    if k == 1 and not (top or bottom):  # nothing to lay out: the panel is the frame
        return np.ascontiguousarray(render(0, fr.panels[0], fr, o.width, o.height), dtype=np.uint8)
    bg = BACKGROUNDS[o.background] + ((0,) if o.background == "transparent" else (255,))
    canvas = Image.new("RGBA", (o.width, o.height), bg)
    edges = [round(j * o.width / k) for j in range(k + 1)]
    for j, panel in enumerate(fr.panels):
        img = np.ascontiguousarray(render(j, panel, fr, edges[j + 1] - edges[j], ph), dtype=np.uint8)
        canvas.paste(Image.fromarray(img, "RGBA"), (edges[j], top))
    if top or bottom:
        draw = ImageDraw.Draw(canvas)
        ink = (20, 20, 20, 255) if o.background != "dark" else (235, 235, 235, 255)
        font = _font(round(max(top, bottom) * 0.55))
        if top:
            for j, panel in enumerate(fr.panels):
                draw.text(((edges[j] + edges[j + 1]) / 2, top / 2), _fit(draw, panel.title, font, edges[j + 1] - edges[j]),
                          fill=ink, font=font, anchor="mm")
        if bottom and fr.caption:
            draw.text((o.width / 2, o.height - bottom / 2), _fit(draw, fr.caption, font, o.width), fill=ink, font=font,
                      anchor="mm")
    return np.asarray(canvas)


def _fit(draw, text: str, font, width: int) -> str:
    """Shorten text with an ellipsis so it fits the band."""
    while text and draw.textlength(text, font=font) > width - 6:
        text = text[:-2] + "…" if len(text) > 2 else ""
    return text
