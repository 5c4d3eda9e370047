"""A server store with an in-process mirror: every write goes to the server, every read is
answered by an embedded copy of the namespace. An agent-step then costs one round trip
(the write) instead of three (read + write, read).

The mirror is exact only while every writer of the namespace writes through a mirrored
store of this process: the writers of a run (an agent's memory, the team graph the
runner writes serially) all do. Mirrors of one namespace on one server share one local
graph within a process (as networkx stores of one registry do), so two stores opened on
it in a process stay consistent. A writer in another process would not be seen; readers
elsewhere (the viewer, ``memsim memory show``, a Cypher console) see everything, since the
server gets every write.

Order and failure: a batch is checked against the mirror first (schema, labels, edge
endpoints: what the server's statement would check), so a bad batch raises before any
round trip and the server store runs its statement without those checks (about a third
of a write's server time). Then the server is written. If that raises (the server is
down after its retries), the mirror is left unchanged, so it never holds what the server
does not: the write raises as it would without the mirror, never vanishes.
The mirror is loaded from the server when the store opens (one read).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, ClassVar

import networkx as nx

from memsim.memory.backends.networkx_store import NetworkxStore
from memsim.memory.store import (
    Direction,
    EdgeRecord,
    GraphStore,
    GraphStructure,
    NodeRecord,
    StoreCapabilities,
    StoreShorthands,
    WriteBatch,
)

# Process-wide mirrors: (server, namespace) -> a one-graph registry for the local
# networkx store, and how many open stores use it (dropped when the last one closes).
_MIRRORS: dict[tuple[Hashable, str], dict[str, nx.MultiDiGraph]] = {}
_USERS: dict[tuple[Hashable, str], int] = {}


class MirroredStore(StoreShorthands):
    """`GraphStore` over a server store `remote`, reads served by an in-process mirror
    (see module docstring). Backend-specific attributes (`epoch`) are the server's."""

    capabilities: ClassVar[StoreCapabilities] = StoreCapabilities(
        remote=False, batched_reads=False
    )

    def __init__(self, remote: GraphStore) -> None:
        self.remote = remote
        server_id = getattr(remote, "_server_id", None)
        server = server_id() if server_id is not None else (type(remote).__name__, id(remote))
        self._key = (server, remote.namespace)
        registry = _MIRRORS.get(self._key)
        first = registry is None
        registry = {} if registry is None else registry
        self._local = NetworkxStore(remote.namespace, graph_registry=registry)
        if first:
            # Loaded before it is shared: if the server cannot be read, no empty mirror
            # is left behind for the next store to trust.
            self._local.restore(remote.snapshot())
            _MIRRORS[self._key] = registry
        _USERS[self._key] = _USERS.get(self._key, 0) + 1
        self._closed = False

    @property
    def namespace(self) -> str:
        return self.remote.namespace

    @property
    def epoch(self) -> str | None:
        return getattr(self.remote, "epoch", None)

    # -- writes: the server first, then the mirror ------------------------------------

    def write(self, batch: WriteBatch) -> None:
        """Check the batch against the mirror, write it to the server, then the mirror.
        The mirror being exact, its verdict is the server's, so a server store that can
        (`write_checked`) skips its own label and endpoint checks."""
        self._local.check_write(batch)
        write_checked = getattr(self.remote, "write_checked", None)
        if write_checked is not None:
            write_checked(batch)
        else:
            self.remote.write(batch)
        self._local.apply_checked(batch)

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        self.remote.restore(snapshot)
        self._local.restore(snapshot)

    def clear(self) -> None:
        self.remote.clear()
        self._local.clear()

    # -- reads: the mirror ------------------------------------------------------------

    @property
    def revision(self) -> int:  # type: ignore[override]
        return self._local.revision

    def get(self, node_ids: Sequence[str]) -> list[NodeRecord]:
        return self._local.get(node_ids)

    def query(self, label: str | None = None, where: Mapping[str, Any] | None = None, *,
              missing: Sequence[str] = (), limit: int | None = None) -> list[NodeRecord]:
        return self._local.query(label, where, missing=missing, limit=limit)

    def neighbors(self, node_id: str, edge_type: str | None = None,
                  direction: Direction = "out") -> list[tuple[EdgeRecord, NodeRecord]]:
        return self._local.neighbors(node_id, edge_type, direction)

    def edges(self, edge_type: str | None = None) -> list[EdgeRecord]:
        return self._local.edges(edge_type)

    def count(self, label: str | None = None) -> int:
        return self._local.count(label)

    def structure(self, props: Sequence[str] = ()) -> GraphStructure:
        return self._local.structure(props)

    def snapshot(self) -> dict[str, Any]:
        return self._local.snapshot()

    def close(self) -> None:
        """Close the server connection; the mirror goes when its last store closes."""
        if self._closed:
            return
        self._closed = True
        self._local.close()
        self.remote.close()
        _USERS[self._key] -= 1
        if not _USERS[self._key]:
            del _USERS[self._key], _MIRRORS[self._key]
