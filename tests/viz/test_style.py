"""viz/style.toml is data: the shipped file validates, and bad values name their field."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from memsim.viz.style import STYLE_PATH, load_style, parse_style


def _shipped() -> dict[str, Any]:
    return tomllib.loads(STYLE_PATH.read_text(encoding="utf-8"))


def _with(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(_shipped())
    *parents, last = path.split(".")
    table = data
    for key in parents:
        table = table[key]
    table[last] = value
    return data


def test_the_shipped_style_loads() -> None:
    style = load_style()
    assert style.map.agent_colour(0) != style.map.agent_colour(1)
    assert style.map.agent_colour(len(style.map.agent_colours)) == style.map.agent_colour(0)
    assert set(style.memory.strong_edges) <= set(style.memory.edge_colours)


@pytest.mark.parametrize(("path", "value", "message"), [
    ("memory.hidden_edges", ["SEEN_BY", "SAW"], r"memory\.hidden_edges: unknown edge.*SAW"),
    ("memory.strong_edges", ["PARENT"], r"memory\.strong_edges: unknown edge.*PARENT"),
    ("memory.labelled", ["Goal", "Task"], r"memory\.labelled: unknown label.*Task"),
    ("memory.label_scale", {"Chunky": 1.0}, r"memory\.label_scale: unknown label.*Chunky"),
    ("memory.node_radius", 20.0, r"node_radius must be <= memory\.node_radius_max"),
    ("map.agent_colours", [[300, 0, 0]], r"map\.agent_colours\.0\.0"),
    ("map.agent_colours", [], r"map\.agent_colours"),
    ("layout.side_width", 0.6, r"layout\.map_width \+ layout\.side_width"),
    ("memory.steps_per_page", 2, r"memory\.steps_per_page"),
])
def test_bad_style_values_name_the_field(path: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_style(_with(path, value), "style.toml")


def test_agent_outline_colours_match_the_crafting_sprites() -> None:
    from memsim.envs.crafting.render import AGENT_COLOURS

    assert [tuple(c) for c in load_style().map.agent_colours] == [tuple(c) for c in
                                                                  AGENT_COLOURS]
