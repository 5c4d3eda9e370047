"""Neo4j backend: the shared Cypher layer over the official `neo4j` driver (Bolt).

Works on Community Edition: one database, namespaces as a ``_ns`` property, and a
single-property uniqueness constraint on ``MemNode._key`` (namespace + id). Each
``WriteBatch`` is one statement in one ``session.execute_write`` managed transaction
(the driver retries transient errors; batches are idempotent, so a retry is safe).
Multi-statement reads (``snapshot``) share one ``execute_read`` transaction.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from typing import Any

from neo4j import Driver, GraphDatabase, ManagedTransaction
from neo4j.exceptions import AuthError, ConfigurationError, ServiceUnavailable, SessionExpired

from memsim.memory.backends.cypher import NEO4J, Statement, StoreUnavailableError
from memsim.memory.backends.cypher_store import CypherStore

ENV_URI = "MEMSIM_NEO4J_URI"
ENV_USER = "MEMSIM_NEO4J_USER"
ENV_PASSWORD = "MEMSIM_NEO4J_PASSWORD"
ENV_DATABASE = "MEMSIM_NEO4J_DATABASE"
_ENV_HELP = (
    f"pass uri=/user=/password=/database= or set {ENV_URI}, {ENV_USER}, {ENV_PASSWORD}, "
    f"{ENV_DATABASE}"
)
_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


def resolve_config(
    uri: str | None = None,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
) -> dict[str, str | None]:
    """Connection settings: keyword arguments first, then the MEMSIM_NEO4J_* variables."""
    uri = uri or os.environ.get(ENV_URI) or None
    if not uri:
        raise ValueError(f"Neo4j config uri is not set: {_ENV_HELP} (e.g. bolt://localhost:7687)")
    if not isinstance(uri, str) or uri.split("://", 1)[0] not in _SCHEMES or "://" not in uri:
        raise ValueError(
            f"Neo4j config uri {uri!r} must look like bolt://host:7687; "
            f"allowed schemes: {list(_SCHEMES)}"
        )
    password = password if password is not None else os.environ.get(ENV_PASSWORD)
    user = user or os.environ.get(ENV_USER) or ("neo4j" if password is not None else None)
    database = database or os.environ.get(ENV_DATABASE) or None
    return {"uri": uri, "user": user, "password": password, "database": database}


def _read_all(tx: ManagedTransaction, statements: Sequence[Statement]) -> list[list[list[Any]]]:
    return [tx.run(s.text, s.params).values() for s in statements]


class Neo4jStore(CypherStore):
    """A namespace in a Neo4j database (Community or Enterprise, 5.x)."""

    dialect = NEO4J

    def __init__(
        self,
        namespace: str,
        *,
        uri: str | None = None,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
        connection_timeout: float = 5.0,
        max_transaction_retry_time: float = 15.0,
    ) -> None:
        super().__init__(namespace)
        config = resolve_config(uri, user, password, database)
        self._uri = str(config["uri"])
        self._database = config["database"]
        auth = (config["user"], config["password"]) if config["user"] is not None else None
        try:
            self._driver: Driver = GraphDatabase.driver(
                self._uri,
                auth=auth,
                connection_timeout=connection_timeout,
                max_transaction_retry_time=max_transaction_retry_time,
            )
        except (ConfigurationError, ValueError) as exc:
            raise ValueError(f"Neo4j config uri {self._uri!r} is invalid: {exc}") from exc
        try:
            self._call(self._driver.verify_connectivity)
            self._ensure_schema()
        except BaseException:
            self._driver.close()
            raise

    def _call(self, fn: Any, *args: Any) -> Any:
        if self._closed:
            raise RuntimeError(f"Neo4jStore({self.namespace!r}) is closed")
        try:
            return fn(*args)
        except AuthError as exc:
            raise StoreUnavailableError(
                f"Neo4j at {self._uri} rejected the credentials ({exc.message}); {_ENV_HELP}"
            ) from exc
        except (ServiceUnavailable, SessionExpired) as exc:
            raise StoreUnavailableError(
                f"Neo4j at {self._uri} is unreachable ({exc}); start Neo4j or point memsim "
                f"at one: {_ENV_HELP}"
            ) from exc

    def _server_id(self) -> Hashable:
        return (self._uri, self._database)

    def _run_schema(self, text: str) -> None:
        def run() -> None:
            with self._driver.session(database=self._database) as session:
                session.run(text).consume()

        self._call(run)

    def _run_write(self, statement: Statement) -> list[list[Any]]:
        def run() -> list[list[Any]]:
            with self._driver.session(database=self._database) as session:
                return session.execute_write(_read_all, [statement])[0]

        return self._call(run)

    def _run_read(self, statements: Sequence[Statement]) -> list[list[list[Any]]]:
        def run() -> list[list[list[Any]]]:
            with self._driver.session(database=self._database) as session:
                return session.execute_read(_read_all, statements)

        return self._call(run)

    def close(self) -> None:
        """Close the driver."""
        if not self._closed:
            super().close()
            self._driver.close()
