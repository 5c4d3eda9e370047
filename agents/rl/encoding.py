"""Observations for RL: the crafting symbolic dict as a flat float32 vector, and memory
features (where the agent's knowledge graph says the nearest known resources are).

The same `ObservationEncoder` and the same `memory_features` / `feature_query` are used by
the training wrappers (`agents.rl.wrappers`) and by `RLPolicy` at run time, so a policy sees
at run time exactly the vector layout it was trained on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from memsim.agents.crafting.perception import CraftingPerception, recipe_facts
from memsim.agents.rl.settings import ENCODING_PARTS, MemoryFeatureSettings
from memsim.envs.crafting.rules import Rules
from memsim.memory import AgentMemory, Recall, RetrievalQuery, open_store

MEMORY_FEATURES_PER_KIND = 4  # known?, dx/scale, dy/scale, distance/scale
N_FACINGS = 4


class ObservationEncoder:
    """Turns one agent's crafting symbolic observation into a fixed-size float32 vector.

    Layout, in the order of `parts`: the local view's materials one-hot (0 = outside the
    world, then the rules' materials) and objects one-hot (the rules' objects; "nothing" is
    all zeros), cell by cell in row-major order; inventory and vitals divided by each
    item's cap; facing one-hot; daylight; sleeping; last_action_ok. Every value is in [0, 1].
    """

    def __init__(
        self,
        rules: Rules,
        view_width: int = 9,
        view_height: int = 7,
        parts: Sequence[str] = ENCODING_PARTS,
    ) -> None:
        unknown = [p for p in parts if p not in ENCODING_PARTS]
        if unknown:
            raise ValueError(
                f"encoding parts {unknown} are unknown; allowed: {', '.join(ENCODING_PARTS)}"
            )
        self.rules = rules
        self.view_shape = (view_height, view_width)
        self.parts = tuple(parts)
        cells = view_width * view_height
        self._n_materials = len(rules.materials) + 1  # + "outside"
        self._n_objects = len(rules.objects)
        # Rows of an identity matrix indexed by cell values: a vectorised one-hot.
        self._material_eye = np.eye(self._n_materials, dtype=np.float32)
        self._object_eye = np.eye(self._n_objects + 1, dtype=np.float32)[:, 1:]
        self._item_caps = np.array([rules.item_max(i) for i in rules.item_names], np.float32)
        self._vital_caps = np.array([rules.item_max(v) for v in rules.vitals], np.float32)
        sizes = {
            "materials": cells * self._n_materials,
            "objects": cells * self._n_objects,
            "inventory": len(rules.item_names),
            "vitals": len(rules.vitals),
            "facing": N_FACINGS,
            "daylight": 1,
            "sleeping": 1,
            "last_action_ok": 1,
        }
        self.part_sizes = {p: sizes[p] for p in self.parts}
        self.size = sum(self.part_sizes.values())
        self.space = spaces.Box(0.0, 1.0, (self.size,), np.float32)

    def _check_view(self, name: str, grid: np.ndarray) -> np.ndarray:
        grid = np.asarray(grid)
        if grid.shape != self.view_shape:
            raise ValueError(
                f"observation[{name!r}] has shape {grid.shape}; this encoder was built for "
                f"views of {self.view_shape} (view_height, view_width)"
            )
        return grid

    def encode(self, obs: Mapping[str, Any]) -> np.ndarray:
        """The flat vector of one symbolic observation (a fresh float32 array)."""
        if not isinstance(obs, Mapping) or "materials" not in obs:
            raise ValueError(
                "observation: expected the crafting world's symbolic observation (a dict "
                f"with materials, objects, inventory, ...), got {type(obs).__name__}"
            )
        chunks: list[np.ndarray] = []
        for part in self.parts:
            if part == "materials":
                grid = self._check_view(part, obs["materials"])
                chunks.append(self._material_eye[grid].ravel())
            elif part == "objects":
                grid = self._check_view(part, obs["objects"])
                chunks.append(self._object_eye[grid].ravel())
            elif part == "inventory":
                chunks.append(np.asarray(obs["inventory"], np.float32) / self._item_caps)
            elif part == "vitals":
                chunks.append(np.asarray(obs["vitals"], np.float32) / self._vital_caps)
            elif part == "facing":
                facing = np.zeros(N_FACINGS, np.float32)
                facing[int(obs["facing"])] = 1.0
                chunks.append(facing)
            elif part == "daylight":
                chunks.append(np.asarray(obs["daylight"], np.float32).reshape(1))
            else:  # sleeping, last_action_ok: 0/1 flags
                chunks.append(np.array([float(obs[part])], np.float32))
        return np.clip(np.concatenate(chunks), 0.0, 1.0, dtype=np.float32)

    __call__ = encode


def check_kinds(kinds: Sequence[str], rules: Rules) -> tuple[str, ...]:
    """The memory feature kinds, checked against the rules' materials and objects."""
    allowed = (*rules.materials, *rules.objects)
    unknown = [k for k in kinds if k not in allowed]
    if unknown:
        raise ValueError(
            f"memory_features.kinds {unknown} are unknown; allowed: {', '.join(allowed)}"
        )
    return tuple(kinds)


def feature_query(kinds: Sequence[str], position: tuple[int, int]) -> RetrievalQuery:
    """The recall that memory features are computed from: the nearest place of each kind."""
    return RetrievalQuery(nearest=tuple(kinds), position=position, per_kind=1)


def memory_features_space(n_kinds: int) -> spaces.Box:
    """Bounds of `memory_features` for `n_kinds` kinds."""
    low = np.tile(np.array([0.0, -1.0, -1.0, 0.0], np.float32), n_kinds)
    return spaces.Box(low, np.ones_like(low), dtype=np.float32)


def memory_features(
    recall: Recall | None,
    position: tuple[int, int] | Sequence[int] | np.ndarray,
    kinds: Sequence[str],
    scale: float = 32.0,
) -> np.ndarray:
    """Per kind, [known?, dx/scale, dy/scale, distance/scale] of the nearest place of that
    kind in `recall.nearest` (zeros when unknown or when there is no recall). Offsets are
    from `position`, distances Manhattan; all clipped to [-1, 1]."""
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    x0, y0 = int(position[0]), int(position[1])
    out = np.zeros((len(kinds), MEMORY_FEATURES_PER_KIND), np.float32)
    if recall is not None:
        slot = {kind: i for i, kind in enumerate(kinds)}
        best: dict[str, int] = {}
        for place in recall.nearest:
            i = slot.get(place.kind)
            if i is None:
                continue
            dx, dy = place.x - x0, place.y - y0
            # Recompute from our position: a recall may be older than this position.
            distance = abs(dx) + abs(dy)
            if place.kind in best and best[place.kind] <= distance:
                continue
            best[place.kind] = distance
            out[i] = (1.0, dx / scale, dy / scale, distance / scale)
    return np.clip(out.ravel(), -1.0, 1.0)


class EpisodeMemoryTracker:
    """One agent's real `AgentMemory` over one episode at a time, for the training
    wrappers: `reset` forgets the last episode and observes the first step, `observe` each
    later one; a subclass's `_observe(obs, info, first)` writes the step and answers its
    features. `settings` carries `node_budget` and `chunk_size`."""

    def __init__(self, agent_id: str, settings: Any, store: Any) -> None:
        self.agent_id = agent_id
        self.settings = settings
        self.store = store
        self.memory: AgentMemory | None = None
        self.last_recall: Recall | None = None
        self._step = 0

    def reset(self, obs: Mapping[str, Any], info: Mapping[str, Any] | None = None) -> np.ndarray:
        """Forget the last episode (a new world), then observe its first step."""
        self.store.clear()
        self.memory = AgentMemory(self.store, self.agent_id,
                                  node_budget=self.settings.node_budget,
                                  chunk_size=self.settings.chunk_size)
        self.perception.reset()
        self.last_recall = None
        self._step = 0
        return self._observe(obs, info or {}, first=True)

    def observe(self, obs: Mapping[str, Any], info: Mapping[str, Any] | None = None) -> np.ndarray:
        """Remember what this observation shows; the features of the updated memory."""
        if self.memory is None:
            raise RuntimeError(f"{type(self).__name__}.observe() before reset()")
        self._step += 1
        return self._observe(obs, info or {}, first=False)

    def _observe(self, obs: Mapping[str, Any], info: Mapping[str, Any], first: bool
                 ) -> np.ndarray:
        raise NotImplementedError

    perception: Any  # the family's perception adapter (`decode`, `perceive`, `reset`)

    def close(self) -> None:
        self.store.close()


class MemoryFeatureTracker(EpisodeMemoryTracker):
    """One agent's real `AgentMemory`, fed by `CraftingPerception` each step, answering
    `memory_features` - what the training wrappers use so RL agents learn with the same
    knowledge graph they have at run time (perceive ▸ remember ▸ recall, as `agents.step`).
    """

    def __init__(
        self,
        agent_id: str,
        rules: Rules,
        settings: MemoryFeatureSettings,
        namespace: str,
        store_config: Mapping[str, Any] | None = None,
    ) -> None:
        config = dict(store_config or {})
        if settings.backend == "networkx":
            # A private graph registry: training memories never mix with a run's memories.
            config.setdefault("graph_registry", {})
        super().__init__(agent_id, settings, open_store(settings.backend, namespace, **config))
        self.kinds = check_kinds(settings.kinds, rules)
        self.scale = settings.scale
        self.perception = CraftingPerception(agent_id, rules)
        self._prior = recipe_facts(rules)

    @property
    def size(self) -> int:
        return len(self.kinds) * MEMORY_FEATURES_PER_KIND

    def _observe(self, obs: Mapping[str, Any], info: Mapping[str, Any], first: bool
                 ) -> np.ndarray:
        assert self.memory is not None
        view = self.perception.decode(dict(obs))
        prior = self._prior if first else ()
        facts = [*prior, *self.perception.perceive(view, dict(info), self._step)]
        self.memory.write(facts, self._step)
        position = (int(obs["position"][0]), int(obs["position"][1]))
        self.last_recall = self.memory.retrieve(feature_query(self.kinds, position),
                                                budget=len(self.kinds))
        return memory_features(self.last_recall, position, self.kinds, self.scale)
