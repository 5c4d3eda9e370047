"""Moving through the crafting world: what each visible cell costs to enter, and the first
step of the cheapest way towards a goal (Dijkstra over the cells the agent sees).

Costs come from the rules: walkable materials cost 1; a material that `do` turns into a
walkable one (a tree, stone with a pickaxe) costs 2 (face it, then take it); one a held
material can be placed on and then collected again (water, bridged with stone) costs 4;
cells with a creature or agent, deadly materials and everything else are impassable.
Unknown cells beyond the view are not searched.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from memsim.agents.crafting.view import DIRECTIONS, CraftingView
from memsim.envs.crafting.rules import Rules

Cell = tuple[int, int]
MOVES = {delta: f"move_{name}" for name, delta in DIRECTIONS.items()}


class Terrain:
    """Entry costs for one agent: the rules, and the operations its role cannot do."""

    def __init__(self, rules: Rules, cannot: Collection[str] = ()) -> None:
        self.rules = rules
        self.walkable = set(rules.walkable)
        self.cannot = frozenset(cannot)

    def clearable(self, material: str, inventory: Mapping[str, int]) -> bool:
        """`do` turns it into a walkable cell and the agent may and can do it now."""
        rule = self.rules.collect.get(material)
        return (rule is not None and rule.leaves in self.walkable
                and f"collect_{material}" not in self.cannot
                and all(inventory.get(t, 0) >= n for t, n in rule.require.items()))

    def bridge(self, material: str, inventory: Mapping[str, int]) -> str | None:
        """A material the agent can place on `material` and then clear again, if any."""
        for name, rule in self.rules.place.items():
            if (rule.type == "material" and material in rule.where
                    and f"place_{name}" not in self.cannot
                    and all(inventory.get(i, 0) >= n for i, n in rule.uses.items())
                    and self.clearable(name, inventory)):
                return name
        return None

    def material_cost(self, material: str, inventory: Mapping[str, int]) -> int | None:
        if material in self.rules.deadly:
            return None
        if material in self.walkable:
            return 1
        if self.clearable(material, inventory):
            return 2
        if self.bridge(material, inventory) is not None:
            return 4
        return None

    def cost(self, view: CraftingView, cell: Cell) -> int | None:
        if cell in view.objects or cell not in view.materials:
            return None
        return self.material_cost(view.materials[cell], view.inventory)

    def cost_grid(self, view: CraftingView) -> list[int | None]:
        """The entry cost of every view cell, as a flat list over the view padded by one
        impassable cell on each side (index `(x - left + 1) * (rows + 2) + y - top + 1`:
        x-major, so index order is (x, y) order). One lookup per material in view."""
        by_material = {m: self.material_cost(m, view.inventory)
                       for m in set(view.materials.values())}
        stride = view.rows + 2
        ox, oy = view.left - 1, view.top - 1
        grid: list[int | None] = [None] * ((view.cols + 2) * stride)
        objects = view.objects
        for (x, y), m in view.materials.items():
            if (x, y) not in objects:
                grid[(x - ox) * stride + y - oy] = by_material[m]
        return grid


def first_step(terrain: Terrain, view: CraftingView, goals: Collection[Cell],
               crowded: Mapping[Cell, int]) -> tuple[Cell | None, bool]:
    """The cell to enter next on the cheapest way into `goals` (or as close as the view
    allows: cost so far + 1.2 x distance left + 3 x visits in `crowded`), and whether it
    reaches a goal. None if no visible cell can be entered.

    Dijkstra over `Terrain.cost_grid` (cells as flat indices: no tuple per neighbour);
    ties go to the smaller (x, y), as the index order is the same."""
    grid = terrain.cost_grid(view)
    stride = view.rows + 2
    ox, oy = view.left - 1, view.top - 1
    size = len(grid)

    def index(cell: Cell) -> int:
        return (cell[0] - ox) * stride + cell[1] - oy

    def in_view(cell: Cell) -> bool:
        return 0 < cell[0] - ox <= view.cols and 0 < cell[1] - oy <= view.rows

    goal_xy = list(goals)
    goal_index = {index(g) for g in goal_xy if in_view(g)}
    crowd = {index(c): n for c, n in crowded.items() if in_view(c)}
    here = index(view.position)
    # Entry costs are small positive ints, so a bucket per total cost is a priority queue
    # (Dial's algorithm); a bucket is complete when reached and is taken in index order,
    # as a heap of (cost, index) would.
    buckets: list[list[int]] = [[here]]
    cost = [1 << 30] * size
    cost[here] = 0
    first = [0] * size
    best_score, best = float("inf"), -1
    c = 0
    while c < len(buckets):
        bucket = buckets[c]
        bucket.sort()
        for i in bucket:
            if c > cost[i]:
                continue
            if i != here:
                if i in goal_index:
                    return _cell(first[i], stride, ox, oy), True
                x, y = i // stride + ox, i % stride + oy
                left = 1 << 30  # distance to the nearest goal, inline (a call per cell costs)
                for gx, gy in goal_xy:
                    d = abs(gx - x) + abs(gy - y)
                    if d < left:
                        left = d
                score = c + 1.2 * left + 3.0 * crowd.get(i, 0)
                if score < best_score or (score == best_score and i < best):
                    best_score, best = score, i
                via = first[i]
            for j in (i - stride, i + stride, i - 1, i + 1):
                step_cost = grid[j]
                if step_cost is None:
                    continue
                nc = c + step_cost
                if nc < cost[j]:
                    cost[j] = nc
                    first[j] = via if i != here else j
                    while len(buckets) <= nc:
                        buckets.append([])
                    buckets[nc].append(j)
        c += 1
    return (None, False) if best < 0 else (_cell(first[best], stride, ox, oy), False)


def _cell(i: int, stride: int, ox: int, oy: int) -> Cell:
    return (i // stride + ox, i % stride + oy)


def step_into(terrain: Terrain, view: CraftingView, nxt: Cell) -> tuple[str, str]:
    """The action that makes progress into the neighbouring cell `nxt`: move, or face it
    and clear it, or bridge it."""
    delta = (nxt[0] - view.x, nxt[1] - view.y)
    move = MOVES[delta]
    material = view.materials.get(nxt, "")
    if material in terrain.walkable:
        return move, "walking"
    if view.facing != delta:
        return move, f"turning to clear {material}"
    bridge = terrain.bridge(material, view.inventory)
    if bridge is not None and not terrain.clearable(material, view.inventory):
        return f"place_{bridge}", f"bridging {material} with {bridge}"
    return "do", f"clearing {material} on the way"


def near_material(materials: Mapping[Cell, str], cell: Cell, material: str,
                  distance: int) -> bool:
    """A `material` cell lies within Chebyshev `distance` of `cell` (station reach)."""
    return any(materials.get((cell[0] + dx, cell[1] + dy)) == material
               for dx in range(-distance, distance + 1) for dy in range(-distance, distance + 1))


def station_spots(stations: Sequence[str], known: Mapping[str, Sequence[Cell]],
                  avoid: Collection[Cell], origin: Cell, reach: int, distance: int) -> set[Cell]:
    """Cells within station `distance` of a known instance of every station, around the
    instances of the first within Manhattan `reach` of `origin` (at most three are tried;
    `avoid`ed ones are skipped)."""
    box = [(dx, dy) for dx in range(-distance, distance + 1)
           for dy in range(-distance, distance + 1)]
    spots: set[Cell] = set()
    for a in [c for c in known.get(stations[0], []) if c not in avoid][:3]:
        if abs(a[0] - origin[0]) + abs(a[1] - origin[1]) > reach:
            continue
        around = {(a[0] + dx, a[1] + dy) for dx, dy in box}
        for other in stations[1:]:
            around &= {(o[0] + dx, o[1] + dy) for o in known.get(other, []) for dx, dy in box}
        spots |= around
    return spots


def build_approach(terrain: Terrain, view: CraftingView, buildable: Callable[[Cell], bool],
                   keep: Sequence[str], reach: int) -> dict[Cell, str]:
    """Where to step from to face a cell it can build on: cell -> the move that, made from
    it, leaves the agent (moving turns it the way it goes) on a walkable cell within
    `reach` with every station in `keep` still within station reach, facing a `buildable`
    one. Planning the spot, rather than looking one step ahead, is what keeps an agent
    from pacing between two cells that both keep a station in reach but face nothing to
    build on."""
    here, distance = view.position, terrain.rules.station_distance

    def dist(cell: Cell) -> int:
        return abs(cell[0] - here[0]) + abs(cell[1] - here[1])

    approach: dict[Cell, str] = {}
    for stand in sorted((c for c in view.materials if dist(c) <= reach),
                        key=lambda c: (dist(c), c)):
        if terrain.cost(view, stand) != 1 or not all(
                near_material(view.materials, stand, s, distance) for s in keep):
            continue
        for delta, move in MOVES.items():
            before = (stand[0] - delta[0], stand[1] - delta[1])
            if buildable((stand[0] + delta[0], stand[1] + delta[1])) and (
                    before == here or terrain.cost(view, before) == 1):
                approach.setdefault(before, move.removeprefix("move_"))
    return approach
