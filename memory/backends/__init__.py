"""Store backends and the factory that opens one by name.

Backends are imported lazily so the embedded default needs no server client at import.
Every backend class takes `(namespace: str, **config)` and implements
`memory.store.GraphStore`.
"""

from __future__ import annotations

import importlib
from typing import Any

from memsim.memory.store import GraphStore

BACKENDS: dict[str, str] = {
    "networkx": "memsim.memory.backends.networkx_store:NetworkxStore",
    "falkordb": "memsim.memory.backends.falkordb_store:FalkorDBStore",
    "neo4j": "memsim.memory.backends.neo4j_store:Neo4jStore",
}


def open_store(backend: str, namespace: str, **config: Any) -> GraphStore:
    """Open the namespace `namespace` on the named backend."""
    if backend not in BACKENDS:
        raise ValueError(f"memory backend {backend!r} is unknown; allowed: {sorted(BACKENDS)}")
    module_name, class_name = BACKENDS[backend].split(":")
    store_class = getattr(importlib.import_module(module_name), class_name)
    return store_class(namespace, **config)
