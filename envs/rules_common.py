"""What the families' rules loaders share: reading the TOML file (and the file it
`extends`) and the checks that name the offending entry. Each family passes its own
`RulesError` (so callers can tell whose rules file is wrong); the messages all start
``rules: <where>`` or ``rules file '<path>'``."""

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


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied: tables merge key by key, other values replace."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_rules_file(path: str | Path, error: type[Exception]) -> dict[str, Any]:
    """The parsed TOML of a world's rules file; a missing, unreadable or malformed file
    raises `error` (the family's RulesError) naming the file.

    A file may start with ``extends = "<file>"`` (a path relative to its own folder): its
    tables are then deep-merged over that file's (`deep_merge`: a table merges key by key,
    any other value, lists included, replaces), recursively along a chain of extends."""
    check_path(path, error)
    return _read_extending(Path(path), error, ())


def check_path(path: str | Path, error: type[Exception]) -> None:
    """A path that can name a file at all (no NUL, not absurdly long)."""
    if "\x00" in str(path) or len(str(path)) > MAX_PATH_CHARS:
        raise error(f"rules file {_shown(path)} is not a usable path (a NUL character, or "
                    f"more than {MAX_PATH_CHARS} characters)")


def _read_extending(path: Path, error: type[Exception],
                    chain: tuple[Path, ...]) -> dict[str, Any]:
    """`path`'s tables over those of the file it extends; `chain` holds the files that
    extend it (nearest last), to name a cycle."""
    if path.resolve() in [p.resolve() for p in chain]:
        files = " -> ".join(repr(str(p)) for p in (*chain, path))
        raise error(f"rules file {str(chain[-1])!r}: extends makes a cycle: {files}")
    shown = _shown(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
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
    if "extends" not in data:
        return data
    base = data.pop("extends")
    if not isinstance(base, str) or not base:
        raise error(f"rules file {shown}: extends must be the path of a rules file "
                    f"(relative to this file's folder), got {base!r}")
    target = path.parent / base
    if not target.is_file():
        raise error(f"rules file {shown}: extends names {base!r}, which does not "
                    f"exist ({str(target)!r})")
    return deep_merge(_read_extending(target, error, (*chain, path)), data)


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
