"""GL pieces of the surface view that need no view: the lighting shader and fast grid normals (the offscreen
render path is SurfaceView.render_image; of nnlab.ui this imports only the Qt-free nnlab.ui.cube, so no cycle)."""
from __future__ import annotations

from pyqtgraph.opengl import shaders

from nnlab.ui.cube import LIT_FRAGMENT, LIT_VERTEX, grid_normals

__all__ = ["LIT_SHADER", "grid_normals"]

# The lighting shader and grid normals are defined Qt-free in nnlab.ui.cube (the export renderer uses them too).
LIT_SHADER = shaders.ShaderProgram("nnlab_lit", [shaders.VertexShader(LIT_VERTEX), shaders.FragmentShader(LIT_FRAGMENT)])
