"""memsim: multi-agent simulation environments with hierarchical knowledge-graph memory.

This file is the `memsim` package: pyproject.toml maps the import namespace onto the
repository's top-level folders (`memsim.envs` is `envs/`, `memsim.agents` is `agents/`,
...), so installing memsim claims no other top-level name. Importing it registers the
Gymnasium ids (`memsim/Crafter-v0`, the navigation and manipulation memory tasks).

The contracts a researcher implements to bring their own parts are importable from here
(each is loaded when first used, so ``import memsim`` stays light):

- **policies**: `Policy` (``reset``, ``recall_query``, ``decide``), what it decides from,
  `AgentContext`, and what it returns, `Decision` (an action, `Message`s, memory notes as
  `Fact`s, a reason); `RetrievalQuery` and `Recall` are its memory's question and answer.
  A policy keeps nothing between steps: what it knows later lives in its memory
  (`memsim.testing.check_policy` checks this).
- **worlds**: `WorldFamily` (the runner's view of a family), `MemsimWorld` (what its
  environment offers), `WorldParallelEnv` (the template the built-in worlds subclass),
  `Perception` (observation to typed view and facts), `register_family`.
- **memory stores**: `GraphStore` and `StoreCapabilities`, with `NodeRecord`,
  `EdgeRecord`, `WriteBatch` and `SchemaError`; `memsim.testing.check_store` is the
  conformance suite.
- **running**: `load_scenario`, `Scenario`, `run_episode`; `FlatObservations` for RL
  libraries; `PluginError`, the error of plug-ins that cannot be found or used.

Plug-ins are named by import path (``"package.module:Name"``) or registered through the
entry-point groups ``memsim.policies``, ``memsim.worlds`` and ``memsim.stores`` (see
`memsim.plugins`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import memsim.envs  # noqa: F401 - registers the Gymnasium ids

__version__ = "0.3.0"

_EXPORTS: dict[str, str] = {
    "AgentContext": "memsim.agents.policy",
    "Decision": "memsim.agents.policy",
    "Perception": "memsim.agents.policy",
    "Policy": "memsim.agents.policy",
    "Message": "memsim.agents.messages",
    "Fact": "memsim.memory",
    "Recall": "memsim.memory",
    "RetrievalQuery": "memsim.memory",
    "AgentMemory": "memsim.memory",
    "open_store": "memsim.memory",
    "GraphStore": "memsim.memory.store",
    "StoreCapabilities": "memsim.memory.store",
    "NodeRecord": "memsim.memory.store",
    "EdgeRecord": "memsim.memory.store",
    "WriteBatch": "memsim.memory.store",
    "SchemaError": "memsim.memory.schema",
    "MemsimWorld": "memsim.envs.base",
    "WorldParallelEnv": "memsim.envs.base",
    "SingleAgentEnv": "memsim.envs.base",
    "INFO_KEYS": "memsim.envs.base",
    "FlatObservations": "memsim.envs.flat",
    "WorldFamily": "memsim.sim.families",
    "register_family": "memsim.sim.families",
    "Scenario": "memsim.sim.scenario",
    "ScenarioError": "memsim.sim.scenario",
    "load_scenario": "memsim.sim.scenario",
    "run_episode": "memsim.sim.episode",
    "PluginError": "memsim.plugins",
}

__all__ = [
    "INFO_KEYS",
    "AgentContext",
    "AgentMemory",
    "Decision",
    "EdgeRecord",
    "Fact",
    "FlatObservations",
    "GraphStore",
    "MemsimWorld",
    "Message",
    "NodeRecord",
    "Perception",
    "PluginError",
    "Policy",
    "Recall",
    "RetrievalQuery",
    "Scenario",
    "ScenarioError",
    "SchemaError",
    "SingleAgentEnv",
    "StoreCapabilities",
    "WorldFamily",
    "WorldParallelEnv",
    "WriteBatch",
    "load_scenario",
    "open_store",
    "register_family",
    "run_episode",
]

if TYPE_CHECKING:  # what type checkers and readers see; at run time, __getattr__ loads
    from memsim.agents.messages import Message
    from memsim.agents.policy import AgentContext, Decision, Perception, Policy
    from memsim.envs.base import INFO_KEYS, MemsimWorld, SingleAgentEnv, WorldParallelEnv
    from memsim.envs.flat import FlatObservations
    from memsim.memory import AgentMemory, Fact, Recall, RetrievalQuery, open_store
    from memsim.memory.schema import SchemaError
    from memsim.memory.store import (
        EdgeRecord,
        GraphStore,
        NodeRecord,
        StoreCapabilities,
        WriteBatch,
    )
    from memsim.plugins import PluginError
    from memsim.sim.episode import run_episode
    from memsim.sim.families import WorldFamily, register_family
    from memsim.sim.scenario import Scenario, ScenarioError, load_scenario


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'memsim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # loaded once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
