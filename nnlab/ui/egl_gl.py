"""The few OpenGL calls the EGL export renderer makes (nnlab.ui.egl_render), bound with ctypes through
eglGetProcAddress: importing PyOpenGL's GL package took 0.18 s (a tenth of the export's budget), and PyOpenGL binds
one window-system platform per process; this binding needs neither. Array arguments take numpy arrays.

Only what the renderer uses: desktop GL 3.0 (framebuffer objects, blits) in a compatibility context, GLSL 1.10/1.20.
"""
from __future__ import annotations

import ctypes
from typing import Callable

import numpy as np

# enums (Khronos gl.xml)
GL_POINTS, GL_LINES, GL_TRIANGLES = 0x0000, 0x0001, 0x0004
GL_TRUE = 0x0001
GL_ONE, GL_SRC_ALPHA, GL_ONE_MINUS_SRC_ALPHA = 0x0001, 0x0302, 0x0303
GL_LESS, GL_LEQUAL = 0x0201, 0x0203
GL_LINE_SMOOTH, GL_CULL_FACE, GL_DEPTH_TEST, GL_BLEND = 0x0B20, 0x0B44, 0x0B71, 0x0BE2
GL_LINE_SMOOTH_HINT, GL_NICEST = 0x0C52, 0x1102
GL_UNPACK_ALIGNMENT, GL_PACK_ALIGNMENT = 0x0CF5, 0x0D05
GL_TEXTURE_2D = 0x0DE1
GL_UNSIGNED_BYTE, GL_UNSIGNED_INT, GL_FLOAT = 0x1401, 0x1405, 0x1406
GL_RGBA = 0x1908
GL_RENDERER, GL_VERSION = 0x1F01, 0x1F02
GL_NEAREST, GL_LINEAR = 0x2600, 0x2601
GL_TEXTURE_MAG_FILTER, GL_TEXTURE_MIN_FILTER, GL_TEXTURE_WRAP_S, GL_TEXTURE_WRAP_T = 0x2800, 0x2801, 0x2802, 0x2803
GL_DEPTH_BUFFER_BIT, GL_COLOR_BUFFER_BIT = 0x0100, 0x4000
GL_RGBA8 = 0x8058
GL_MULTISAMPLE = 0x809D
GL_CLAMP_TO_EDGE = 0x812F
GL_DEPTH_STENCIL_ATTACHMENT = 0x821A
GL_TEXTURE0 = 0x84C0
GL_PROGRAM_POINT_SIZE = 0x8642
GL_POINT_SPRITE = 0x8861
GL_ARRAY_BUFFER, GL_ELEMENT_ARRAY_BUFFER = 0x8892, 0x8893
GL_STREAM_DRAW, GL_STATIC_DRAW = 0x88E0, 0x88E4
GL_DEPTH24_STENCIL8 = 0x88F0
GL_FRAGMENT_SHADER, GL_VERTEX_SHADER = 0x8B30, 0x8B31
GL_COMPILE_STATUS, GL_LINK_STATUS, GL_INFO_LOG_LENGTH = 0x8B81, 0x8B82, 0x8B84
GL_READ_FRAMEBUFFER, GL_DRAW_FRAMEBUFFER = 0x8CA8, 0x8CA9
GL_FRAMEBUFFER_COMPLETE = 0x8CD5
GL_COLOR_ATTACHMENT0 = 0x8CE0
GL_FRAMEBUFFER, GL_RENDERBUFFER = 0x8D40, 0x8D41
GL_MAX_SAMPLES = 0x8D57

_e, _i, _u, _f, _b, _p = ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_float, ctypes.c_ubyte, ctypes.c_void_p
_pu, _pi, _pf = ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_float)
_SIGNATURES: dict[str, tuple] = {  # name: (result, argument types)
    "glGetError": (_e, []), "glGetString": (ctypes.c_char_p, [_e]), "glGetIntegerv": (None, [_e, _pi]),
    "glEnable": (None, [_e]), "glDisable": (None, [_e]), "glHint": (None, [_e, _e]),
    "glPixelStorei": (None, [_e, _i]), "glFinish": (None, []),
    "glViewport": (None, [_i, _i, _i, _i]), "glClearColor": (None, [_f, _f, _f, _f]), "glClear": (None, [_u]),
    "glDepthFunc": (None, [_e]), "glBlendFunc": (None, [_e, _e]), "glBlendFuncSeparate": (None, [_e, _e, _e, _e]),
    "glLineWidth": (None, [_f]),
    "glGenBuffers": (None, [_i, _pu]), "glDeleteBuffers": (None, [_i, _pu]), "glBindBuffer": (None, [_e, _u]),
    "glBufferData": (None, [_e, ctypes.c_ssize_t, _p, _e]),
    "glGenFramebuffers": (None, [_i, _pu]), "glDeleteFramebuffers": (None, [_i, _pu]),
    "glBindFramebuffer": (None, [_e, _u]), "glCheckFramebufferStatus": (_e, [_e]),
    "glFramebufferRenderbuffer": (None, [_e, _e, _e, _u]),
    "glGenRenderbuffers": (None, [_i, _pu]), "glDeleteRenderbuffers": (None, [_i, _pu]),
    "glBindRenderbuffer": (None, [_e, _u]), "glRenderbufferStorage": (None, [_e, _e, _i, _i]),
    "glRenderbufferStorageMultisample": (None, [_e, _i, _e, _i, _i]),
    "glBlitFramebuffer": (None, [_i, _i, _i, _i, _i, _i, _i, _i, _u, _e]),
    "glReadPixels": (None, [_i, _i, _i, _i, _e, _e, _p]),
    "glGenTextures": (None, [_i, _pu]), "glDeleteTextures": (None, [_i, _pu]), "glBindTexture": (None, [_e, _u]),
    "glActiveTexture": (None, [_e]), "glTexParameteri": (None, [_e, _e, _i]),
    "glTexImage2D": (None, [_e, _i, _i, _i, _i, _i, _e, _e, _p]),
    "glCreateShader": (_u, [_e]), "glShaderSource": (None, [_u, _i, ctypes.POINTER(ctypes.c_char_p), _pi]),
    "glCompileShader": (None, [_u]), "glGetShaderiv": (None, [_u, _e, _pi]),
    "glGetShaderInfoLog": (None, [_u, _i, _pi, ctypes.c_char_p]), "glDeleteShader": (None, [_u]),
    "glCreateProgram": (_u, []), "glAttachShader": (None, [_u, _u]), "glLinkProgram": (None, [_u]),
    "glBindAttribLocation": (None, [_u, _u, ctypes.c_char_p]), "glGetProgramiv": (None, [_u, _e, _pi]),
    "glGetProgramInfoLog": (None, [_u, _i, _pi, ctypes.c_char_p]), "glDeleteProgram": (None, [_u]),
    "glUseProgram": (None, [_u]), "glGetUniformLocation": (_i, [_u, ctypes.c_char_p]),
    "glUniform1i": (None, [_i, _i]), "glUniform1f": (None, [_i, _f]), "glUniform4f": (None, [_i, _f, _f, _f, _f]),
    "glUniformMatrix3fv": (None, [_i, _i, _b, _pf]), "glUniformMatrix4fv": (None, [_i, _i, _b, _pf]),
    "glVertexAttribPointer": (None, [_u, _i, _e, _b, _i, _p]),
    "glEnableVertexAttribArray": (None, [_u]), "glDisableVertexAttribArray": (None, [_u]),
    "glDrawArrays": (None, [_e, _i, _i]), "glDrawElements": (None, [_e, _i, _e, _p]),
}


class GLError(RuntimeError):
    """A shader that does not compile or link (a bug: the sources are ours)."""


def _data(a: np.ndarray | None) -> int | None:
    return None if a is None else a.ctypes.data


class GL:
    """The GL functions of the current context, by their C names; the gen/delete/get calls and those taking data
    follow PyOpenGL's Python forms (glGenBuffers(n) -> name or names, arrays for pointers)."""

    def __init__(self, get_proc_address: Callable[[bytes], int | None]) -> None:
        missing = []
        for name, (res, args) in _SIGNATURES.items():
            addr = get_proc_address(name.encode())
            if not addr:
                missing.append(name)
                continue
            setattr(self, "_" + name, ctypes.CFUNCTYPE(res, *args)(addr))
        if missing:
            raise OSError(f"OpenGL functions missing: {', '.join(missing[:5])}")
        self.__dict__.update(enums())
        for name in ("glEnable", "glDisable", "glHint", "glPixelStorei", "glFinish", "glViewport", "glClearColor",
                     "glClear", "glDepthFunc", "glBlendFunc", "glBlendFuncSeparate", "glLineWidth", "glBindBuffer",
                     "glBindFramebuffer", "glCheckFramebufferStatus", "glFramebufferRenderbuffer",
                     "glBindRenderbuffer", "glRenderbufferStorage", "glRenderbufferStorageMultisample",
                     "glBlitFramebuffer", "glBindTexture", "glActiveTexture", "glTexParameteri", "glUseProgram",
                     "glUniform1i", "glUniform1f", "glUniform4f", "glEnableVertexAttribArray",
                     "glDisableVertexAttribArray", "glDrawArrays", "glGetError", "glDeleteProgram"):
            setattr(self, name, getattr(self, "_" + name))

    # ---- queries ----
    def glGetString(self, name: int) -> bytes:
        return self._glGetString(name) or b""

    def glGetIntegerv(self, name: int) -> int:
        v = ctypes.c_int()
        self._glGetIntegerv(name, ctypes.byref(v))
        return v.value

    def glGetUniformLocation(self, program: int, name: str) -> int:
        return self._glGetUniformLocation(program, name.encode())

    # ---- object names ----
    def _gen(self, fn, n: int) -> int | list[int]:
        ids = (ctypes.c_uint * n)()
        fn(n, ids)
        return int(ids[0]) if n == 1 else [int(v) for v in ids]

    def _delete(self, fn, n: int, ids) -> None:
        fn(n, (ctypes.c_uint * n)(*[int(v) for v in ids]))

    def glGenBuffers(self, n: int):
        return self._gen(self._glGenBuffers, n)

    def glGenFramebuffers(self, n: int):
        return self._gen(self._glGenFramebuffers, n)

    def glGenRenderbuffers(self, n: int):
        return self._gen(self._glGenRenderbuffers, n)

    def glGenTextures(self, n: int):
        return self._gen(self._glGenTextures, n)

    def glDeleteBuffers(self, n: int, ids) -> None:
        self._delete(self._glDeleteBuffers, n, ids)

    def glDeleteFramebuffers(self, n: int, ids) -> None:
        self._delete(self._glDeleteFramebuffers, n, ids)

    def glDeleteRenderbuffers(self, n: int, ids) -> None:
        self._delete(self._glDeleteRenderbuffers, n, ids)

    def glDeleteTextures(self, ids) -> None:
        self._delete(self._glDeleteTextures, len(ids), ids)

    # ---- data ----
    def glBufferData(self, target: int, size: int, data: np.ndarray | None, usage: int) -> None:
        self._glBufferData(target, int(size), _data(data), usage)

    def glTexImage2D(self, target, level, internal, w, h, border, fmt, type_, data: np.ndarray | None) -> None:
        self._glTexImage2D(target, level, internal, w, h, border, fmt, type_, _data(data))

    def glReadPixels(self, x: int, y: int, w: int, h: int, fmt: int, type_: int, out: np.ndarray) -> None:
        """Into `out` (C-contiguous, big enough for w x h pixels of fmt/type_ at the pack alignment)."""
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError("glReadPixels needs a writeable C-contiguous array")
        self._glReadPixels(x, y, w, h, fmt, type_, out.ctypes.data)

    def glVertexAttribPointer(self, index: int, size: int, type_: int, normalized: bool, stride: int,
                              offset: int | None) -> None:
        self._glVertexAttribPointer(index, size, type_, bool(normalized), stride, offset or None)

    def glDrawElements(self, mode: int, count: int, type_: int, offset: int | None) -> None:
        self._glDrawElements(mode, count, type_, offset or None)

    def glUniformMatrix4fv(self, loc: int, count: int, transpose: int, m: np.ndarray) -> None:
        m = np.ascontiguousarray(m, dtype=np.float32)
        self._glUniformMatrix4fv(loc, count, transpose, m.ctypes.data_as(_pf))

    def glUniformMatrix3fv(self, loc: int, count: int, transpose: int, m: np.ndarray) -> None:
        m = np.ascontiguousarray(m, dtype=np.float32)
        self._glUniformMatrix3fv(loc, count, transpose, m.ctypes.data_as(_pf))

    # ---- programs ----
    def _log(self, get_iv, get_log, obj: int) -> str:
        n = ctypes.c_int()
        get_iv(obj, GL_INFO_LOG_LENGTH, ctypes.byref(n))
        buf = ctypes.create_string_buffer(max(1, n.value))
        get_log(obj, len(buf), None, buf)
        return buf.value.decode(errors="replace")

    def compile_program(self, vertex: str, fragment: str, attributes: tuple[str, ...]) -> int:
        """A linked program; attribute k of `attributes` at location k."""
        shaders = []
        for kind, source in ((GL_VERTEX_SHADER, vertex), (GL_FRAGMENT_SHADER, fragment)):
            sh = self._glCreateShader(kind)
            src = (ctypes.c_char_p * 1)(source.encode())
            self._glShaderSource(sh, 1, src, None)
            self._glCompileShader(sh)
            ok = ctypes.c_int()
            self._glGetShaderiv(sh, GL_COMPILE_STATUS, ctypes.byref(ok))
            if not ok.value:
                raise GLError(f"shader does not compile: {self._log(self._glGetShaderiv, self._glGetShaderInfoLog, sh)}")
            shaders.append(sh)
        prog = self._glCreateProgram()
        for sh in shaders:
            self._glAttachShader(prog, sh)
        for k, name in enumerate(attributes):
            self._glBindAttribLocation(prog, k, name.encode())
        self._glLinkProgram(prog)
        ok = ctypes.c_int()
        self._glGetProgramiv(prog, GL_LINK_STATUS, ctypes.byref(ok))
        for sh in shaders:
            self._glDeleteShader(sh)  # freed with the program
        if not ok.value:
            raise GLError(f"program does not link: {self._log(self._glGetProgramiv, self._glGetProgramInfoLog, prog)}")
        return prog


def enums() -> dict[str, int]:
    """The GL_* constants above by name (the renderer reads them as attributes of its GL object)."""
    return {k: v for k, v in globals().items() if k.startswith("GL_")}
