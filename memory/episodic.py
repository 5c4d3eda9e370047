"""The episodic layer: what the agent did, and what it was told.

`Goal` -HAS_SUBGOAL-> `Subgoal` -HAS_CHUNK-> `Chunk` -HAS_EVENT-> `Event`; goals,
subgoals, chunks and events are each chained in time order by NEXT. A chunk is
consolidated (a summary text plus counts on the Chunk node) after `chunk_size` events or
when its subgoal / goal ends, so retrieval reads summaries before events. Teammates'
reports are `Message` -TOLD_BY-> `Agent`. The agent's own node holds the cursor (current
goal / subgoal / chunk, recent failure chunks), so the state snapshots with the store.
"""

from __future__ import annotations

from typing import Any

from memsim.memory import ids
from memsim.memory.facts import Fact
from memsim.memory.forgetting import IMPORTANCE
from memsim.memory.recall import TRAIL_LENGTH
from memsim.memory.semantic import ensure_agent, ensure_kind, note_told
from memsim.memory.transaction import Tx

_RECENT_FAILS = 8
_RECENT_SUBGOALS = 8


class Episodes:
    """Applies `goal`, `subgoal`, `event` and `report` facts of the agent `self_id` to a
    `Tx`; each writer takes the fact and its global time `t`."""

    def __init__(self, self_id: str, chunk_size: int) -> None:
        self.self_id = self_id
        self.chunk_size = chunk_size

    def _me(self, tx: Tx) -> dict[str, Any]:
        return tx.node(self.self_id) or {}

    def current_goal(self, tx: Tx, step: int) -> str:
        gid = self._me(tx).get("current_goal")
        if gid is not None and tx.node(gid) is not None:
            return gid
        return self.open_goal(tx, "idle", step, "observed", 1.0, implicit=True)

    def open_goal(
        self,
        tx: Tx,
        name: str,
        t: int,
        provenance: str,
        confidence: float,
        *,
        implicit: bool = False,
    ) -> str:
        me = self._me(tx)
        gid = ids.goal(t, name)
        tx.put(
            gid,
            "Goal",
            {
                "name": name,
                "status": "active",
                "implicit": implicit,
                "valid_from": t,
                "provenance": provenance,
                "confidence": confidence,
                "last_step": t,
                "importance": IMPORTANCE["Goal"],
                "uses": 0,
            },
        )
        prev = me.get("last_goal")
        if prev is not None and prev != gid and tx.node(prev) is not None:
            tx.edge(prev, "NEXT", gid)
        tx.put(self.self_id, "Agent", {"current_goal": gid, "last_goal": gid})
        return gid

    def current_chunk(self, tx: Tx, step: int) -> str:
        me = self._me(tx)
        cid = me.get("current_chunk")
        chunk = tx.node(cid)
        if cid is not None and chunk is not None and not chunk.get("consolidated"):
            return cid
        parent = me.get("current_subgoal")
        if parent is None or tx.node(parent) is None:
            parent = self.current_goal(tx, step)
        me = self._me(tx)
        seq = me.get("chunk_seq", 0) + 1
        cid = ids.chunk(seq)
        tx.put(
            cid,
            "Chunk",
            {
                "seq": seq,
                "step_from": step,
                "step_to": step,
                "n_events": 0,
                "n_success": 0,
                "n_failure": 0,
                "reward_sum": 0.0,
                "actions": [],
                "action_counts": [],
                "consolidated": False,
                "valid_from": step,
                "last_step": step,
                "importance": IMPORTANCE["Chunk"],
                "uses": 0,
            },
        )
        tx.edge(parent, "HAS_CHUNK", cid)
        prev = me.get("last_chunk")
        if prev is not None and tx.node(prev) is not None:
            tx.edge(prev, "NEXT", cid)
        tx.put(self.self_id, "Agent", {"current_chunk": cid, "last_chunk": cid, "chunk_seq": seq})
        return cid

    def consolidate_chunk(self, tx: Tx, cid: str | None) -> str | None:
        """Summarise chunk `cid` and close it; returns the summary (None if nothing to do)."""
        chunk = tx.node(cid)
        if cid is None or chunk is None or chunk.get("consolidated"):
            return None
        acts = ", ".join(
            f"{a} x{n}"
            for a, n in zip(chunk.get("actions", []), chunk.get("action_counts", []), strict=True)
        )
        summary = (
            f"{acts or 'no actions'}; {chunk.get('n_success', 0)} ok, "
            f"{chunk.get('n_failure', 0)} failed; reward {chunk.get('reward_sum', 0.0):g}"
        )
        tx.put(
            cid,
            "Chunk",
            {
                "consolidated": True,
                "summary": summary,
                "valid_to": chunk.get("step_to", chunk.get("step_from", 0)),
            },
        )
        if self._me(tx).get("current_chunk") == cid:
            tx.put(self.self_id, "Agent", {"current_chunk": None})
        return summary

    def event(self, tx: Tx, f: Fact, t: int) -> None:
        eid = ids.event(t, tx.digest(f))
        if tx.node(eid) is not None:
            return
        cid = self.current_chunk(tx, t)
        chunk = tx.node(cid) or {}
        failed = f.outcome == "failure"
        props: dict[str, Any] = {
            "action": f.subject,
            "outcome": f.outcome,
            "reward": f.reward or 0.0,
            "step": t,
            "valid_from": t,
            "provenance": f.provenance,
            "confidence": f.confidence,
            "chunk": cid,
            "last_step": t,
            "uses": 0,
            "importance": IMPORTANCE["Event!" if failed or f.reward else "Event"],
        }
        if f.object is not None:
            props["target"] = f.object
        if f.place is not None:
            props["x"], props["y"] = f.place
        if f.text is not None:
            props["text"] = f.text
        tx.put(eid, "Event", props)
        tx.edge(cid, "HAS_EVENT", eid)
        last = chunk.get("last_event")
        if last is not None and tx.node(last) is not None:
            tx.edge(last, "NEXT", eid)
        actions = list(chunk.get("actions", []))
        counts = list(chunk.get("action_counts", []))
        if f.subject in actions:
            counts[actions.index(f.subject)] += 1
        else:
            actions.append(f.subject)
            counts.append(1)
        n = chunk.get("n_events", 0) + 1
        tx.put(
            cid,
            "Chunk",
            {
                "n_events": n,
                "step_to": max(t, chunk.get("step_to", t)),
                "last_event": eid,
                "n_success": chunk.get("n_success", 0) + (not failed),
                "n_failure": chunk.get("n_failure", 0) + failed,
                # the chunk's summary names its failed events, so recall opens only those
                "failed_events": [*chunk.get("failed_events", []), eid]
                if failed
                else chunk.get("failed_events", []),
                "reward_sum": chunk.get("reward_sum", 0.0) + (f.reward or 0.0),
                "actions": actions,
                "action_counts": counts,
                "last_step": t,
            },
        )
        if f.object is not None:
            tx.edge(eid, "ABOUT", ensure_kind(tx, f.object, f.category or "other", t))
        if failed:
            fails = [c for c in self._me(tx).get("recent_fails", []) if c != cid]
            tx.put(self.self_id, "Agent", {"recent_fails": [cid, *fails][:_RECENT_FAILS]})
        if f.place is not None and f.teller is None:  # where the agent stood: its trail
            old = self._me(tx).get("trail", [])
            tx.put(self.self_id, "Agent", {"trail": [*f.place, *old][: 2 * TRAIL_LENGTH]})
        if n >= self.chunk_size:
            self.consolidate_chunk(tx, cid)

    def end_subgoal(self, tx: Tx, t: int, status: str, reason: str | None = None) -> None:
        """Close the current subgoal with `status` and a one-line summary of it (ending
        with `reason`, why it ended, when given)."""
        me = self._me(tx)
        self.consolidate_chunk(tx, me.get("current_chunk"))
        sid = me.get("current_subgoal")
        node = tx.node(sid)
        if sid is not None and node is not None:
            since = node.get("valid_from", t)
            summary = f"{node.get('name', '')}: {status} after {t - since} steps ({since}-{t})"
            if "target_x" in node:
                summary += f", target ({node['target_x']},{node['target_y']})"
            if reason:
                summary += f": {' '.join(reason.split())[:200]}"
            tx.put(sid, "Subgoal", {"status": status, "valid_to": t, "last_step": t,
                                    "summary": summary})
            recent = [i for i in me.get("recent_subgoals", []) if i != sid]
            tx.put(self.self_id, "Agent",
                   {"recent_subgoals": [sid, *recent][:_RECENT_SUBGOALS]})
        tx.put(self.self_id, "Agent", {"current_subgoal": None})

    def end_goal(self, tx: Tx, t: int, status: str) -> None:
        self.end_subgoal(tx, t, status)
        gid = self._me(tx).get("current_goal")
        if gid is not None and tx.node(gid) is not None:
            tx.put(gid, "Goal", {"status": status, "valid_to": t, "last_step": t})
        tx.put(self.self_id, "Agent", {"current_goal": None})

    def goal(self, tx: Tx, f: Fact, t: int) -> None:
        gid = self._me(tx).get("current_goal")
        current = tx.node(gid)
        same = current is not None and current.get("name") == f.subject
        if f.status == "set":
            if same:
                return
            if current is not None:
                self.end_goal(tx, t, "replaced")
            self.open_goal(tx, f.subject, t, f.provenance, f.confidence)
        elif same:  # completing/failing a goal that is not current is a no-op
            self.end_goal(tx, t, f.status or "completed")

    def subgoal(self, tx: Tx, f: Fact, t: int) -> None:
        sid = self._me(tx).get("current_subgoal")
        current = tx.node(sid)
        same = sid is not None and current is not None and current.get("name") == f.subject
        if f.status != "set":
            if same:
                self.end_subgoal(tx, t, f.status or "completed", f.text)
            return
        target = ({"target_x": f.place[0], "target_y": f.place[1], "target_since": t}
                  if f.place else {})
        if same and sid is not None:
            if target and (current.get("target_x"), current.get("target_y")) == f.place:
                target = {}  # the same target: keep when it was first aimed at
            tx.put(sid, "Subgoal", {"needs": list(f.needs), **target})
            return
        if current is not None:
            self.end_subgoal(tx, t, "replaced")
        else:
            self.consolidate_chunk(tx, self._me(tx).get("current_chunk"))
        gid = self.current_goal(tx, t)
        new = ids.subgoal(t, f.subject)
        tx.put(
            new,
            "Subgoal",
            {
                "name": f.subject,
                "status": "active",
                "needs": list(f.needs),
                **target,
                "valid_from": t,
                "provenance": f.provenance,
                "confidence": f.confidence,
                "last_step": t,
                "importance": IMPORTANCE["Subgoal"],
                "uses": 0,
            },
        )
        tx.edge(gid, "HAS_SUBGOAL", new)
        prev = self._me(tx).get("last_subgoal")
        if prev is not None and prev != new and tx.node(prev) is not None:
            tx.edge(prev, "NEXT", new)
        tx.put(self.self_id, "Agent", {"current_subgoal": new, "last_subgoal": new})

    def report(self, tx: Tx, f: Fact, t: int) -> None:
        mid = ids.message(t, tx.digest(f))
        if tx.node(mid) is not None:
            return
        sender = ensure_agent(tx, f.subject, t)
        provenance = f.provenance if f.teller is not None else f"told_by:{f.subject}"
        props: dict[str, Any] = {
            "sender": f.subject,
            "text": f.text or "",
            "step": t,
            "provenance": provenance,
            "confidence": f.confidence,
            "valid_from": t,
            "last_step": t,
            "importance": IMPORTANCE["Message"],
            "uses": 0,
        }
        if f.object is not None:
            props["about"] = f.object
        tx.put(mid, "Message", props)
        tx.edge(mid, "TOLD_BY", sender, {"step": t})
        note_told(tx, self.self_id, mid)
