"""Parameter builders, one module per kind of template. Each module declares
``BUILDERS = {"<template>.yaml": builder}``; a builder takes the ParamContext of one pipeline in
one stage and returns (parameters, deferred values). Modules are discovered, so adding a template
kind means adding a module here, nothing else."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from functools import cache

from mlops_gitops.core.params.base import Deferred, ParamContext, Params

Builder = Callable[[ParamContext], tuple[Params, Deferred]]


@cache
def builders() -> dict[str, Builder]:
    found: dict[str, Builder] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for template, builder in getattr(module, "BUILDERS", {}).items():
            if template in found:
                raise RuntimeError(f"two parameter builders for {template}")
            found[template] = builder
    return found


def builder_for(template: str) -> Builder:
    return builders()[template]
