"""A memory store of your own: it passes memsim's store conformance suite, then holds the
agents' memory in a scenario run.

`JsonFileStore` keeps each namespace (an agent's graph) in memory like the embedded
default and also on disk, one JSON file per namespace, rewritten after every write: a
memory that outlives the process (open the same directory again and it is there). It
extends the embedded backend, so the schema checks and queries are memsim's; a store
written from scratch implements `memsim.GraphStore` (write, get, query, neighbors, edges,
count, snapshot, restore, clear, close, namespace, capabilities) and is checked the same
way. Run it:

    python examples/custom_store.py --dir runs/json-memory

A scenario names it by import path (``[memory] backend = "my_package.store:JsonFileStore"``
with ``config = { directory = "..." }``) or, for a package, as an entry point:

    [project.entry-points."memsim.stores"]
    jsonfile = "my_package.store:JsonFileStore"
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from memsim import WriteBatch, load_scenario, run_episode
from memsim.memory.backends.networkx_store import NetworkxStore
from memsim.sim.scenario import validate_scenario
from memsim.testing import check_store


class JsonFileStore(NetworkxStore):
    """An embedded graph per namespace, saved to `<directory>/<namespace>.json`."""

    def __init__(self, namespace: str, *, directory: str) -> None:
        super().__init__(namespace, graph_registry=_GRAPHS.setdefault(directory, {}))
        self.path = Path(directory) / f"{quote(namespace, safe='')}.json"
        if self.count() == 0 and self.path.is_file():  # first opened in this process
            super().restore(json.loads(self.path.read_text(encoding="utf-8")))

    @staticmethod
    def check_config(directory: str = "") -> None:
        """Called when a scenario is loaded, before anything runs (optional)."""
        if not isinstance(directory, str) or not directory:
            raise ValueError("directory: a folder for the memory files")

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.snapshot()), encoding="utf-8")
        tmp.replace(self.path)  # never a half-written file

    def write(self, batch: WriteBatch) -> None:
        super().write(batch)  # validated and applied atomically first
        if batch:
            self._save()

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        super().restore(snapshot)
        self._save()

    def clear(self) -> None:
        super().clear()
        self.path.unlink(missing_ok=True)


_GRAPHS: dict[str, dict[str, Any]] = {}  # directory -> its namespaces' graphs in memory


def main(argv: list[str] | None = None) -> int:
    """Run the conformance suite on the store, then the `default` scenario with it;
    returns how many memory files the run left."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=None, help="where the memory files go")
    parser.add_argument("--max-steps", type=int, default=100)
    args = parser.parse_args(argv)
    directory = args.dir or tempfile.mkdtemp(prefix="memsim-json-")
    check_store(lambda namespace: JsonFileStore(namespace, directory=directory))
    print("JsonFileStore passes the store conformance suite")
    data = load_scenario("default").with_overrides(seed=0, max_steps=args.max_steps).model_dump()
    data["memory"].update(backend=f"{__name__}:JsonFileStore", config={"directory": directory})
    scenario = validate_scenario(data, source="default with JsonFileStore")
    summary = run_episode(scenario, seed=0, out_dir=None)
    files = sorted(Path(directory).glob("*.json"))
    print(f"{summary.steps} steps; memory nodes {summary.memory_nodes}; files in "
          f"{directory}: {[f.name for f in files]}")
    return len(files)


if __name__ == "__main__":
    main()
