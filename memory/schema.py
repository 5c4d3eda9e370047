"""The memory graph's vocabulary: which node labels and relationship types exist.

Every backend validates against these whitelists, so a Cypher backend never builds a
query from an unchecked label, and a typo fails loudly with the allowed values named.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from memsim.memory.store import EdgeRecord, NodeRecord, WriteBatch

# Episodic hierarchy: Goal ▸ Subgoal ▸ Chunk ▸ Event. Semantic layer: the rest.
NODE_LABELS: frozenset[str] = frozenset(
    {
        "Goal",
        "Subgoal",
        "Chunk",
        "Event",
        "Entity",  # a resource, item, station, creature instance or kind
        "Place",  # a cell
        "Region",  # a coarser area that places are part of
        "Recipe",  # a skill / recipe learned
        "Agent",  # self or a teammate
        "Message",  # a received communication, for provenance
        # working memory
        "Claim",  # who goes for a target
        "Commitment",  # an item promised to or by a teammate
        "Avoid",  # a target set aside for a while
    }
)

EDGE_TYPES: frozenset[str] = frozenset(
    {
        "HAS_SUBGOAL",
        "HAS_CHUNK",
        "HAS_EVENT",
        "NEXT",
        "LOCATED_AT",
        "REQUIRES",
        "PRODUCES",
        "NEEDS_NEARBY",
        "HOLDS",
        "SEEN_BY",
        "TOLD_BY",
        "PART_OF",
        "ABOUT",
        "CLAIMED_BY",
        "FAILED",
        "WITH",  # a commitment's other agent
    }
)

# Property names become Cypher map keys; keep them identifier-shaped.
_MAX_STRING = 4096
_MAX_LIST = 256
_SCALARS = (str, int, float, bool)
# Every backend stores 64-bit signed integers (FalkorDB would clamp larger ones silently).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Control characters (C0, DEL, C1) other than tab and newline. Ids may hold none and may
# not end in whitespace: FalkorDB cannot find such a node again (it trims the id), so each
# upsert would add one more. No string may hold NUL (a Cypher parse error).
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class SchemaError(ValueError):
    """Bad input to the memory layer: names the field and what is allowed."""


class MissingEndpointError(SchemaError):
    """An edge in a write names a node that does not exist in the namespace."""


class LabelChangeError(SchemaError):
    """A write gives an existing node a different label (labels are fixed at creation)."""


def check_label(label: str) -> str:
    if label not in NODE_LABELS:
        raise SchemaError(f"label {label!r} is not allowed; allowed labels: {sorted(NODE_LABELS)}")
    return label


def check_edge_type(edge_type: str) -> str:
    if edge_type not in EDGE_TYPES:
        raise SchemaError(
            f"edge type {edge_type!r} is not allowed; allowed types: {sorted(EDGE_TYPES)}"
        )
    return edge_type


_GOOD_IDS: set[str] = set()  # ids that passed `check_id` (the same ids recur every write)
_GOOD_IDS_MAX = 200_000


def check_id(node_id: Any, field: str = "id") -> str:
    if type(node_id) is str and node_id in _GOOD_IDS:
        return node_id
    if not isinstance(node_id, str) or not node_id:
        raise SchemaError(f"{field} must be a non-empty string, got {node_id!r}")
    if len(node_id) > 512:
        raise SchemaError(f"{field} must be at most 512 characters, got {len(node_id)}")
    bad = CONTROL_CHARS.search(node_id)
    if bad:
        raise SchemaError(f"{field} must not contain control characters other than tab and "
                          f"newline, got {bad.group()!r} in {node_id[:60]!r}")
    if node_id != node_id.rstrip():
        raise SchemaError(f"{field} must not end with whitespace, got {node_id[-60:]!r}")
    if type(node_id) is str:
        if len(_GOOD_IDS) >= _GOOD_IDS_MAX:
            _GOOD_IDS.clear()
        _GOOD_IDS.add(node_id)
    return node_id


def check_scalar(value: Any, field: str) -> None:
    """A stored scalar: strings without NUL, integers within 64 bits (bools are fine)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise SchemaError(f"{field} must not contain a NUL character")
    elif isinstance(value, int) and not isinstance(value, bool) and not (
            INT64_MIN <= value <= INT64_MAX):
        raise SchemaError(f"{field} is {value}; allowed: a 64-bit integer "
                          f"({INT64_MIN} to {INT64_MAX})")


def check_props(props: Mapping[str, Any], where: str) -> None:
    """Property maps hold scalars or flat lists of one scalar type; None removes."""
    if not isinstance(props, Mapping):
        raise SchemaError(f"{where}.props must be a mapping, got {type(props).__name__}")
    if _plain(props):
        return
    for key, value in props.items():
        _check_value(key, value, where)


def _plain(props: Mapping[str, Any]) -> bool:
    """Every property is of a common exact type and within bounds (checked inline: a
    write of a step checks hundreds of them); False sends the map to the full check."""
    for key, value in props.items():
        kind = type(value)
        if type(key) is not str or not key.isidentifier():
            return False
        if value is None or kind is float or kind is bool:
            continue
        if kind is int and INT64_MIN <= value <= INT64_MAX:
            continue
        if kind is str and len(value) <= _MAX_STRING and "\x00" not in value:
            continue
        if (kind is list or kind is tuple) and _plain_list(value):
            continue
        return False
    return True


def _plain_list(value: list[Any] | tuple[Any, ...]) -> bool:
    """A short list of one common exact type, within bounds (C-speed checks)."""
    if len(value) > _MAX_LIST:
        return False
    if not value:
        return True
    first = type(value[0])
    if not all(type(v) is first for v in value):
        return False
    if first is int:
        return min(value) >= INT64_MIN and max(value) <= INT64_MAX
    if first is str:
        return all(len(v) <= _MAX_STRING and "\x00" not in v for v in value)
    return first is float or first is bool


def _check_value(key: Any, value: Any, where: str) -> None:
    """One property, checked in full (raises naming the field)."""
    if not isinstance(key, str) or not key.isidentifier():
        raise SchemaError(f"{where}.props key {key!r} must be an identifier-like string")
    field = f"{where}.props.{key}"
    if value is None or isinstance(value, _SCALARS):
        if isinstance(value, str) and len(value) > _MAX_STRING:
            raise SchemaError(f"{field} is {len(value)} characters; max {_MAX_STRING}")
        check_scalar(value, field)
        return
    if isinstance(value, list | tuple):
        if len(value) > _MAX_LIST:
            raise SchemaError(f"{field} has {len(value)} items; max {_MAX_LIST}")
        kinds = {type(v) for v in value}
        if not all(isinstance(v, _SCALARS) for v in value) or len(kinds) > 1:
            raise SchemaError(
                f"{field} must be a list of one scalar type (str, int, float or bool)"
            )
        for item in value:
            check_scalar(item, f"{field}[]")
        return
    raise SchemaError(
        f"{field} has type {type(value).__name__}; allowed: str, int, float, bool, "
        "a list of one of those, or None (remove)"
    )


def check_node(node: NodeRecord) -> None:
    check_id(node.id, "node.id")
    check_label(node.label)
    if not (isinstance(node.props, Mapping) and _plain(node.props)):
        check_props(node.props, f"node[{node.id}]")


def check_edge(edge: EdgeRecord) -> None:
    check_id(edge.src, "edge.src")
    check_id(edge.dst, "edge.dst")
    check_edge_type(edge.type)
    if not (isinstance(edge.props, Mapping) and _plain(edge.props)):
        check_props(edge.props, f"edge[{edge.src}-{edge.type}->{edge.dst}]")


def check_batch(batch: WriteBatch) -> None:
    """Validate a whole batch before any of it is applied (so nothing half-applies)."""
    for node in batch.nodes:
        check_node(node)
    for edge in batch.edges:
        check_edge(edge)
    for src, edge_type, dst in batch.delete_edges:
        check_id(src, "delete_edges.src")
        check_edge_type(edge_type)
        check_id(dst, "delete_edges.dst")
    for node_id in batch.delete_nodes:
        check_id(node_id, "delete_nodes")


def snapshot_to_batch(snapshot: Mapping[str, Any]) -> WriteBatch:
    """Turn a `snapshot()` payload back into a `WriteBatch` (shared by restore paths)."""
    if not isinstance(snapshot, Mapping):
        raise SchemaError(f"snapshot must be a mapping, got {type(snapshot).__name__}")
    for key in ("nodes", "edges"):
        if not isinstance(snapshot.get(key), list):
            raise SchemaError(f"snapshot.{key} must be a list")
    try:
        nodes = [
            NodeRecord(n["id"], n["label"], dict(n.get("props") or {})) for n in snapshot["nodes"]
        ]
        edges = [
            EdgeRecord(e["src"], e["type"], e["dst"], dict(e.get("props") or {}))
            for e in snapshot["edges"]
        ]
    except (KeyError, TypeError) as exc:
        raise SchemaError(
            f"snapshot nodes need id/label/props and edges need src/type/dst/props: {exc!r}"
        ) from exc
    return WriteBatch(nodes=nodes, edges=edges)
