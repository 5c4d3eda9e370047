"""Store backends and the factory that opens one by name.

Backends are imported lazily so the embedded default needs no server client at import.
Every backend class takes `(namespace: str, **config)` and implements
`memory.store.GraphStore`.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from memsim.memory.store import GraphStore

BACKENDS: dict[str, str] = {
    "networkx": "memsim.memory.backends.networkx_store:NetworkxStore",
    "falkordb": "memsim.memory.backends.falkordb_store:FalkorDBStore",
    "neo4j": "memsim.memory.backends.neo4j_store:Neo4jStore",
}


# Keyword arguments the runtime passes itself (never a user's connection setting).
_INTERNAL_OPTIONS = frozenset({"graph_registry", "epoch"})


def backend_class(backend: str) -> type:
    """The store class of a backend name."""
    if backend not in BACKENDS:
        raise ValueError(f"memory backend {backend!r} is unknown; allowed: {sorted(BACKENDS)}")
    module_name, class_name = BACKENDS[backend].split(":")
    return getattr(importlib.import_module(module_name), class_name)


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
