"""Plug-ins: policies, world families and memory stores from outside memsim.

Three registries take plug-ins, each by **import path** (``"package.module:Name"``, in a
scenario file or in code) and by **entry point** (a name another installed package
declares in one of these groups):

============================  ==========================================================
group                         an entry point names
============================  ==========================================================
``memsim.policies``           a `Policy` class, or any zero-argument callable returning a
                              new policy (`memsim.agents.registry`)
``memsim.worlds``             a `WorldFamily`, or a zero-argument callable returning one
                              (`memsim.sim.families`)
``memsim.stores``             a `GraphStore` class taking ``(namespace, **config)``
                              (`memsim.memory.backends`)
============================  ==========================================================

A package declares them in its own ``pyproject.toml``::

    [project.entry-points."memsim.policies"]
    greedy = "my_package.policies:GreedyPolicy"

after which ``policy = "greedy"`` works in any scenario and ``memsim list`` shows it. The
built-in names (``scripted``, ``crafting``, ``networkx`` ...) cannot be taken over: an
entry point with such a name is ignored with a warning.

An import path is looked up on ``sys.path`` and then in the current directory, so a
module beside your scenario file works with the ``memsim`` command too. Errors are
`PluginError` (a `ValueError`) naming the path or name and what went wrong.

`import_optional` imports a dependency of an extra (``memsim[llm]``, ``memsim[langgraph]``
...) or says which extra to install. This package imports nothing else of memsim: every
layer may use it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
import warnings
from collections.abc import Iterable
from functools import cache
from typing import Any

GROUPS: dict[str, str] = {
    "policies": "memsim.policies",
    "worlds": "memsim.worlds",
    "stores": "memsim.stores",
}
"""The entry-point group of each kind of plug-in."""


class PluginError(ValueError):
    """A plug-in could not be found, imported or used; the message says which and why."""


def is_import_path(name: str) -> bool:
    """Whether `name` is an import path (``"package.module:Name"``) rather than a name."""
    return ":" in name


def load_object(path: str) -> Any:
    """The object at ``"package.module:Name"`` (``Name`` may be dotted: ``Class.attr``).

    The module is imported from ``sys.path``, then from the current directory. Raises
    `PluginError` naming the path for a malformed path, a module that cannot be imported
    (with the import's own error) or a missing attribute."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr or not all(p.isidentifier() for p in module_name.split(".")) \
            or not all(p.isidentifier() for p in attr.split(".")):
        raise PluginError(f"{path!r} is not an import path; write 'package.module:Name'")
    module = _import(module_name, path)
    value: Any = module
    for part in attr.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise PluginError(f"{path!r}: module {module_name!r} has no {attr!r}") from None
    return value


def _import(module_name: str, path: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.split(".")[0]
        cwd = os.getcwd()
        # Not found anywhere on sys.path: try the current directory (the `memsim` console
        # script, unlike `python -m`, does not put it on sys.path).
        if exc.name == top and cwd not in sys.path and "" not in sys.path:
            sys.path.append(cwd)
            try:
                return importlib.import_module(module_name)
            except ModuleNotFoundError as again:
                if again.name != top:
                    raise PluginError(f"{path!r} cannot be imported: {again}") from again
                sys.path.remove(cwd)
        raise PluginError(f"{path!r} cannot be imported: {exc} (is the package installed, or "
                          f"the module in the current directory?)") from exc
    except Exception as exc:  # the plug-in's own module failed while importing
        raise PluginError(f"{path!r} cannot be imported: {type(exc).__name__}: {exc}") from exc


@cache
def entry_points(kind: str) -> dict[str, importlib.metadata.EntryPoint]:
    """The entry points of one kind of plug-in (`GROUPS`), by name. Read once per process;
    `refresh` re-reads them (after installing a package in a running process)."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for point in importlib.metadata.entry_points(group=GROUPS[kind]):
        found.setdefault(point.name, point)  # the first distribution on sys.path wins
    return found


def refresh() -> None:
    """Forget the entry points read so far (they are read again when next asked)."""
    entry_points.cache_clear()


def plugin_names(kind: str, builtin: Iterable[str]) -> dict[str, str]:
    """The entry-point plug-ins of `kind` that do not shadow a `builtin` name, as
    ``name -> "package.module:Name"``; a shadowing one is skipped with a warning."""
    taken = set(builtin)
    names: dict[str, str] = {}
    for name, point in sorted(entry_points(kind).items()):
        if name in taken:
            warnings.warn(f"the {GROUPS[kind]} entry point {name!r} ({point.value}) is "
                          f"ignored: {name!r} is built into memsim", stacklevel=2)
            continue
        names[name] = point.value
    return names


def load_entry_point(kind: str, name: str) -> Any:
    """The object an entry point of `kind` names. Raises `PluginError` naming the
    entry point and its distribution when it cannot be loaded."""
    point = entry_points(kind)[name]
    try:
        return point.load()
    except Exception as exc:
        dist = getattr(point.dist, "name", None) or "an installed package"
        raise PluginError(f"{GROUPS[kind]} entry point {name!r} ({point.value}, from "
                          f"{dist}) cannot be loaded: {type(exc).__name__}: {exc}") from exc


def import_optional(module: str, extra: str, needed_by: str) -> Any:
    """Import `module`, part of the ``memsim[extra]`` extra; when it is not installed,
    raise `ModuleNotFoundError` saying what needs it and how to install it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise missing_extra(exc, extra, needed_by) from exc


def missing_extra(exc: ModuleNotFoundError, extra: str, needed_by: str) -> ModuleNotFoundError:
    """The error for an optional dependency that is not installed (see `import_optional`)."""
    return ModuleNotFoundError(f"{needed_by} needs {exc.name!r}, which is not installed: "
                               f"pip install 'memsim[{extra}]'", name=exc.name)


def describe(obj: Any) -> str:
    """``module:Name`` of an object, for listings and errors."""
    module = getattr(obj, "__module__", None) or type(obj).__module__
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{module}:{name}"


__all__ = [
    "GROUPS",
    "PluginError",
    "describe",
    "entry_points",
    "import_optional",
    "is_import_path",
    "load_entry_point",
    "load_object",
    "missing_extra",
    "plugin_names",
    "refresh",
]
