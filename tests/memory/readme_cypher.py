"""The Cypher queries of the README's Neo4j section, for the tests that lint them
(test_neo4j_lint.py) and run them on FalkorDB (test_readme_queries.py)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_queries() -> dict[str, str]:
    """``{comment: query}`` for each ``// comment`` + query of the section's cypher blocks."""
    text = README.read_text(encoding="utf-8")
    section = re.split(r"\n#{1,3} ", text.split("\n### Neo4j\n", 1)[1], maxsplit=1)[0]
    queries: dict[str, str] = {}
    for block in re.findall(r"```cypher\n(.*?)```", section, flags=re.S):
        for comment, query in re.findall(r"^// (.*)\n((?:(?!//).*\n)+)", block, flags=re.M):
            queries[comment.strip()] = query.strip()
    return queries
