"""A Neo4j *statement recorder* for the Cypher lint test (test_neo4j_lint.py).

`Neo4jStatementRecorder` is NOT a Neo4j store and talks to no Neo4j: it is the shared
`CypherStore` with the Neo4j dialect, exactly as `Neo4jStore` builds its statements, whose
runners record every statement (text and parameters) and then run it on a FalkorDB server
so that callers get real answers and take the paths they would take on Neo4j. The
builders in ``cypher.py`` are the same for both dialects except the schema statements:
those are recorded in Neo4j's form and not run (the FalkorDB store underneath created
FalkorDB's own indexes).

`StatementLog` keeps one entry per distinct text (the first parameters seen), and can be
saved to / loaded from a JSON-lines file (the lint test runs the memory test suites in a
pytest subprocess that records through `store_factory`, see conftest.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

from memsim.memory.backends.cypher import NEO4J, Statement
from memsim.memory.backends.cypher_store import CypherStore
from memsim.memory.backends.falkordb_store import FalkorDBStore

# Set by the lint test for its pytest subprocess: store_factory then also runs every
# memory test on the recorder and appends the statements to this file.
RECORD_ENV = "MEMSIM_RECORD_NEO4J_STATEMENTS"


class StatementLog:
    """Distinct statements by text, in the order first seen, with their first parameters."""

    def __init__(self) -> None:
        self.statements: dict[str, dict[str, Any]] = {}
        self.sent = 0  # statements recorded, repeats included

    def add(self, text: str, params: dict[str, Any]) -> None:
        self.sent += 1
        self.statements.setdefault(text, params)

    def extend(self, other: StatementLog) -> None:
        self.sent += other.sent
        for text, params in other.statements.items():
            self.statements.setdefault(text, params)

    def save(self, path: Path) -> None:
        with path.open("a", encoding="utf-8") as file:
            for text, params in self.statements.items():
                file.write(json.dumps({"text": text, "parameters": params}) + "\n")

    @classmethod
    def load(cls, path: Path) -> StatementLog:
        log = cls()
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            log.add(item["text"], item["parameters"])
        return log


class Neo4jStatementRecorder(CypherStore):
    """Records the statements the Neo4j backend would send; runs them on FalkorDB."""

    dialect = NEO4J

    def __init__(self, namespace: str, *, log: StatementLog, **falkordb_config: Any) -> None:
        super().__init__(namespace)
        self._log = log
        self._inner = FalkorDBStore(namespace, **falkordb_config)
        self.epoch = self._inner.epoch
        self._schema_id = uuid.uuid4().hex  # each recorder records the schema statements
        self._ensure_schema()

    def _record(self, statement: Statement) -> None:
        self._log.add(statement.text, statement.params)

    def _server_id(self) -> Hashable:
        return ("neo4j-statement-recorder", self._schema_id)

    def _run_schema(self, text: str) -> None:
        self._record(Statement(text, {}))

    def _run_write(self, statement: Statement) -> list[list[Any]]:
        self._record(statement)
        return self._inner._run_write(statement)

    def _run_read(self, statements: Sequence[Statement]) -> list[list[list[Any]]]:
        for statement in statements:
            self._record(statement)
        return self._inner._run_read(statements)

    def close(self) -> None:
        if not self._closed:
            super().close()
            self._inner.close()
