"""The fault kinds, one module each; importing this package imports every module in it, and
each registers its kind. A new kind is a new module here, nothing else."""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
