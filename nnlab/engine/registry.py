"""One small generic registry of typed entries: name -> a frozen dataclass that says what the thing is and how to show
it (label, description, display order, capability flags, and the fields its own kind needs, e.g. an
initialization's variance and default bias rule).

Each registry has one entry type, so a field a kind needs is a typed field of that kind's entry, checked by the
dataclass when it is made, never an untyped side table. An entry is validated when it is registered (a lower-case
identifier as name, a label, no name twice), so a bad entry fails at import, not when a user picks it. Display
order is explicit: entries sort by `order`, then by registration.

Initializations, bias rules, targets, training optimizers, LR schedules, sampling schemes, colormaps and optimizer
methods register here, so that scene validation, panels and the CLI list the same names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

from nnlab.errors import NnlabError

T = TypeVar("T")
E = TypeVar("E", bound="Entry[Any]")

_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered object with what a UI needs to show it. Kinds subclass this with their own typed fields."""

    name: str
    obj: T
    label: str = ""
    description: str = ""
    params: type | None = None
    flags: frozenset[str] = field(default_factory=frozenset)
    order: int = 0  # display order: lower first; equal orders keep registration order

    def __post_init__(self) -> None:
        if not isinstance(self.flags, frozenset):
            object.__setattr__(self, "flags", frozenset(self.flags))


class Registry(Generic[E]):
    """Names to typed entries of one kind, listed by (order, registration)."""

    def __init__(self, kind: str, entry_type: type = Entry) -> None:
        self.kind = kind
        self.entry_type = entry_type
        self._entries: dict[str, E] = {}
        self._sorted: tuple[E, ...] | None = None

    def add(self, entry: E) -> E:
        """Register a ready entry; a bad name, a missing label, a wrong entry type or a name twice is an error."""
        if not isinstance(entry, self.entry_type):
            raise TypeError(f"{self.kind} registry holds {self.entry_type.__name__} entries, "
                            f"not {type(entry).__name__}")
        if not isinstance(entry.name, str) or not _NAME.match(entry.name):
            raise ValueError(f"{self.kind} name {entry.name!r}: expected a lower-case identifier")
        if not isinstance(entry.label, str) or not entry.label.strip():
            raise ValueError(f"{self.kind} {entry.name!r} has no label")
        if entry.name in self._entries:
            raise ValueError(f"{self.kind} {entry.name!r} is already registered")
        self._entries[entry.name] = entry
        self._sorted = None
        return entry

    def register(self, name: str, **fields: Any) -> Callable[[T], T]:
        """Decorator that registers `obj` as `entry_type(name=name, obj=obj, **fields)`."""

        def deco(obj: T) -> T:
            self.add(self.entry_type(name=name, obj=obj, **fields))
            return obj

        return deco

    def get(self, name: str) -> E:
        """The entry for `name`, or a one-line NnlabError that lists what is allowed."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise NnlabError(f"unknown {self.kind} {name!r}; allowed: {', '.join(self.names())}") from None

    def entries(self) -> tuple[E, ...]:
        """Entries in display order."""
        if self._sorted is None:
            index = {n: i for i, n in enumerate(self._entries)}
            self._sorted = tuple(sorted(self._entries.values(), key=lambda e: (e.order, index[e.name])))
        return self._sorted

    def names(self, flag: str | None = None) -> list[str]:
        """Registered names in display order, optionally only those with a capability flag."""
        return [e.name for e in self.entries() if flag is None or flag in e.flags]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[E]:
        return iter(self.entries())

    def __len__(self) -> int:
        return len(self._entries)
