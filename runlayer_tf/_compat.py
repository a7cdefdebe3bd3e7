"""Names that moved: still importable for one release, with a DeprecationWarning saying where."""

from __future__ import annotations

from collections.abc import Callable, Mapping


def moved_names(package: str, moved: Mapping[str, tuple[str, str]]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package``: ``moved`` maps an old public name to
    ``(module that holds it now, what to use instead)``."""

    def __getattr__(name: str) -> object:
        if name not in moved:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib
        import warnings

        module, instead = moved[name]
        warnings.warn(
            f"{package}.{name} is deprecated and leaves the public API in the next release; "
            f"use {instead}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(module), name)

    return __getattr__
