"""Drive another process's window on the test's X display, as a user would: find it by its process id, press keys
(XTEST) and ask it to close (WM_DELETE_WINDOW). ctypes on libX11/libXtst, which every X server install has."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import subprocess

_X11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
_XTST = ctypes.CDLL(ctypes.util.find_library("Xtst") or "libXtst.so.6")
_X11.XOpenDisplay.restype = ctypes.c_void_p
_X11.XOpenDisplay.argtypes = [ctypes.c_char_p]
_X11.XCloseDisplay.argtypes = [ctypes.c_void_p]
_X11.XFlush.argtypes = [ctypes.c_void_p]
_X11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
_X11.XInternAtom.restype = ctypes.c_ulong
_X11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
_X11.XStringToKeysym.restype = ctypes.c_ulong
_X11.XStringToKeysym.argtypes = [ctypes.c_char_p]
_X11.XKeysymToKeycode.restype = ctypes.c_ubyte
_X11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
_X11.XSetInputFocus.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_ulong]
_X11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
_XTST.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
_XTST.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_ulong]


class _ClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]


class _XEvent(ctypes.Union):
    _fields_ = [("xclient", _ClientMessage), ("pad", ctypes.c_long * 24)]


def _display() -> int:
    d = _X11.XOpenDisplay(os.environ["DISPLAY"].encode())
    if not d:
        raise RuntimeError(f"cannot open X display {os.environ.get('DISPLAY')!r}")
    return d


def window_of(pid: int, title: str = "nnlab") -> tuple[int, tuple[int, int, int, int]] | None:
    """(window id, (x, y, width, height)) of the mapped top-level window of process `pid` whose title is `title` or
    ends in " `title`" (the main window is titled "<scene> — nnlab")."""
    tree = subprocess.run(["xwininfo", "-root", "-children"], capture_output=True, text=True, timeout=10).stdout
    for m in re.finditer(r"^\s+(0x[0-9a-f]+) \"(?:[^\"\n]* )?" + re.escape(title) + r"\":", tree, re.M):
        wid = m.group(1)
        prop = subprocess.run(["xprop", "-id", wid, "_NET_WM_PID"], capture_output=True, text=True,
                              timeout=10).stdout
        if not prop.strip().endswith(f"= {pid}"):
            continue
        info = subprocess.run(["xwininfo", "-id", wid], capture_output=True, text=True, timeout=10).stdout
        if "IsViewable" not in info:
            continue
        geo = [int(re.search(rf"{k}:\s+(-?\d+)", info).group(1))
               for k in ("Absolute upper-left X", "Absolute upper-left Y", "Width", "Height")]
        return int(wid, 16), tuple(geo)
    return None


def press(wid: int, geometry: tuple[int, int, int, int], *keys: str) -> None:
    """Point at the window, focus it and press `keys` (X keysym names, e.g. "Control_L", "q") as a chord."""
    d = _display()
    try:
        x, y, w, h = geometry
        _XTST.XTestFakeMotionEvent(d, -1, x + w // 2, y + h // 2, 0)
        _X11.XSetInputFocus(d, wid, 2, 0)  # RevertToParent, CurrentTime
        _X11.XSync(d, 0)
        codes = [_X11.XKeysymToKeycode(d, _X11.XStringToKeysym(k.encode())) for k in keys]
        for c in codes:
            _XTST.XTestFakeKeyEvent(d, c, 1, 30)
        for c in reversed(codes):
            _XTST.XTestFakeKeyEvent(d, c, 0, 30)
        _X11.XSync(d, 0)
    finally:
        _X11.XCloseDisplay(d)


def request_close(wid: int) -> None:
    """What a window manager's close button does: a WM_DELETE_WINDOW client message."""
    d = _display()
    try:
        ev = _XEvent()
        ev.xclient.type = 33  # ClientMessage
        ev.xclient.window = wid
        ev.xclient.message_type = _X11.XInternAtom(d, b"WM_PROTOCOLS", 0)
        ev.xclient.format = 32
        ev.xclient.data[0] = _X11.XInternAtom(d, b"WM_DELETE_WINDOW", 0)
        _X11.XSendEvent(d, wid, 0, 0, ctypes.byref(ev))
        _X11.XSync(d, 0)
    finally:
        _X11.XCloseDisplay(d)
