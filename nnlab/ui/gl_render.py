"""GL pieces of the surface view that need no view: the lighting shader and fast grid normals (the offscreen
render path is SurfaceView.render_image; this module imports nothing of nnlab.ui, so no cycle)."""
from __future__ import annotations

import numpy as np
from pyqtgraph.opengl import shaders

# Two-sided lighting that keeps colours close to the colormap (a lecture hall projector washes out dark shading).
LIT_SHADER = shaders.ShaderProgram("nnlab_lit", [
    shaders.VertexShader("""
        uniform mat4 u_mvp;
        uniform mat3 u_normal;
        attribute vec4 a_position;
        attribute vec3 a_normal;
        attribute vec4 a_color;
        varying vec4 v_color;
        varying vec3 v_normal;
        void main() {
            v_normal = normalize(u_normal * a_normal);
            v_color = a_color;
            gl_Position = u_mvp * a_position;
        }
    """),
    shaders.FragmentShader("""
        #ifdef GL_ES
        precision mediump float;
        #endif
        varying vec4 v_color;
        varying vec3 v_normal;
        void main() {
            vec3 n = normalize(v_normal);
            float d = abs(dot(n, normalize(vec3(-0.35, 0.55, 0.75))));
            float d2 = d * d; float d4 = d2 * d2; float d8 = d4 * d4; float s = d8 * d8 * d8 * 0.18;
            vec3 rgb = v_color.rgb * (0.42 + 0.58 * d) + vec3(s);
            gl_FragColor = vec4(min(rgb, vec3(1.0)), v_color.a);
        }
    """),
])


def grid_normals(gx: np.ndarray, gy: np.ndarray, zd: np.ndarray) -> np.ndarray:
    """Unit vertex normals (n*m, 3) float32 of the height field zd[i, j] over (gx[i], gy[j])."""
    if len(gx) < 2 or len(gy) < 2:
        out = np.zeros((zd.size, 3), dtype=np.float32)
        out[:, 2] = 1.0
        return out
    dzdx, dzdy = np.gradient(zd.astype(np.float64), gx.astype(np.float64), gy.astype(np.float64))
    n = np.stack([-dzdx, -dzdy, np.ones_like(dzdx)], axis=-1).reshape(-1, 3)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return n.astype(np.float32)
