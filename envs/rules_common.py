"""What the families' rules loaders share: reading the TOML file and the checks that name
the offending entry. Each family passes its own `RulesError` (so callers can tell whose
rules file is wrong); the messages all start ``rules: <where>``."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

R = TypeVar("R")
MAX_PATH_CHARS = 1024


def _shown(path: str | Path) -> str:
    text = str(path)
    return repr(text if len(text) <= 80 else text[:80] + "...")


def read_rules_file(path: str | Path, error: type[Exception]) -> dict[str, Any]:
    """The parsed TOML of a world's rules file; a missing, unreadable or malformed file
    raises `error` (the family's RulesError) naming the file."""
    shown = _shown(path)
    if "\x00" in str(path) or len(str(path)) > MAX_PATH_CHARS:
        raise error(f"rules file {shown} is not a usable path (a NUL character, or more "
                    f"than {MAX_PATH_CHARS} characters)")
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise error(f"rules file {shown} does not exist") from exc
    except IsADirectoryError as exc:
        raise error(f"rules file {shown} is a directory, not a TOML file") from exc
    except OSError as exc:
        raise error(f"rules file {shown} cannot be read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(f"rules file {shown} is not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise error(f"rules file {shown} is not UTF-8 text: {exc}") from exc
    except RecursionError:
        raise error(f"rules file {shown} is nested too deep to read") from None


def load_rules_file(path: str | Path, parse: Callable[..., R], error: type[Exception]) -> R:
    """Read and parse (`parse(data, source=...)`) a rules file; every problem raises
    `error` naming the file, and the entry when the checks name it."""
    data = read_rules_file(path, error)
    try:
        return parse(data, source=str(path))
    except error as exc:
        raise error(f"rules file {_shown(path)}: {exc}") from None
    except (LookupError, TypeError, ValueError, AttributeError) as exc:
        # A table of the wrong shape that the named checks did not catch.
        raise error(f"rules file {_shown(path)}: malformed: {exc!r}") from None


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
