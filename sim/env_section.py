"""The ``[env]`` table of a scenario: the section of the world family its ``family`` names.

A family's section is its world config (every field, strictly validated) plus
``family``; ``n_agents`` and ``max_steps`` are refused there (a scenario sets them in
``agents.count`` and the top-level ``max_steps``). The family is looked up when the table
is validated (`sim.families.family_named`), so families registered in code, by entry
point or by import path are scenario worlds like the built-in ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializeAsAny,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from memsim.plugins import PluginError
from memsim.sim.families import WorldFamily, family_named, family_names

# World-config fields that a scenario sets elsewhere: the agent count and the step limit.
_DERIVED_ENV_KEYS = {"n_agents": "agents.count", "max_steps": "the top-level max_steps"}

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)


def _no_derived_keys(cls: type[BaseModel], data: Any) -> Any:
    if isinstance(data, Mapping):
        for key, where in _DERIVED_ENV_KEYS.items():
            if key in data:
                raise ValueError(f"{key} is not set in [env]; set {where} instead")
    return data


@cache
def env_section(family: WorldFamily, tag: str) -> type[BaseModel]:
    """``[env]`` for one family: ``family = "<tag>"`` (its name, or the import path it was
    named by) plus any field of its world config.

    ``n_agents`` and ``max_steps`` are not accepted there (they come from ``agents.count``
    and the top-level ``max_steps``); :meth:`Scenario.env_config` builds the world config.
    """

    class StrictConfig(family.config_model):  # type: ignore[name-defined,misc]
        model_config = _STRICT

    config = family.config_model
    # Redeclared only to keep them out of dumps: they are never read from [env].
    derived = {key: (config.model_fields[key].annotation,
                     Field(config.model_fields[key].default, exclude=True))
               for key in _DERIVED_ENV_KEYS}
    return create_model(
        f"{family.name.capitalize()}EnvSection",
        __base__=StrictConfig,
        __validators__={"_no_derived_keys": model_validator(mode="before")(_no_derived_keys)},
        family=(Literal[tag], ...),  # type: ignore[valid-type]
        **derived,
    )


def _env_table(data: Any) -> Any:
    """``[env]``: validated against the section of the family its ``family`` names."""
    if isinstance(data, BaseModel) or not isinstance(data, Mapping):
        if isinstance(data, BaseModel) and hasattr(data, "family"):
            return data
        raise PydanticCustomError("model_type", "Input should be a table")
    tag = data.get("family")
    families = ", ".join(family_names())
    if tag is None:
        raise PydanticCustomError("family_missing", "{problem}",
                                  {"problem": f"Field required; allowed: {families}"})
    if not isinstance(tag, str):
        raise PydanticCustomError("family_invalid", "{problem}", {
            "problem": f"{tag!r} is not allowed; allowed: {families}"})
    try:
        family = family_named(tag)
    except PluginError as exc:
        raise PydanticCustomError("family_invalid", "{problem}", {"problem": str(exc)}) from None
    except ValueError:
        raise PydanticCustomError("family_invalid", "{problem}", {
            "problem": f"{tag!r} is not allowed; allowed: {families} (or a family by "
                       f"import path 'package.module:FAMILY')"}) from None
    return env_section(family, tag).model_validate(dict(data), strict=True)


EnvSection = Annotated[SerializeAsAny[BaseModel], BeforeValidator(_env_table)]
"""``[env]``: the section of the family named by ``family`` (see `env_section`)."""


def env_section_of(data: Mapping[str, Any]) -> type[BaseModel] | None:
    """The ``[env]`` model the family of `data` chooses, if it names a known one."""
    env = data.get("env")
    tag = env.get("family") if isinstance(env, Mapping) else None
    if not isinstance(tag, str):
        return None
    try:
        return env_section(family_named(tag), tag)
    except ValueError:
        return None
