"""memsim: multi-agent simulation environments with hierarchical knowledge-graph memory.

This file is the `memsim` package: pyproject.toml maps the import namespace onto the
repository's top-level folders (`memsim.envs` is `envs/`, `memsim.agents` is `agents/`,
...), so installing memsim claims no other top-level name. Importing it registers the
Gymnasium ids (`memsim/Crafter-v0`, the navigation and manipulation memory tasks).
"""

import memsim.envs  # noqa: F401 - registers the Gymnasium ids

__version__ = "0.2.0"
