"""Write statements of the Cypher layer (``cypher.py`` has the data model and the reads).

A ``WriteBatch`` becomes ONE statement (node upserts grouped by label, edge upserts by
type, ``UNWIND``-batched), so one agent-step write is one round trip and one transaction
on both servers. The statement first checks that no upserted node already exists with
another label (a node's label cannot change, as in the networkx backend) and that every
edge endpoint not created by the batch exists. If a check fails, its ``WHERE`` drops the
single pipeline row before any write clause runs, the statement returns no rows, nothing
is changed, and the store reads what was wrong and raises ``LabelChangeError`` or
``MissingEndpointError`` (both ``SchemaError``).

Several namespaces' batches can share one statement (`build_write_many`): every row names
its namespace, so a team step's writes behind read mirrors are one round trip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from memsim.memory.backends.captions import CAPTION_PROP, MADE_CAPTION, caption, id_caption
from memsim.memory.backends.cypher import (
    BASE_LABEL,
    COLLAPSE,
    ID_PROP,
    KEY_PROP,
    NS_PROP,
    Statement,
    check_namespace,
    check_user_props,
    node_key,
    plain_props,
)
from memsim.memory.schema import (
    LabelChangeError,
    MissingEndpointError,
    SchemaError,
    check_batch,
    check_edge_type,
    check_label,
)
from memsim.memory.store import EdgeRecord, NodeRecord, Props, WriteBatch


def _merge_props(old: Props, new: Mapping[str, Any]) -> Props:
    merged = dict(old)
    merged.update(plain_props(new))
    return merged


def _normalise(batch: WriteBatch) -> tuple[dict[str, NodeRecord], dict[tuple, EdgeRecord]]:
    """Merge repeated ids / edges within one batch in order, so the statement never
    MERGEs the same key twice and the result does not depend on the engine."""
    nodes: dict[str, NodeRecord] = {}
    for node in batch.nodes:
        old = nodes.get(node.id)
        if old is not None and old.label != node.label:
            raise LabelChangeError(
                f"node.label for {node.id!r} is {node.label!r} but the same batch gives it "
                f"label {old.label!r}; a node's label cannot change"
            )
        props = _merge_props(old.props if old else {}, node.props)
        nodes[node.id] = NodeRecord(node.id, node.label, props)
    edges: dict[tuple, EdgeRecord] = {}
    for edge in batch.edges:
        ident = (edge.src, edge.type, edge.dst)
        old_edge = edges.get(ident)
        props = _merge_props(old_edge.props if old_edge else {}, edge.props)
        edges[ident] = EdgeRecord(edge.src, edge.type, edge.dst, props)
    return nodes, edges


def validate_batch(batch: WriteBatch) -> None:
    """`check_batch` plus this layer's rules (reserved property names, finite floats)."""
    if not isinstance(batch, WriteBatch):
        raise SchemaError(f"batch must be a WriteBatch, got {type(batch).__name__}")
    check_batch(batch)
    for node in batch.nodes:
        check_user_props(node.props, f"node[{node.id}]")
    for edge in batch.edges:
        check_user_props(edge.props, f"edge[{edge.src}-{edge.type}->{edge.dst}]")


# After `SET n += row.props`: a node without a name of its own (none yet, or one this layer
# made, or the memory just removed its own) gets the caption: from this write's props, or
# the one it has, or from its id. A name of the memory's own clears the mark (_node_row).
# The WITH makes the props update visible first (FalkorDB evaluates one SET's items, and
# consecutive SETs, against the node as it was before them).
_SET_CAPTION = (
    f"WITH n, row, (n.{CAPTION_PROP} IS NULL OR n.{MADE_CAPTION} IS NOT NULL) AS made\n"
    f"SET n.{MADE_CAPTION} = CASE WHEN made THEN true END, "
    f"n.{CAPTION_PROP} = CASE WHEN made "
    f"THEN coalesce(row.caption, n.{CAPTION_PROP}, row.fallback) ELSE n.{CAPTION_PROP} END"
)


def _node_row(namespace: str, node: NodeRecord) -> dict[str, Any]:
    props = dict(node.props)
    if props.get(CAPTION_PROP) is not None:
        props[MADE_CAPTION] = None  # the memory's own name: not a made caption any more
    return {"key": node_key(namespace, node.id), "ns": namespace, "id": node.id,
            "label": node.label, "props": props, "caption": caption(node.label, node.props),
            "fallback": id_caption(node.id)}


def _group(items: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, row in items:
        groups.setdefault(name, []).append(row)
    return dict(sorted(groups.items()))


# One namespace's share of a write statement: its batch, normalised.
_Part = tuple[str, WriteBatch, dict[str, NodeRecord], dict[tuple, EdgeRecord]]


def _part(namespace: str, batch: WriteBatch) -> _Part:
    check_namespace(namespace)
    validate_batch(batch)
    nodes, edges = _normalise(batch)
    return namespace, batch, nodes, edges


def build_write(
    batch: WriteBatch, namespace: str, *, replace: bool = False, checks: bool = True
) -> tuple[Statement | None, list[str]]:
    """The one statement that applies `batch` to `namespace`, and the ids it requires to
    exist already (edge endpoints not upserted by the batch).

    With `replace`, the statement first deletes everything in the namespace (restore);
    then every endpoint must be in the batch. Returns ``(None, [])`` for an empty batch.
    Without `checks` the statement leaves out its label and endpoint checks, for a caller
    that has checked the batch against an exact copy of the namespace (they are about a
    third of a write's server time); then it is not atomic if those checks would fail.
    """
    part = _part(namespace, batch)
    _, _, nodes, edges = part
    required = sorted({e for edge in edges.values() for e in (edge.src, edge.dst)} - set(nodes))
    if replace and required:
        raise MissingEndpointError(
            f"edges refer to node ids not in the snapshot's nodes: {required[:10]}"
        )
    if not batch and not replace:
        return None, []

    params: dict[str, Any] = {"ns": namespace}
    writes = _apply_sections([part], params)
    sections: list[str] = []
    if nodes and not replace and checks:
        # count() skips nulls: only existing nodes whose label differs are counted.
        every = " + ".join(f"$n{i}" for i in range(len({n.label for n in nodes.values()})))
        sections.append(
            f"UNWIND {every} AS row\n"
            f"OPTIONAL MATCH (e:{BASE_LABEL} {{{KEY_PROP}: row.key, {NS_PROP}: $ns}})\n"
            "WITH count(CASE WHEN NOT row.label IN labels(e) THEN 1 END) AS clash\n"
            "WHERE clash = 0"
        )
    if required and checks:
        params["ends"] = [node_key(namespace, i) for i in required]
        sections.append(
            "UNWIND $ends AS k\n"
            f"OPTIONAL MATCH (e:{BASE_LABEL} {{{KEY_PROP}: k, {NS_PROP}: $ns}})\n"
            "WITH count(e) AS found\n"
            "WHERE found = size($ends)"
        )
    if replace:
        sections.append(
            f"OPTIONAL MATCH (old:{BASE_LABEL} {{{NS_PROP}: $ns}})\nDETACH DELETE old\n{COLLAPSE}"
        )
    sections += writes
    return Statement("\n".join(sections) + "\nRETURN ok", params), required


def build_write_many(writes: Sequence[tuple[str, WriteBatch]]) -> Statement | None:
    """One statement that applies each `(namespace, batch)` of `writes`, as if each were
    written alone by `build_write(..., checks=False)` (None if every batch is empty).

    The namespaces must differ: the statement upserts every namespace's nodes, then
    edges, then deletes, so two batches of one namespace would not apply in order. Keys
    embed the namespace, so batches of different namespaces touch disjoint items and the
    order between them does not matter. For a caller that checked every batch against an
    exact copy of its namespace (a read mirror), as `checks=False`.
    """
    parts = [_part(namespace, batch) for namespace, batch in writes]
    seen: set[str] = set()
    for namespace, *_ in parts:
        if namespace in seen:
            raise ValueError(f"writes name namespace {namespace!r} twice; each at most once")
        seen.add(namespace)
    if not any(batch for _, batch, _, _ in parts):
        return None
    params: dict[str, Any] = {}
    sections = _apply_sections(parts, params)
    return Statement("\n".join(sections) + "\nRETURN ok", params)


def _apply_sections(parts: Sequence[_Part], params: dict[str, Any]) -> list[str]:
    """The statement sections that upsert the parts' nodes, then their edges, then delete
    their edges and nodes; each row names its namespace (`row.ns`). Adds the rows to
    `params`."""
    sections: list[str] = []
    node_groups = _group(
        [(n.label, _node_row(ns, n)) for ns, _, nodes, _ in parts for n in nodes.values()]
    )
    for i, (label, rows) in enumerate(node_groups.items()):
        check_label(label)  # defence in depth: the only interpolated names are whitelisted
        params[f"n{i}"] = rows
        sections.append(
            f"UNWIND $n{i} AS row\n"
            f"MERGE (n:{BASE_LABEL}:{label} {{{KEY_PROP}: row.key}})\n"
            f"ON CREATE SET n.{NS_PROP} = row.ns, n.{ID_PROP} = row.id\n"
            "SET n += row.props\n"
            f"{_SET_CAPTION}\n"
            f"{COLLAPSE}"
        )
    edge_groups = _group(
        [
            (e.type, {"src": node_key(ns, e.src), "dst": node_key(ns, e.dst), "ns": ns,
                      "props": e.props})
            for ns, _, _, edges in parts
            for e in edges.values()
        ]
    )
    for i, (edge_type, rows) in enumerate(edge_groups.items()):
        check_edge_type(edge_type)
        params[f"e{i}"] = rows
        sections.append(
            f"UNWIND $e{i} AS row\n"
            f"MATCH (a:{BASE_LABEL} {{{KEY_PROP}: row.src}})\n"
            f"MATCH (b:{BASE_LABEL} {{{KEY_PROP}: row.dst}})\n"
            f"MERGE (a)-[r:{edge_type}]->(b)\n"
            f"ON CREATE SET r.{NS_PROP} = row.ns\n"
            "SET r += row.props\n"
            f"{COLLAPSE}"
        )
    delete_edges = _group(
        [
            (t, {"src": node_key(ns, s), "dst": node_key(ns, d), "ns": ns})
            for ns, batch, _, _ in parts
            for s, t, d in dict.fromkeys(batch.delete_edges)
        ]
    )
    for i, (edge_type, rows) in enumerate(delete_edges.items()):
        check_edge_type(edge_type)
        params[f"d{i}"] = rows
        sections.append(
            f"UNWIND $d{i} AS row\n"
            f"OPTIONAL MATCH (:{BASE_LABEL} {{{KEY_PROP}: row.src}})"
            f"-[r:{edge_type} {{{NS_PROP}: row.ns}}]->"
            f"(:{BASE_LABEL} {{{KEY_PROP}: row.dst}})\n"
            "DELETE r\n"
            f"{COLLAPSE}"
        )
    delete_nodes = [{"key": node_key(ns, i), "ns": ns}
                    for ns, batch, _, _ in parts for i in dict.fromkeys(batch.delete_nodes)]
    if delete_nodes:
        params["dn"] = delete_nodes
        sections.append(
            "UNWIND $dn AS row\n"
            f"OPTIONAL MATCH (n:{BASE_LABEL} {{{KEY_PROP}: row.key, {NS_PROP}: row.ns}})\n"
            "DETACH DELETE n\n"
            f"{COLLAPSE}"
        )
    return sections
