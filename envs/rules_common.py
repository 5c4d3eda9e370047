"""What the families' rules loaders share: reading the TOML file and the checks that name
the offending entry. Each family passes its own `RulesError` (so callers can tell whose
rules file is wrong); the messages all start ``rules: <where>``."""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any


def read_rules_file(path: str | Path, error: type[Exception]) -> dict[str, Any]:
    """The parsed TOML of a world's rules file; a missing or malformed file raises
    `error` (the family's RulesError) naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise error(f"rules file {str(path)!r} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(f"rules file {str(path)!r} is not valid TOML: {exc}") from exc


def need(table: Mapping[str, Any], key: str, where: str, *, error: type[Exception]) -> Any:
    """`table[key]`; a missing key raises `error` naming the table (`where`) and the key."""
    if key not in table:
        raise error(f"rules: {where} is missing required key {key!r}")
    return table[key]


def check_names(names: Iterable[str], allowed: Collection[str], where: str, *,
                error: type[Exception]) -> None:
    """Every name must be one of `allowed`; the first that is not raises `error` naming
    the entry (`where`), the name and the known names (in the rules' order)."""
    for name in names:
        if name not in allowed:
            raise error(f"rules: {where} names {name!r}; known: {list(allowed)}")


def require_names(required: Iterable[str], present: Collection[str], where: str, *,
                  error: type[Exception]) -> None:
    """Every required name must be in `present` (names the engine uses directly); the
    first missing one raises `error`: ``rules: <where> must include '<name>'``."""
    for name in required:
        if name not in present:
            raise error(f"rules: {where} must include {name!r}")
