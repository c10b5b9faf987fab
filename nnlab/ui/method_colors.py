"""How the optimizer marks look: one colour per method (Okabe & Ito's colour-blind-safe set; red is left to the
overall optimum marker) and the sizes a projector needs (shared by the views, their legends and the Optimize panel)."""
from __future__ import annotations

METHOD_COLORS = ((230, 159, 0), (86, 180, 233), (204, 121, 167), (245, 245, 245), (0, 158, 115), (240, 228, 66),
                 (0, 114, 178), (213, 94, 0), (150, 150, 150))
POINT_PX = 9.0  # sample markers (at least 8 px on screen)
BEST_PX = 16.0  # each method's best point
PATH_PX = 3.0  # walks and restarts (at least 3 px)


def method_color(i: int) -> tuple[int, int, int]:
    """The colour of the i-th method of a run (RGB 0-255)."""
    return METHOD_COLORS[i % len(METHOD_COLORS)]
