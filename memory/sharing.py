"""Sharing between memories: `export_payload` sends a selected semantic subgraph as a
JSON-serialisable payload; `check_payload` and `payload_to_facts` turn a received one
into hearsay facts (`told_by:<sender>`) for `AgentMemory.merge`."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from memsim.memory import ids
from memsim.memory.facts import Fact
from memsim.memory.schema import SchemaError, check_node
from memsim.memory.store import EdgeRecord, GraphStore, NodeRecord

PAYLOAD_FORMAT = "memsim.memory/1"
# Bookkeeping props that stay local (not exported to teammates).
_LOCAL_PROPS = ("uses", "importance", "last_step")


class PayloadTooLarge(SchemaError):
    """An export/merge payload exceeds the configured node or byte limit."""


class ExportSelector(BaseModel):
    """Which semantic subgraph `AgentMemory.export` sends.

    `kinds`: located entity instances of these kinds; `since`: only those valid from this
    global step on (what is new); `observed_only`: only what this agent saw itself (not
    hearsay); `recipes`: all known recipes; `holders`: agent ids whose holdings to include
    (`"self"` means this agent); `regions`: the explored regions (with `since` and
    `observed_only` as for entities); `include_closed`: also send facts that are no
    longer valid; `gone` (needs `since`): also the entities of `kinds` that stopped being
    valid at or after `since` (seen gone: a mined deposit, a cut tree), with
    `observed_only` meaning that this agent saw them gone itself, so teammates stop
    heading for them and hearsay closures are not echoed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kinds: tuple[str, ...] = ()
    since: int | None = Field(default=None, ge=0)
    observed_only: bool = False
    recipes: bool = False
    regions: bool = False
    holders: tuple[str, ...] = ()
    include_closed: bool = False
    gone: bool = False
    max_per_kind: int = Field(default=64, ge=1, le=4096)

    @model_validator(mode="after")
    def _gone_needs_since(self) -> ExportSelector:
        if self.gone and self.since is None:
            raise ValueError("gone: needs since (the step from which closures are sent)")
        return self


def export_payload(
    store: GraphStore,
    agent_id: str,
    step_base: int,
    selector: ExportSelector | Mapping[str, Any],
    *,
    max_nodes: int,
    max_bytes: int,
    written_since: Collection[str] | None = None,
) -> dict[str, Any]:
    """The payload of the subgraph `selector` picks from agent `agent_id`'s `store`;
    `step_base` is that memory's clock offset (so receivers can map steps back).
    `written_since`: every node written since `selector.since`, when the caller knows
    them (then only those are looked at for entities and regions: the same answer,
    without a query over all of them)."""
    if not isinstance(selector, ExportSelector):
        selector = ExportSelector.model_validate(selector)
    self_id = ids.agent(agent_id)
    nodes: dict[str, NodeRecord] = {}
    edges: list[EdgeRecord] = []
    missing = () if selector.include_closed else ("valid_to",)
    new_only = selector.since is not None or selector.observed_only
    recent = None
    if written_since is not None and selector.since is not None:
        wanted = ("ent:",) * bool(selector.kinds) + ("region:",) * selector.regions
        recent = store.get(sorted(i for i in written_since if i.startswith(wanted))) if (
            wanted) else []

    def entities(kind: str, missing: tuple[str, ...] = missing,
                 limit: int | None = None if new_only else selector.max_per_kind
                 ) -> list[NodeRecord]:
        if recent is None:
            return store.query("Entity", {"kind": kind, "instance": True}, missing=missing,
                               limit=limit)
        return [r for r in recent if r.label == "Entity" and r.props.get("kind") == kind
                and r.props.get("instance") is True
                and not any(k in r.props for k in missing)]

    def selected(props: Mapping[str, Any], since_key: str) -> bool:
        """New enough (`since_key` at or after `selector.since`) and, when asked, observed."""
        if selector.since is not None and props.get(since_key, -1) < selector.since:
            return False
        return not selector.observed_only or props.get("provenance") == "observed"

    def gone(kind: str) -> list[NodeRecord]:
        """Entities of `kind` closed at or after `since` (by this agent's own eyes when
        `observed_only`)."""
        return [r for r in entities(kind, missing=(), limit=None)
                if r.props.get("valid_to", -1) >= (selector.since or 0)
                and (not selector.observed_only or r.props.get("closed_by") == "observed")]

    for kind in selector.kinds:
        taken = 0
        for rec in entities(kind):
            if not selected(rec.props, "valid_from"):
                continue
            nodes[rec.id] = rec
            taken += 1
            if taken >= selector.max_per_kind:
                break
        if selector.gone:
            for rec in gone(kind)[: selector.max_per_kind]:
                nodes.setdefault(rec.id, rec)
    if selector.regions:
        regions = (store.query("Region", {"explored": True}) if recent is None else
                   [r for r in recent if r.label == "Region" and r.props.get("explored") is True])
        for rec in regions:
            if selected(rec.props, "explored_at"):
                nodes[rec.id] = rec
    if selector.recipes:
        for rec in store.query("Recipe"):
            nodes[rec.id] = rec
            for edge, other in store.neighbors(rec.id, direction="out"):
                if edge.type in ("REQUIRES", "PRODUCES", "NEEDS_NEARBY"):
                    nodes[other.id] = other
                    edges.append(edge)
    for holder in selector.holders:
        aid = self_id if holder == "self" else ids.agent(holder)
        got = store.get([aid])
        if not got:
            continue
        nodes[aid] = got[0]
        for edge, other in store.neighbors(aid, "HOLDS", "out"):
            if selector.include_closed or "valid_to" not in edge.props:
                nodes[other.id] = other
                edges.append(edge)
    me = store.get([self_id])
    payload = {
        "format": PAYLOAD_FORMAT,
        "source": agent_id,
        "step": me[0].props.get("last_step", 0) if me else 0,
        "step_base": step_base,
        "nodes": [
            {"id": r.id, "label": r.label, "props": _public_props(r)} for r in nodes.values()
        ],
        "edges": [
            {
                "src": e.src,
                "type": e.type,
                "dst": e.dst,
                "props": {k: v for k, v in e.props.items() if k not in _LOCAL_PROPS},
            }
            for e in edges
        ],
    }
    check_size(payload, max_nodes, max_bytes)
    return payload


def _public_props(rec: NodeRecord) -> dict[str, Any]:
    if rec.label == "Agent":  # never leak the cursor / bookkeeping of an Agent node
        return {"name": rec.props.get("name", rec.id[6:])}
    return {k: v for k, v in rec.props.items() if k not in _LOCAL_PROPS}


def check_size(payload: Mapping[str, Any], max_nodes: int, max_bytes: int) -> None:
    """Raise `PayloadTooLarge` past either limit (the names say which setting to raise)."""
    n_nodes = len(payload.get("nodes", ()))
    if n_nodes > max_nodes:
        raise PayloadTooLarge(
            f"payload.nodes has {n_nodes} nodes; max {max_nodes} (max_payload_nodes)"
        )
    size = len(json.dumps(payload, separators=(",", ":")))
    if size > max_bytes:
        raise PayloadTooLarge(f"payload is {size} bytes; max {max_bytes} (max_payload_bytes)")


def check_payload(payload: Mapping[str, Any], max_nodes: int, max_bytes: int) -> None:
    """The checks a received payload passes before any of it is read."""
    if not isinstance(payload, Mapping) or payload.get("format") != PAYLOAD_FORMAT:
        raise SchemaError(f"payload.format must be {PAYLOAD_FORMAT!r}")
    for key in ("nodes", "edges"):
        if not isinstance(payload.get(key), list):
            raise SchemaError(f"payload.{key} must be a list")
    check_size(payload, max_nodes, max_bytes)


def payload_to_facts(payload: Mapping[str, Any], sender: str) -> list[Fact]:
    """Interpret an `export` payload as hearsay facts from `sender`.

    Located entities become `seen_at` (+ `gone_from` when closed), recipes become `recipe`
    facts, HOLDS edges become `holds`; places, regions and kind nodes are implied. Anything
    malformed raises `SchemaError` naming the node or edge and the field (never another
    error: a channel validates messages with this before it accepts them)."""
    try:
        base = payload.get("step_base", 0)
        raw_nodes, raw_edges = payload["nodes"], payload["edges"]
    except (AttributeError, KeyError, TypeError) as exc:
        raise SchemaError(f"payload must be a mapping with nodes and edges: {exc!r}") from None
    if not _is_int(base) or base < 0:
        raise SchemaError(f"payload.step_base must be a non-negative int, got {base!r}")
    for key, value in (("nodes", raw_nodes), ("edges", raw_edges)):
        if not isinstance(value, list):
            raise SchemaError(f"payload.{key} must be a list, got {type(value).__name__}")
    nodes: dict[str, Mapping[str, Any]] = {}
    where: dict[str, str] = {}
    for index, raw in enumerate(raw_nodes):
        try:
            rec = NodeRecord(raw["id"], raw["label"], dict(raw.get("props") or {}))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SchemaError(f"payload.nodes[{index}] needs id, label and props (a mapping): "
                              f"{exc!r}") from None
        if not isinstance(rec.label, str):
            raise SchemaError(f"payload.nodes[{index}].label must be a string, "
                              f"got {rec.label!r}")
        try:
            check_node(rec)
        except SchemaError as exc:
            raise SchemaError(f"payload.nodes[{index}]: {exc}") from None
        nodes[rec.id] = {"label": rec.label, **rec.props}
        where[rec.id] = f"payload.nodes[{index}] ({rec.id})"
    out_edges: dict[str, list[Mapping[str, Any]]] = {}
    for index, raw in enumerate(raw_edges):
        if not isinstance(raw, Mapping) or not {"src", "type", "dst"} <= raw.keys():
            raise SchemaError(f"payload.edges[{index}] needs src, type, dst and props")
        props = raw.get("props") or {}
        if not all(isinstance(raw[k], str) for k in ("src", "type", "dst")) or not isinstance(
                props, Mapping):
            raise SchemaError(f"payload.edges[{index}]: src, type and dst must be strings "
                              "and props a mapping")
        out_edges.setdefault(raw["src"], []).append({**raw, "props": props})
    facts: list[Fact] = []
    for node_id, p in nodes.items():
        try:
            facts.extend(_node_facts(node_id, p, nodes, out_edges, base, f"told_by:{sender}"))
        except KeyError as exc:
            raise SchemaError(f"{where[node_id]}.props.{exc.args[0]}: required for a "
                              f"{p['label']} node") from None
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'fact'}: {e['msg']}"
                                 for e in exc.errors())
            raise SchemaError(f"{where[node_id]}: not a valid fact: {problems}") from None
        except (TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise SchemaError(f"{where[node_id]}: {exc}") from None
    return facts


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _node_facts(node_id: str, p: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]],
                out_edges: Mapping[str, list[Mapping[str, Any]]], base: int,
                provenance: str) -> list[Fact]:
    """The facts one exported node stands for (raises KeyError / ValueError / TypeError /
    ValidationError on a malformed one; `payload_to_facts` names the node)."""

    def local(step: Any, field: str) -> int | None:
        # Payload steps are the sender's global clock; facts carry episode-local steps.
        if step is None:
            return None
        if not _is_int(step):
            raise ValueError(f"{field} must be an int step, got {step!r}")
        return max(0, step - base)

    facts: list[Fact] = []
    label = p["label"]
    if label == "Entity" and p.get("instance"):
        place = (p["x"], p["y"])
        entity_id = None
        if node_id != f"ent:{p['kind']}@{place[0]},{place[1]}":
            entity_id = node_id.removeprefix("ent:")
        common = {
            "subject": p["kind"],
            "place": place,
            "entity_id": entity_id,
            "provenance": provenance,
            "confidence": p.get("confidence", 1.0),
        }
        facts.append(Fact(kind="seen_at", category=p.get("category"),
                          observed_step=local(p.get("valid_from"), "props.valid_from"),
                          **common))
        if "valid_to" in p:
            facts.append(Fact(kind="gone_from",
                              observed_step=local(p["valid_to"], "props.valid_to"), **common))
    elif label == "Region" and p.get("explored"):
        size = p["size"]
        facts.append(Fact(kind="explored", subject=provenance.removeprefix("told_by:"),
                          place=(p["rx"] * size, p["ry"] * size), provenance=provenance,
                          observed_step=local(p.get("explored_at"), "props.explored_at")))
    elif label == "Recipe":
        items, counts = p.get("requires_items", []), p.get("requires_counts", [])
        if not isinstance(items, list) or not isinstance(counts, list) or len(items) != len(
                counts):
            raise ValueError("props.requires_items and props.requires_counts must be lists "
                             "of the same length")
        nearby = p.get("nearby", [])
        if not isinstance(nearby, list):
            raise ValueError(f"props.nearby must be a list, got {nearby!r}")
        facts.append(Fact(kind="recipe", subject=p["name"], object=p["produces"],
                          count=p.get("count", 1), requires=dict(zip(items, counts, strict=True)),
                          nearby=tuple(nearby), provenance=provenance,
                          confidence=p.get("confidence", 1.0),
                          observed_step=local(p.get("valid_from"), "props.valid_from")))
    elif label == "Agent":
        for edge in out_edges.get(node_id, []):
            kind_node = nodes.get(edge["dst"], {})
            e = edge["props"]
            if edge["type"] != "HOLDS" or "kind" not in kind_node:
                continue
            facts.append(Fact(
                kind="holds",
                subject=p.get("name", node_id.removeprefix("agent:")),
                object=kind_node["kind"],
                count=0 if "valid_to" in e else e.get("count", 0),
                provenance=provenance,
                confidence=e.get("confidence", 1.0),
                observed_step=local(e.get("valid_to", e.get("valid_from")),
                                    f"edge {node_id}-HOLDS->{edge['dst']} valid_to/valid_from"),
            ))
    return facts
