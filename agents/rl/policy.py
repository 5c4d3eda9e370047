"""`RLPolicy`: a trained policy (an SB3 model or a torch module) as a memsim `Policy`.

At each step it encodes the agent's observation with the same `ObservationEncoder` used in
training, appends memory features from the step's recall when it was trained with them
(zeros when the runner gives no recall, i.e. memory is off), and acts. Deterministic by
default (the most likely action); with ``deterministic=False`` it samples from the
policy's action probabilities with its own generator seeded per episode and agent, so the
same seed still gives the same trajectory.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from memsim.agents.policy import AgentContext, Decision
from memsim.agents.rl.encoding import (
    MEMORY_FEATURES_PER_KIND,
    ObservationEncoder,
    check_kinds,
    feature_query,
    memory_features,
)
from memsim.agents.rl.settings import RLSettings, load_settings
from memsim.envs.crafting.rules import Rules, load_rules
from memsim.memory import RetrievalQuery

MODEL_SUFFIXES: dict[str, str] = {
    ".zip": "a Stable-Baselines3 model saved with model.save()",
    ".pt": "a torch.nn.Module saved with torch.save(module)",
    ".pth": "a torch.nn.Module saved with torch.save(module)",
}
SB3_ALGORITHMS: tuple[str, ...] = ("PPO", "A2C", "DQN")


def model_input_size(model: Any) -> int | None:
    """How many inputs a model takes, if it can tell (SB3: its observation space; torch
    module: its first `Linear` layer), else None."""
    space = getattr(model, "observation_space", None)
    if space is not None and getattr(space, "shape", None):
        return int(np.prod(space.shape))
    if isinstance(model, torch.nn.Module):
        for layer in model.modules():
            # LazyLinear is a Linear whose size is not known until its first call.
            if isinstance(layer, torch.nn.LazyLinear):
                return None
            if isinstance(layer, torch.nn.Linear):
                return int(layer.in_features)
    return None


class RLPolicy:
    """A trained RL policy behind the `Policy` protocol (see the module docstring).

    `model` is either an object with ``predict(obs, deterministic=...) -> (action, state)``
    (Stable-Baselines3 models) or a ``torch.nn.Module`` mapping a batch of flat
    observations to action logits. `memory_kinds` are the memory feature kinds it was
    trained with (empty: no memory features).
    """

    name = "rl"

    def __init__(
        self,
        model: Any,
        encoder: ObservationEncoder,
        *,
        memory_kinds: Sequence[str] = (),
        memory_scale: float = 32.0,
        model_name: str = "model",
        deterministic: bool = True,
    ) -> None:
        if not (isinstance(model, torch.nn.Module) or callable(getattr(model, "predict", None))):
            raise TypeError(
                f"model: {type(model).__name__} is neither a torch.nn.Module nor an object "
                "with .predict(obs, deterministic=True) (e.g. stable_baselines3.PPO)"
            )
        self.model = model
        self.encoder = encoder
        self.memory_kinds = check_kinds(memory_kinds, encoder.rules)
        self.memory_scale = memory_scale
        self.model_name = model_name
        self.deterministic = deterministic
        self.input_size = encoder.size + MEMORY_FEATURES_PER_KIND * len(self.memory_kinds)
        expected = model_input_size(model)
        if expected is not None and expected != self.input_size:
            raise ValueError(
                f"observation size mismatch: model {model_name!r} takes {expected} inputs but "
                f"this policy makes {self.input_size} (encoding {encoder.size} + memory "
                f"features {self.input_size - encoder.size} for "
                f"{len(self.memory_kinds)} kinds); was it trained with memory_features="
                f"{not self.memory_kinds} or another view size / encoding?"
            )
        if isinstance(model, torch.nn.Module):
            model.eval()
        self.agent_id = ""
        self.action_names: tuple[str, ...] = ()
        self._rng = random.Random(0)

    # ---- Policy protocol ------------------------------------------------------------

    def reset(self, agent_id: str, seed: int, action_names: tuple[str, ...]) -> None:
        self.agent_id = agent_id
        self.action_names = tuple(action_names)
        self._rng = random.Random(f"{seed}:{agent_id}")
        space = getattr(self.model, "action_space", None)
        n = getattr(space, "n", None)
        if n is not None and int(n) != len(self.action_names):
            raise ValueError(
                f"action space mismatch: model {self.model_name!r} has {int(n)} actions, "
                f"the world has {len(self.action_names)}"
            )

    def recall_query(self, context: AgentContext) -> RetrievalQuery | None:
        if not self.memory_kinds:
            return None
        position = context.observation["position"]
        return feature_query(self.memory_kinds, (int(position[0]), int(position[1])))

    def decide(self, context: AgentContext) -> Decision:
        vector = self.observation_vector(context)
        action = self._act(vector)
        n_actions = len(self.action_names)
        if not 0 <= action < n_actions:
            raise ValueError(
                f"model {self.model_name!r} chose action {action}; allowed 0..{n_actions - 1}"
            )
        return Decision(action, reason=f"rl: {self.model_name} action {self.action_names[action]}")

    # ---- helpers ----------------------------------------------------------------------

    def observation_vector(self, context: AgentContext) -> np.ndarray:
        """The model's input for this context: encoding, then memory features if any."""
        flat = self.encoder.encode(context.observation)
        if not self.memory_kinds:
            return flat
        # No recall (memory off for this run) gives all-zero features: "nothing known".
        features = memory_features(context.recall, context.observation["position"],
                                   self.memory_kinds, self.memory_scale)
        return np.concatenate([flat, features])

    def _probabilities(self, vector: np.ndarray) -> np.ndarray | None:
        """Action probabilities, where the model exposes them (torch modules, SB3 policies)."""
        if isinstance(self.model, torch.nn.Module):
            with torch.no_grad():
                logits = self.model(torch.as_tensor(vector).unsqueeze(0))
            logits = torch.as_tensor(logits).reshape(-1)
            if logits.numel() != len(self.action_names):
                raise ValueError(
                    f"model {self.model_name!r} returned {logits.numel()} logits; the world "
                    f"has {len(self.action_names)} actions"
                )
            return torch.softmax(logits.double(), dim=0).numpy()
        policy = getattr(self.model, "policy", None)
        if policy is not None and hasattr(policy, "get_distribution"):
            with torch.no_grad():
                obs_tensor, _ = policy.obs_to_tensor(vector)
                probs = policy.get_distribution(obs_tensor).distribution.probs
            return probs.reshape(-1).double().cpu().numpy()
        return None

    def _act(self, vector: np.ndarray) -> int:
        if self.deterministic and not isinstance(self.model, torch.nn.Module):
            action, _ = self.model.predict(vector, deterministic=True)
            return int(np.asarray(action).reshape(-1)[0])
        probs = self._probabilities(vector)
        if probs is None:  # an opaque predictor: its own sampling (and its own seeding)
            action, _ = self.model.predict(vector, deterministic=self.deterministic)
            return int(np.asarray(action).reshape(-1)[0])
        if self.deterministic:
            return int(np.argmax(probs))
        return self._rng.choices(range(len(probs)), weights=probs.tolist())[0]


def load_model(model_path: str | Path, algorithm: str = "PPO") -> Any:
    """A trained model from a file: an SB3 ``.zip`` or a pickled torch module ``.pt``/``.pth``.
    Both are pickles underneath: load only files you trust."""
    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"model_path {str(path)!r}: no such file")
    suffix = path.suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        allowed = "; ".join(f"{s} ({what})" for s, what in MODEL_SUFFIXES.items())
        raise ValueError(f"model_path {str(path)!r}: unknown model file type; allowed: {allowed}")
    if suffix == ".zip":
        if algorithm not in SB3_ALGORITHMS:
            raise ValueError(
                f"algorithm {algorithm!r} is unknown; allowed: {', '.join(SB3_ALGORITHMS)}"
            )
        import stable_baselines3

        return getattr(stable_baselines3, algorithm).load(str(path), device="cpu")
    module = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(module, torch.nn.Module):
        raise ValueError(
            f"model_path {str(path)!r} holds a {type(module).__name__}, not a torch.nn.Module "
            "(save the module itself with torch.save(module, path), not its state_dict)"
        )
    return module


def make_rl_policy(
    model_path: str | Path,
    memory_features: bool = False,
    *,
    rules: Rules | None = None,
    rules_path: str | Path | None = None,
    view_width: int = 9,
    view_height: int = 7,
    settings: RLSettings | str | Path | None = None,
    algorithm: str = "PPO",
    deterministic: bool = True,
) -> RLPolicy:
    """An `RLPolicy` from a model file.

    `memory_features`: whether the model was trained with memory features (the kinds and
    scale come from `settings`, default the shipped `agents/rl/rl.toml`, as in training).
    `rules` (or `rules_path`), `view_width`, `view_height` describe the world it will play
    (defaults: the shipped rules and the default 9x7 view). Raises `FileNotFoundError` for
    a missing file and `ValueError` naming both sizes when the model's input size does not
    match.
    """
    if not isinstance(settings, RLSettings):
        settings = load_settings(settings)
    if rules is None:
        rules = load_rules(rules_path) if rules_path is not None else load_rules()
    encoder = ObservationEncoder(rules, view_width, view_height, settings.encoding.parts)
    model = load_model(model_path, algorithm)
    kinds = settings.memory_features.kinds if memory_features else ()
    return RLPolicy(model, encoder, memory_kinds=kinds,
                    memory_scale=settings.memory_features.scale,
                    model_name=Path(model_path).stem, deterministic=deterministic)


RL_TABLE_KEYS: tuple[str, ...] = (
    "model_path", "memory_features", "rules_path", "view_width", "view_height", "settings",
    "algorithm", "deterministic",
)


def make_rl_policy_from_table(table: Mapping[str, Any] | None) -> RLPolicy:
    """`make_rl_policy` from a scenario's ``[rl]`` table (plain data), checking its keys."""
    table = dict(table or {})
    unknown = sorted(set(table) - set(RL_TABLE_KEYS))
    if unknown:
        raise ValueError(f"rl: unknown keys {unknown}; allowed: {', '.join(RL_TABLE_KEYS)}")
    if "model_path" not in table:
        raise ValueError("rl.model_path: required by policy 'rl' (a .zip from "
                         "examples/train_ppo_*.py, or a .pt torch module)")
    return make_rl_policy(**table)
