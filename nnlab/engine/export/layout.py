"""Frame layout for export: panels side by side, panel titles in a top band and captions in a bottom band, so text
never overlaps a surface. Pure numpy + Pillow (no Qt)."""
from __future__ import annotations

import functools
import weakref
from typing import TYPE_CHECKING

import numpy as np

from nnlab.engine.export.plan import BACKGROUNDS

if TYPE_CHECKING:
    from nnlab.engine.export.plan import Plan, PanelRenderer



@functools.lru_cache(maxsize=16)
def pillow_font(pixels: float, bold: bool = False):
    """DejaVu Sans (bold for titles) at a pixel size when the system has it (crisper at small sizes), else Pillow's
    bundled font; the caption bands and the EGL renderer's labels both draw with it."""
    from PIL import ImageFont

    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf", pixels)
    except OSError:
        return ImageFont.load_default(size=pixels)


def _font(size: int):
    """The caption bands' font: at least 8 px."""
    return pillow_font(max(8, size))


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
    o = plan.options
    fr = plan.frames[i]
    top, bottom = bands(plan)
    k = len(fr.panels)
    ph = o.height - top - bottom
    if k == 1 and not (top or bottom):  # nothing to lay out: the panel is the frame
        return np.ascontiguousarray(render(0, fr.panels[0], fr, o.width, o.height), dtype=np.uint8)
    canvas = np.empty((o.height, o.width, 4), dtype=np.uint8)
    edges = [round(j * o.width / k) for j in range(k + 1)]
    for j, panel in enumerate(fr.panels):
        canvas[top:top + ph, edges[j]:edges[j + 1]] = render(j, panel, fr, edges[j + 1] - edges[j], ph)
    font_px = round(max(top, bottom) * 0.55)
    if top:
        spans = tuple((p.title, edges[j], edges[j + 1]) for j, p in enumerate(fr.panels))
        canvas[:top] = _text_band(spans, o.width, top, o.background, font_px)
    if bottom:
        canvas[o.height - bottom:] = _text_band(((fr.caption, 0, o.width),), o.width, bottom, o.background, font_px)
    return canvas


@functools.lru_cache(maxsize=16)
def _text_band(spans: tuple[tuple[str, int, int], ...], width: int, height: int, background: str,
               font_px: int) -> np.ndarray:
    """A band (height, width, 4) with each text centred in its [left, right) span, shortened to fit. Cached: a
    caption is drawn once per distinct text, not once per frame (a 200-character caption costs the same as one
    word)."""
    from PIL import Image, ImageDraw

    bg = BACKGROUNDS[background] + ((0,) if background == "transparent" else (255,))
    band = Image.new("RGBA", (width, height), bg)
    draw = ImageDraw.Draw(band)
    ink = (20, 20, 20, 255) if background != "dark" else (235, 235, 235, 255)
    font = _font(font_px)
    for text, left, right in spans:
        text = _fit(draw, text, font, right - left)
        if text:
            draw.text(((left + right) / 2, height / 2), text, fill=ink, font=font, anchor="mm")
    out = np.asarray(band)
    out.setflags(write=False)  # shared by the frames that show it
    return out


def _fit(draw, text: str, font, width: int) -> str:
    """The text, or its longest prefix followed by an ellipsis, that fits the width (binary search on the prefix
    length: text width grows with it)."""
    if draw.textlength(text, font=font) <= width - 6:
        return text
    lo, hi = 0, len(text)  # text[:lo] + "…" fits (or lo = 0), text[:hi] + "…" does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if draw.textlength(text[:mid] + "…", font=font) <= width - 6:
            lo = mid
        else:
            hi = mid
    return text[:lo].rstrip() + "…" if lo else ""
