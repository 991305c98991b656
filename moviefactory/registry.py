"""One registry shape for every seam: backends register a factory under a config name."""
from __future__ import annotations

import importlib
from contextlib import contextmanager
from typing import Callable, Generic, Iterator, TypeVar

from .errors import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, builtins: tuple[str, ...]) -> None:
        self.kind = kind  # e.g. "renderer", for messages
        self._builtins = builtins  # modules that register the built-in entries when imported
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def add(factory: Callable[..., T]) -> Callable[..., T]:
            self._factories[name] = factory
            return factory

        return add

    def names(self) -> list[str]:
        self._load()
        return sorted(self._factories)

    def create(self, name: str, **options) -> T:
        self._load()
        if name not in self._factories:
            raise InputError(f"unknown {self.kind} {name!r}; available: {', '.join(sorted(self._factories))}")
        return self._factories[name](**options)

    @contextmanager
    def override(self, name: str, factory: Callable[..., T]) -> Iterator[None]:
        """Inside the block, `name` is built by `factory` (a test's spy around a real entry); the old one after."""
        self._load()  # the built-ins first: importing them later must not undo the override
        old = self._factories.get(name)
        self._factories[name] = factory
        try:
            yield
        finally:
            if old is None:
                self._factories.pop(name, None)
            else:
                self._factories[name] = old

    def _load(self) -> None:
        # Imported on first use, so `import moviefactory` stays light and a registry never cycles at import.
        for module in self._builtins:
            importlib.import_module(module)
