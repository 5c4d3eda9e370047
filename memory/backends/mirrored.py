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
does not: the write raises as it would without the mirror, never vanishes. (Batched
writes, below, are the exception, and a failed send leaves the mirror unusable.)
The mirror is loaded from the server when the store opens (one read).

Batched writes: inside `batched_writes()` (a team step: `sim.episode.run_team` opens one
per step), a write is checked and applied to the mirror at once, so the agent's own reads
see it, and sent to the server when the block ends, together with every other write of
the block: per server, one statement for all the namespaces that wrote (`write_together`
on Cypher servers), another only where a namespace wrote twice. The server then costs a
team step what it cost an agent-step. If that send fails, the mirrors hold writes the
server does not: the send raises, and every later operation on a store of those
namespaces raises `StoreUnavailableError` until its last store closes. Closing a store
sends its pending writes first; nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import networkx as nx

from memsim.memory.backends.cypher import StoreUnavailableError
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
# Writes made inside `batched_writes`, in order, not yet sent; how deep the blocks are
# nested; and the mirrors whose writes a send lost (key -> the error), see module doc.
_PENDING: list[tuple[MirroredStore, WriteBatch]] = []
_DEPTH = 0
_DIVERGED: dict[tuple[Hashable, str], BaseException] = {}


@contextmanager
def batched_writes() -> Iterator[None]:
    """Defer mirrored stores' server writes to the end of the block and send them
    together (module docstring). Blocks nest: the outermost one sends."""
    global _DEPTH
    _DEPTH += 1
    try:
        yield
    finally:
        _DEPTH -= 1
        if not _DEPTH:
            flush_writes()


def flush_writes() -> None:
    """Send every deferred write now: per server, in order, one statement per run of
    writes whose namespaces differ. Raises the first send's error after marking the
    namespaces whose writes it lost."""
    if not _PENDING:
        return
    pending = list(_PENDING)
    _PENDING.clear()
    by_server: dict[Hashable, list[tuple[MirroredStore, WriteBatch]]] = {}
    for store, batch in pending:
        by_server.setdefault(store._key[0], []).append((store, batch))
    error: BaseException | None = None
    for writes in by_server.values():
        for i, chunk in enumerate(chunks := _distinct_namespace_runs(writes)):
            try:
                _send(chunk)
            except Exception as exc:
                for store, _ in (w for later in chunks[i:] for w in later):
                    _DIVERGED.setdefault(store._key, exc)
                error = error or exc
                break
    if error is not None:
        raise error


def _distinct_namespace_runs(
    writes: list[tuple[MirroredStore, WriteBatch]],
) -> list[list[tuple[MirroredStore, WriteBatch]]]:
    """`writes` cut, in order, into runs in which no namespace writes twice."""
    runs: list[list[tuple[MirroredStore, WriteBatch]]] = [[]]
    seen: set[str] = set()
    for store, batch in writes:
        if store.namespace in seen:
            runs.append([])
            seen.clear()
        runs[-1].append((store, batch))
        seen.add(store.namespace)
    return runs


def _send(writes: list[tuple[MirroredStore, WriteBatch]]) -> None:
    first = writes[0][0].remote
    write_together = getattr(first, "write_together", None)
    if write_together is not None and len(writes) > 1:
        write_together([(store.remote, batch) for store, batch in writes])
        return
    for store, batch in writes:
        store._write_remote(batch)


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
        (`write_checked`) skips its own label and endpoint checks. Inside
        `batched_writes` the mirror is written now and the server when the block ends."""
        self._check_usable()
        self._local.check_write(batch)
        if _DEPTH:
            self._local.apply_checked(batch)
            _PENDING.append((self, batch))
            return
        self._write_remote(batch)
        self._local.apply_checked(batch)

    def _write_remote(self, batch: WriteBatch) -> None:
        write_checked = getattr(self.remote, "write_checked", None)
        if write_checked is not None:
            write_checked(batch)
        else:
            self.remote.write(batch)

    def _check_usable(self) -> None:
        """Raise if a batched send lost writes this mirror holds (module docstring)."""
        lost = _DIVERGED.get(self._key)
        if lost is not None:
            raise StoreUnavailableError(
                f"memory namespace {self.namespace!r}: writes it holds did not reach the "
                f"server ({lost}); reopen the memory once every store of it has closed"
            ) from lost

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        self._check_usable()
        flush_writes()  # earlier writes first, as without batching
        self.remote.restore(snapshot)
        self._local.restore(snapshot)

    def clear(self) -> None:
        self._check_usable()
        flush_writes()
        self.remote.clear()
        self._local.clear()

    # -- reads: the mirror ------------------------------------------------------------

    @property
    def revision(self) -> int:  # type: ignore[override]
        return self._local.revision

    def get(self, node_ids: Sequence[str]) -> list[NodeRecord]:
        self._check_usable()
        return self._local.get(node_ids)

    def query(self, label: str | None = None, where: Mapping[str, Any] | None = None, *,
              missing: Sequence[str] = (), limit: int | None = None) -> list[NodeRecord]:
        self._check_usable()
        return self._local.query(label, where, missing=missing, limit=limit)

    def neighbors(self, node_id: str, edge_type: str | None = None,
                  direction: Direction = "out") -> list[tuple[EdgeRecord, NodeRecord]]:
        self._check_usable()
        return self._local.neighbors(node_id, edge_type, direction)

    def edges(self, edge_type: str | None = None) -> list[EdgeRecord]:
        self._check_usable()
        return self._local.edges(edge_type)

    def count(self, label: str | None = None) -> int:
        self._check_usable()
        return self._local.count(label)

    def structure(self, props: Sequence[str] = ()) -> GraphStructure:
        self._check_usable()
        return self._local.structure(props)

    def snapshot(self) -> dict[str, Any]:
        self._check_usable()
        return self._local.snapshot()

    def close(self) -> None:
        """Close the server connection; the mirror goes when its last store closes."""
        if self._closed:
            return
        try:
            if any(store is self for store, _ in _PENDING):
                flush_writes()
        finally:
            self._closed = True
            self._local.close()
            self.remote.close()
            _USERS[self._key] -= 1
            if not _USERS[self._key]:
                del _USERS[self._key], _MIRRORS[self._key]
                _DIVERGED.pop(self._key, None)
