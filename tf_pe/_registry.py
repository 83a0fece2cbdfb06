"""A name -> object registry, shared by methods, benchmarks and converters."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects registered once under unique names.

    Args:
        argument: the user-facing argument that picks a name, used in errors
            (for example `"method"`).
    """

    def __init__(self, argument: str):
        self.argument = argument
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        """Registers `item` under `name` and returns it.

        Raises:
            ValueError: if the name is taken.
        """
        if name in self._items:
            raise ValueError(f"{self.argument.capitalize()} {name!r} is already registered.")
        self._items[name] = item
        return item

    def names(self) -> list[str]:
        """Returns the registered names, sorted."""
        return sorted(self._items)

    def get(self, name: str) -> T:
        """Returns the item registered as `name`.

        Raises:
            ValueError: for an unknown name, naming the argument and listing the
                valid names.
        """
        if name not in self._items:
            choices = ", ".join(self.names()) or "(none registered)"
            raise ValueError(f"`{self.argument}` must be one of {choices}; got {name!r}.")
        return self._items[name]
