"""Policies by name, as scenario files refer to them.

A policy is named in one of three ways:

- a **built-in** name (`POLICY_NAMES`): ``scripted`` is each world family's own scripted
  policy (the runner passes its factory); ``random``, ``rl`` and ``llm`` work in any world
  (``rl`` and ``llm`` take the scenario table of the same name);
- an **import path**, ``"package.module:MyPolicy"``: a `Policy` class, or any callable
  taking no arguments that returns a new policy;
- the name of a ``memsim.policies`` **entry point** another package declares (see
  `memsim.plugins`).

One instance is made per agent and episode. Plug-in policies follow the contract of
`memsim.agents.policy` (read it: a policy keeps nothing between steps but its memory).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from memsim.agents.policy import Policy
from memsim.agents.random_policy import RandomPolicy
from memsim.plugins import (
    PluginError,
    is_import_path,
    load_entry_point,
    load_object,
    missing_extra,
    plugin_names,
)

if TYPE_CHECKING:
    from memsim.agents.llm.prompt import WorldBrief

POLICY_NAMES: tuple[str, ...] = ("random", "scripted", "rl", "llm")
"""The built-in policy names."""

_POLICY_METHODS = ("reset", "recall_query", "decide")


def policy_plugins() -> dict[str, str]:
    """The ``memsim.policies`` entry points: name -> ``package.module:Name``."""
    return plugin_names("policies", POLICY_NAMES)


def policy_names() -> tuple[str, ...]:
    """Every policy name a scenario may use: the built-in ones, then entry points (import
    paths are accepted besides these)."""
    return (*POLICY_NAMES, *policy_plugins())


def policy_factory(name: str) -> Callable[[], Any]:
    """The factory of a plug-in policy (an import path or an entry point name). Raises
    `PluginError` (a ValueError) naming it when it cannot be found or is not callable."""
    if is_import_path(name):
        factory = load_object(name)
    elif name in policy_plugins():
        factory = load_entry_point("policies", name)
    else:
        builtin = ", ".join(sorted(POLICY_NAMES))
        plugins = ", ".join(policy_plugins()) or "none installed"
        raise PluginError(f"{name!r} is not allowed; allowed: {builtin} (built in), "
                          f"entry points: {plugins}; or a policy class by import path "
                          f"'package.module:MyPolicy'")
    if not callable(factory):
        raise PluginError(f"policy {name!r} is a {type(factory).__name__}, not a class or "
                          f"factory: it must build a Policy when called with no arguments")
    if isinstance(factory, type):
        _check_policy_type(name, factory)
    return factory


def check_policy_name(name: str) -> str:
    """`name` if a scenario may use it (built in, entry point, or an import path that
    imports and names a class or factory); else `PluginError` saying why."""
    if name not in POLICY_NAMES:
        policy_factory(name)
    return name


def _check_policy_type(name: str, cls: type) -> None:
    missing = [m for m in _POLICY_METHODS if not callable(getattr(cls, m, None))]
    if missing:
        raise PluginError(f"policy {name!r} ({cls.__name__}) is not a Policy: it has no "
                          f"{', '.join(missing)} (see memsim.Policy)")


def _checked(name: str, policy: Any) -> Policy:
    if not isinstance(policy, Policy):
        missing = [m for m in ("name", *_POLICY_METHODS) if not hasattr(policy, m)]
        raise PluginError(f"policy {name!r} built a {type(policy).__name__}, which is not a "
                          f"Policy: it has no {', '.join(missing)} (see memsim.Policy)")
    return policy


def make_policy(
    name: str,
    scripted: Callable[[], Policy],
    settings: Mapping[str, Any] | None = None,
    brief: WorldBrief | None = None,
) -> Policy:
    """A fresh policy instance for one agent. `scripted` builds the world's scripted
    policy; `settings` is the scenario's table for this policy (if any); `brief` is how the
    world family describes itself to a language model. Any other name is a plug-in."""
    if name == "scripted":
        return scripted()
    if name == "random":
        return RandomPolicy()
    if name == "rl":
        try:  # torch / SB3 load only when used
            from memsim.agents.rl import make_rl_policy_from_table
        except ModuleNotFoundError as exc:
            raise missing_extra(exc, "rl", "the rl policy") from exc
        return make_rl_policy_from_table(dict(settings or {}))
    if name == "llm":
        from memsim.agents.llm import LLMConfig, LLMPolicy  # openai loads only when used

        return LLMPolicy(LLMConfig.from_sources(settings), brief)
    return _checked(name, policy_factory(name)())
