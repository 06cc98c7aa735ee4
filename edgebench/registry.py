"""One small generic registry: plug-ins register themselves by name in their own file."""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from edgebench.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name → plug-in. ``register(name)`` is a decorator; ``get(name)`` the one factory."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register the decorated object under ``name`` (and set ``obj.name``)."""

        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            try:
                if getattr(obj, "name", None) in (None, ""):
                    obj.name = name  # type: ignore[attr-defined]
            except (AttributeError, TypeError):
                pass
            self._items[name] = obj
            return obj

        return deco

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name`` without a decorator."""
        return self.register(name)(obj)

    def remove(self, name: str) -> None:
        """Forget ``name`` (tests register temporary plug-ins)."""
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        """The plug-in registered as ``name``; a ConfigError listing the known names otherwise."""
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise ConfigError(f"unknown {self.kind} {name!r}", hint=f"choose one of: {known}") from None

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def items(self) -> list[tuple[str, T]]:
        """(name, plug-in) pairs in registration order."""
        return list(self._items.items())
