"""A tiny observer: `Signal` with connect / disconnect / emit, the shape of Qt's and psygnal's signals.

Why our own and not psygnal (napari's): the models here need a dozen synchronous signals and nothing of psygnal's
evented dataclasses (a Scene is a frozen dataclass, replaced whole), and forty lines cost less than a dependency the
desktop app and every worker host would load. Listeners run at once, on the emitting thread, in connection order
(the models are only touched from the GUI thread: job results reach them through the Qt adapter in nnlab.ui.worker).
A bound method is held weakly, like Qt does for a QObject's slot, so a closed panel is not kept alive by the model;
an exception in a listener propagates to the emitter (a bug shows in the test that caused it).
"""
from __future__ import annotations

import weakref
from dataclasses import fields
from typing import Any, Callable


class Signal:
    """Listeners of one event; `emit(*args)` calls each with the arguments."""

    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: list[Callable[[], Callable[..., Any] | None]] = []

    def connect(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Call `fn` on every emit; a bound method is held weakly (dropped once its object is gone)."""
        if hasattr(fn, "__self__") and hasattr(fn, "__func__"):
            ref: Callable[[], Callable[..., Any] | None] = weakref.WeakMethod(fn)
        else:
            ref = (lambda f=fn: f)
        self._slots.append(ref)
        return fn

    def disconnect(self, fn: Callable[..., Any] | None = None) -> None:
        """Forget `fn` (every listener when None)."""
        self._slots = [] if fn is None else [r for r in self._slots if r() not in (fn, None)]

    def emit(self, *args: Any) -> None:
        dead = False
        for ref in list(self._slots):
            fn = ref()
            if fn is None:
                dead = True
                continue
            fn(*args)
        if dead:
            self._slots = [r for r in self._slots if r() is not None]

    def __len__(self) -> int:
        return sum(r() is not None for r in self._slots)


_MISSING = object()


def _same(a: Any, b: Any) -> bool:
    """Equal for the purpose of an event; arrays and lists (optimizer marks, histories) by identity."""
    if isinstance(a, list) or isinstance(b, list) or hasattr(a, "__array__") or hasattr(b, "__array__"):
        return a is b
    return a == b


class Evented:
    """Base of the evented dataclasses (napari's EventedModel habit): assigning a field emits
    `changed(name, value)` when the value differs. Subclasses are dataclasses with a `changed: Signal` field and may
    refuse a value in `check(name, value)`."""

    changed: Signal

    def check(self, name: str, value: Any) -> None:
        """Raise ValueError for a value the field does not accept."""

    def __setattr__(self, name: str, value: Any) -> None:
        self.check(name, value)
        old = self.__dict__.get(name, _MISSING)
        object.__setattr__(self, name, value)
        sig = self.__dict__.get("changed")
        if sig is not None and name != "changed" and old is not _MISSING and not _same(old, value):
            sig.emit(name, value)

    def set(self, **changes: Any) -> None:
        """Several fields at once (each emits its own change)."""
        names = {f.name for f in fields(self)} - {"changed"}  # type: ignore[arg-type]
        for k in changes:
            if k not in names:
                raise AttributeError(f"{type(self).__name__} has no field {k!r}")
        for k, v in changes.items():
            setattr(self, k, v)
