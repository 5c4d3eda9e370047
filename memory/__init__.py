"""memsim memory: a hierarchical knowledge-graph memory for agents, over pluggable stores.

Start with `open_store("networkx", namespace)` and `AgentMemory(store, agent_id)`; feed it
`Fact`s with `write`, read it with `retrieve(RetrievalQuery(...))`.
"""

from memsim.memory.agent_memory import AgentMemory
from memsim.memory.backends import open_store
from memsim.memory.facts import FACT_KINDS, Fact
from memsim.memory.forgetting import ForgetPolicy
from memsim.memory.recall import (
    TRAIL_LENGTH,
    AvoidRecord,
    ClaimRecord,
    CommitmentRecord,
    EventRecord,
    GoalRecord,
    HolderRecord,
    NeedRecord,
    PlaceRecord,
    Recall,
    RecipeRecord,
    RegionRecord,
    ReportRecord,
    RetrievalQuery,
    SummaryRecord,
    TeammateRecord,
    approx_tokens,
)
from memsim.memory.schema import SchemaError
from memsim.memory.shared_memory import SharedMemory
from memsim.memory.sharing import ExportSelector, PayloadTooLarge, payload_to_facts
from memsim.memory.store import (
    EdgeRecord,
    GraphStore,
    MemoryLostError,
    NodeRecord,
    StoreCapabilities,
    WriteBatch,
)

__all__ = [
    "FACT_KINDS",
    "TRAIL_LENGTH",
    "AgentMemory",
    "AvoidRecord",
    "ClaimRecord",
    "CommitmentRecord",
    "EdgeRecord",
    "EventRecord",
    "ExportSelector",
    "Fact",
    "ForgetPolicy",
    "GoalRecord",
    "GraphStore",
    "HolderRecord",
    "MemoryLostError",
    "NeedRecord",
    "NodeRecord",
    "PayloadTooLarge",
    "PlaceRecord",
    "Recall",
    "RecipeRecord",
    "RegionRecord",
    "ReportRecord",
    "RetrievalQuery",
    "SchemaError",
    "SharedMemory",
    "StoreCapabilities",
    "SummaryRecord",
    "TeammateRecord",
    "WriteBatch",
    "approx_tokens",
    "open_store",
    "payload_to_facts",
]
