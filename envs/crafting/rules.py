"""Load and check the crafting world's rules file (`rules.toml`).

The engine never hard-codes a material, item or recipe: it reads them from `Rules`.
Loading checks every cross-reference (a recipe naming an unknown item, a collect rule
leaving an unknown material ...) and names the offending entry.

A rules file may extend another (``extends = "../rules.toml"``, see
`envs.rules_common.read_rules_file`); the shipped variants of the game live in
``variants/<name>.toml`` (`variant_names`). Cooperation variants are data too: roles
(specialists that cannot do some operations) and how the recipe book is split (`manual`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

from memsim.envs.rules_common import (
    check_names,
    check_path,
    load_rules_file,
    need,
    require_names,
)

DEFAULT_RULES_PATH = Path(__file__).with_name("rules.toml")
VARIANTS_DIR = Path(__file__).with_name("variants")
"""The shipped variants of the rules, ``<name>.toml`` (each extends ``../rules.toml``)."""
MANUALS = ("full", "split")
"""[team] manual: every agent is handed the whole recipe book, or one share of it."""


class RulesError(ValueError):
    """The rules file is inconsistent; the message names the entry."""


_need = partial(need, error=RulesError)
_check_names = partial(check_names, error=RulesError)
_require_names = partial(require_names, error=RulesError)


@dataclass(frozen=True)
class CollectRule:
    material: str
    require: dict[str, int]
    receive: dict[str, int]
    leaves: str
    probability: float = 1.0


@dataclass(frozen=True)
class PlaceRule:
    name: str
    uses: dict[str, int]
    where: tuple[str, ...]
    type: str  # "material" or "object"
    nearby: tuple[str, ...] = ()


@dataclass(frozen=True)
class MakeRule:
    name: str
    uses: dict[str, int]
    nearby: tuple[str, ...]
    gives: int


# eq=False: rules compare and hash by identity (they hold dicts; loaded once and cached).
@dataclass(frozen=True, eq=False)
class Rules:
    """Everything the engine needs, with name <-> id tables built once."""

    actions: tuple[str, ...]
    materials: tuple[str, ...]  # id = index + 1; 0 is "outside the world"
    walkable: frozenset[str]
    deadly: frozenset[str]
    objects: tuple[str, ...]  # id = index + 1; 0 is "nothing"
    items: dict[str, dict[str, int]]
    vitals: tuple[str, ...]
    collect: dict[str, CollectRule]
    place: dict[str, PlaceRule]
    make: dict[str, MakeRule]
    giveable: tuple[str, ...]
    achievements: tuple[str, ...]
    station_distance: int
    food: dict[str, int]
    combat: dict[str, Any]
    creatures: dict[str, dict[str, Any]]
    survival: dict[str, int]
    balance: dict[str, Any]
    worldgen: dict[str, Any]
    milestones: tuple[str, ...] = ()  # the team's way to its goal: achievements, in order
    published: frozenset[str] = frozenset()  # what agents publish to a team graph
    # Specialists: role -> the operations (`operations`) an agent of that role cannot do.
    roles: dict[str, frozenset[str]] = field(default_factory=dict)
    team_roles: tuple[str, ...] = ()  # [team] roles, cycled over agents (empty: no roles)
    manual: str = "full"  # one of MANUALS
    source: str = ""
    material_ids: dict[str, int] = field(init=False)
    object_ids: dict[str, int] = field(init=False)
    item_names: tuple[str, ...] = field(init=False)  # held items (not vitals), obs order

    def __post_init__(self) -> None:
        object.__setattr__(self, "material_ids", {m: i + 1 for i, m in enumerate(self.materials)})
        object.__setattr__(self, "object_ids", {o: i + 1 for i, o in enumerate(self.objects)})
        held = tuple(name for name in self.items if name not in self.vitals)
        object.__setattr__(self, "item_names", held)

    @property
    def all_actions(self) -> tuple[str, ...]:
        """Crafter's actions followed by one `give_<item>` per giveable item."""
        return self.actions + tuple(f"give_{item}" for item in self.giveable)

    def item_max(self, item: str) -> int:
        return self.items[item]["max"]

    @property
    def operations(self) -> tuple[str, ...]:
        """What a role may be barred from, named as achievements are: ``collect_<material>``
        (a `do` that would collect it), ``place_<thing>``, ``make_<item>``."""
        return _operations(self.collect, self.place, self.make)

    def cannot(self, role: str | None) -> frozenset[str]:
        """The operations an agent of `role` cannot do (None, no role: none)."""
        if role is None:
            return frozenset()
        if role not in self.roles:
            raise RulesError(f"role {role!r} is unknown; allowed: {list(self.roles)}")
        return self.roles[role]


def _operations(collect: dict[str, Any], place: dict[str, Any],
                make: dict[str, Any]) -> tuple[str, ...]:
    return (*(f"collect_{m}" for m in collect), *(f"place_{p}" for p in place),
            *(f"make_{m}" for m in make))


def parse_rules(data: dict[str, Any], source: str = "<dict>") -> Rules:
    """Build `Rules` from the parsed TOML tables, checking every cross-reference."""
    materials = tuple(_need(data, "materials", "top level"))
    items: dict[str, dict[str, int]] = dict(_need(data, "items", "top level"))
    objects = tuple(_need(data, "objects", "top level"))
    for name, spec in items.items():
        if not {"max", "initial"} <= set(spec):
            raise RulesError(f"rules: items.{name} needs 'max' and 'initial'")
        if not 0 <= spec["initial"] <= spec["max"]:
            raise RulesError(f"rules: items.{name}.initial must be within 0..max")
    vitals = tuple(_need(data, "vitals", "top level"))
    _check_names(vitals, items, "vitals")
    walkable = frozenset(_need(data, "walkable", "top level"))
    _check_names(walkable, materials, "walkable")
    deadly = frozenset(data.get("deadly", []))
    _check_names(deadly, materials, "deadly")

    collect = {}
    for mat, spec in _need(data, "collect", "top level").items():
        _check_names([mat], materials, "collect")
        rule = CollectRule(
            material=mat,
            require=dict(spec.get("require", {})),
            receive=dict(_need(spec, "receive", f"collect.{mat}")),
            leaves=_need(spec, "leaves", f"collect.{mat}"),
            probability=float(spec.get("probability", 1.0)),
        )
        _check_names(rule.require, items, f"collect.{mat}.require")
        _check_names(rule.receive, items, f"collect.{mat}.receive")
        _check_names([rule.leaves], materials, f"collect.{mat}.leaves")
        collect[mat] = rule

    place = {}
    for name, spec in _need(data, "place", "top level").items():
        rule = PlaceRule(
            name=name,
            uses=dict(_need(spec, "uses", f"place.{name}")),
            where=tuple(_need(spec, "where", f"place.{name}")),
            type=_need(spec, "type", f"place.{name}"),
            nearby=tuple(spec.get("nearby", ())),
        )
        if rule.type not in ("material", "object"):
            raise RulesError(f"rules: place.{name}.type must be 'material' or 'object'")
        _check_names([name], materials if rule.type == "material" else objects, "place")
        _check_names(rule.uses, items, f"place.{name}.uses")
        _check_names(rule.where, materials, f"place.{name}.where")
        _check_names(rule.nearby, materials, f"place.{name}.nearby")
        place[name] = rule

    make = {}
    for name, spec in _need(data, "make", "top level").items():
        _check_names([name], items, "make")
        rule = MakeRule(
            name=name,
            uses=dict(_need(spec, "uses", f"make.{name}")),
            nearby=tuple(spec.get("nearby", ())),
            gives=int(spec.get("gives", 1)),
        )
        _check_names(rule.uses, items, f"make.{name}.uses")
        _check_names(rule.nearby, materials, f"make.{name}.nearby")
        make[name] = rule

    actions = tuple(_need(data, "actions", "top level"))
    for action in actions:
        verb, _, noun = action.partition("_")
        if verb == "place":
            _check_names([noun], place, f"actions ({action})")
        elif verb == "make":
            _check_names([noun], make, f"actions ({action})")

    multi = _need(data, "multi_agent", "top level")
    giveable = tuple(_need(multi, "giveable", "multi_agent"))
    _check_names(giveable, items, "multi_agent.giveable")
    _check_names(giveable, [i for i in items if i not in vitals], "multi_agent.giveable")
    achievements = tuple(_need(multi, "achievements", "multi_agent")) + tuple(
        multi.get("extra_achievements", ())
    )
    _require_names(["agent"], objects, "objects")
    team = _need(data, "team", "top level")
    milestones = tuple(_need(team, "milestones", "team"))
    _check_names(milestones, achievements, "team.milestones")
    published = frozenset(team.get("published", ()))
    _check_names(published, (*materials, *objects), "team.published")
    roles = _parse_roles(data.get("roles", {}), _operations(collect, place, make))
    team_roles = tuple(team.get("roles", ()))
    _check_names(team_roles, roles, "team.roles")
    manual = team.get("manual", "full")
    if manual not in MANUALS:
        raise RulesError(f"rules: team.manual is {manual!r}; allowed: {list(MANUALS)}")

    return Rules(
        actions=actions,
        materials=materials,
        walkable=walkable,
        deadly=deadly,
        objects=objects,
        items=items,
        vitals=vitals,
        collect=collect,
        place=place,
        make=make,
        giveable=giveable,
        achievements=achievements,
        station_distance=int(data.get("stations", {}).get("nearby_distance", 1)),
        food=dict(_need(data, "food", "top level")),
        combat=dict(_need(data, "combat", "top level")),
        creatures=dict(_need(data, "creatures", "top level")),
        survival=dict(_need(data, "survival", "top level")),
        balance=dict(_need(data, "balance", "top level")),
        worldgen=dict(_need(data, "worldgen", "top level")),
        milestones=milestones,
        published=published,
        roles=roles,
        team_roles=team_roles,
        manual=manual,
        source=source,
    )


def _parse_roles(table: Any, operations: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """``[roles.<name>] cannot = [...]``, each entry one of the rules' operations."""
    if not isinstance(table, dict):
        raise RulesError("rules: roles must be tables, [roles.<name>] cannot = [...]")
    roles = {}
    for name, spec in table.items():
        if not isinstance(spec, dict):
            raise RulesError(f"rules: roles.{name} must be a table with a 'cannot' list")
        cannot = _need(spec, "cannot", f"roles.{name}")
        if not isinstance(cannot, list):
            raise RulesError(f"rules: roles.{name}.cannot must be a list of operations; "
                             f"known: {list(operations)}")
        _check_names(cannot, operations, f"roles.{name}.cannot")
        roles[name] = frozenset(cannot)
    return roles


def load_rules(path: str | Path = DEFAULT_RULES_PATH) -> Rules:
    """Read and check a rules file (cached per resolved path; `Rules` is immutable)."""
    check_path(path, RulesError)
    return _load_resolved(Path(path).resolve())


@cache
def _load_resolved(path: Path) -> Rules:
    return load_rules_file(path, parse_rules, RulesError)


def variant_names() -> list[str]:
    """The shipped variants (``variants/<name>.toml``), sorted."""
    return sorted(p.stem for p in VARIANTS_DIR.glob("*.toml"))


def variant_path(name: str) -> Path:
    """The rules file of the shipped variant `name`; the error lists the available ones."""
    path = VARIANTS_DIR / f"{name}.toml"
    if "/" in name or "\\" in name or not path.is_file():
        raise RulesError(f"variant {name!r} is unknown; allowed: {', '.join(variant_names())}")
    return path
