"""Store backends and the factory that opens one by name.

Backends are imported lazily so the embedded default needs no server client at import.
Every backend class takes `(namespace: str, **config)` and implements
`memory.store.GraphStore`. A backend is named by

- a built-in name (`BACKENDS`): ``networkx`` (embedded), ``falkordb``, ``neo4j`` (servers;
  their clients are the ``memsim[falkordb]`` and ``memsim[neo4j]`` extras);
- a ``memsim.stores`` entry point of another package (see `memsim.plugins`);
- an import path, ``"my_package.store:MyStore"``.

A store from outside memsim should pass `memsim.testing.check_store`, the conformance
suite every built-in backend passes.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from memsim.memory.store import GraphStore
from memsim.plugins import (
    PluginError,
    is_import_path,
    load_entry_point,
    load_object,
    plugin_names,
)

BACKENDS: dict[str, str] = {
    "networkx": "memsim.memory.backends.networkx_store:NetworkxStore",
    "falkordb": "memsim.memory.backends.falkordb_store:FalkorDBStore",
    "neo4j": "memsim.memory.backends.neo4j_store:Neo4jStore",
}


# Keyword arguments the runtime passes itself (never a user's connection setting).
_INTERNAL_OPTIONS = frozenset({"graph_registry", "epoch"})


# The extra that installs each server backend's client.
_EXTRAS = {"falkordb": "falkordb", "neo4j": "neo4j"}


def store_plugins() -> dict[str, str]:
    """The ``memsim.stores`` entry points: name -> ``package.module:Name``."""
    return plugin_names("stores", BACKENDS)


def backend_names() -> list[str]:
    """Every backend name a scenario may use: built in, then entry points (import paths
    are accepted besides these)."""
    return [*BACKENDS, *store_plugins()]


def check_backend_name(backend: str) -> None:
    """Raise `ValueError` (`PluginError` for a plug-in) unless `backend` names a store
    that imports and is a class; `ModuleNotFoundError` naming the extra when a built-in
    server backend's client is not installed."""
    backend_class(backend)


def backend_class(backend: str) -> type:
    """The store class of a backend name, entry point or import path."""
    if backend in BACKENDS:
        module_name, class_name = BACKENDS[backend].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            extra = _EXTRAS.get(backend)
            if extra is None or exc.name == module_name:
                raise
            raise ModuleNotFoundError(
                f"memory backend {backend!r} needs {exc.name!r}, which is not installed: "
                f"pip install 'memsim[{extra}]'", name=exc.name) from exc
        return getattr(module, class_name)
    if is_import_path(backend):
        store_class = load_object(backend)
    elif backend in store_plugins():
        store_class = load_entry_point("stores", backend)
    else:
        raise ValueError(f"{backend!r} is not allowed; allowed: "
                         f"{', '.join(sorted(backend_names()))} "
                         f"(or a store class by import path 'package.module:MyStore')")
    if not isinstance(store_class, type):
        raise PluginError(f"memory backend {backend!r} is a {type(store_class).__name__}, not "
                          f"a store class taking (namespace, **config)")
    return store_class


def check_backend_config(backend: str, config: dict[str, Any]) -> None:
    """Check a backend's connection settings without connecting: only the keys its store
    takes, with values its `check_config` accepts. Raises `ValueError` naming them."""
    store_class = backend_class(backend)
    allowed = [name for name, p in inspect.signature(store_class.__init__).parameters.items()
               if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in _INTERNAL_OPTIONS]
    unknown = sorted(set(config) - set(allowed))
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} for backend {backend!r}; allowed: "
                         f"{', '.join(allowed) or 'none (it is embedded: no connection)'}")
    check = getattr(store_class, "check_config", None)
    if check is not None:
        check(**config)


def open_store(backend: str, namespace: str, **config: Any) -> GraphStore:
    """Open the namespace `namespace` on the named backend."""
    return backend_class(backend)(namespace, **config)
