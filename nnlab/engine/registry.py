"""One small generic registry: name -> entry (label, callable, parameter dataclass, capability flags).

Initializations, targets and optimizers register themselves here so that panels and the CLI list them
without knowing them by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

from nnlab.errors import NnlabError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered object with what a UI needs to show it."""

    name: str
    obj: T
    label: str
    description: str = ""
    params: type | None = None
    flags: frozenset[str] = field(default_factory=frozenset)
    extra: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Names to entries, in registration order."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(
        self,
        name: str,
        *,
        label: str | None = None,
        description: str = "",
        params: type | None = None,
        flags: tuple[str, ...] | frozenset[str] = (),
        **extra: Any,
    ) -> Callable[[T], T]:
        """Decorator that registers `obj` under `name`; re-registering a name is an error."""

        def deco(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = Entry(name, obj, label or name, description, params, frozenset(flags), dict(extra))
            return obj

        return deco

    def add(self, name: str, obj: T, **kwargs: Any) -> T:
        """Register without decorator syntax."""
        return self.register(name, **kwargs)(obj)

    def get(self, name: str) -> Entry[T]:
        """The entry for `name`, or an NnlabError that lists what is allowed."""
        try:
            return self._entries[name]
        except KeyError:
            raise NnlabError(f"unknown {self.kind} {name!r}; allowed: {', '.join(self._entries)}") from None

    def names(self, flag: str | None = None) -> list[str]:
        """Registered names, optionally only those with a capability flag."""
        return [n for n, e in self._entries.items() if flag is None or flag in e.flags]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)
