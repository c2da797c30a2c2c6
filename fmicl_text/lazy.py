"""Packages whose public names live in a heavy module: the module is imported on first use of a name."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, sources: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list]]:
    """``__getattr__`` and ``__dir__`` for ``package``: each name of ``sources`` comes from
    ``package.<its module>`` when first asked for.

    Importing the package (or one of its light modules) then imports nothing heavy.
    """

    def __getattr__(name: str) -> Any:
        if name in sources:
            return getattr(importlib.import_module(f"{package}.{sources[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *sources})

    return __getattr__, __dir__
