"""The viewer's style and layout parameters, read from `viz/style.toml` (data, not code).

`load_style()` validates the file with pydantic, so a bad value fails at start-up with the
field named and what is allowed (e.g. ``memory.collapse_threshold: Input should be
greater than or equal to 16``) instead of as a drawing glitch.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from memsim.memory.schema import EDGE_TYPES, NODE_LABELS

STYLE_PATH = Path(__file__).with_name("style.toml")

Channel = Annotated[int, Field(ge=0, le=255)]
Colour = tuple[Channel, Channel, Channel]
Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class WindowStyle(BaseModel):
    model_config = _STRICT

    width: int = Field(ge=320, le=8192)
    height: int = Field(ge=240, le=8192)
    min_width: int = Field(ge=320)
    min_height: int = Field(ge=240)
    fps: int = Field(ge=1, le=240)
    background: Colour
    panel: Colour
    text: Colour
    dim_text: Colour
    accent: Colour
    error: Colour
    font_size: int = Field(ge=6, le=64)


class LayoutStyle(BaseModel):
    model_config = _STRICT

    map_width: Fraction
    side_width: Fraction
    top_bar: int = Field(ge=12, le=200)
    why_height: Fraction
    log_min_height: Fraction
    local_view_scale: int = Field(ge=1, le=16)


class MapStyle(BaseModel):
    model_config = _STRICT

    night_tint: float = Field(ge=0.0, le=1.0)
    fov_alpha: Channel
    outline_width: int = Field(ge=1, le=8)
    agent_colours: list[Colour] = Field(min_length=1)
    outside: Colour

    def agent_colour(self, index: int) -> Colour:
        """The colour of agent `index` (cycling through `agent_colours`)."""
        return self.agent_colours[index % len(self.agent_colours)]


class MemoryStyle(BaseModel):
    model_config = _STRICT

    highlight_frames: int = Field(ge=0, le=1000)
    collapse_threshold: int = Field(ge=16)
    keep_recent_chunks: int = Field(ge=0)
    steps_per_page: int = Field(ge=8, le=100_000)
    node_size: float = Field(gt=0.0, le=10.0)
    node_radius: float = Field(gt=0.0, le=50.0)
    node_radius_max: float = Field(gt=0.0, le=50.0)
    label_scale: dict[str, Annotated[float, Field(gt=0.0, le=5.0)]]
    labelled: list[str]
    caption_chars: int = Field(ge=4, le=200)
    fit_margin: float = Field(ge=0.0, le=200.0)
    edge_alpha: Channel
    faint_edge_alpha: Channel
    strong_edges: list[str]
    hidden_edges: list[str]
    zoom_min: float = Field(gt=0.0)
    zoom_max: float = Field(gt=0.0)
    wheel_zoom: float = Field(gt=1.0, le=4.0)
    label_colours: dict[str, Colour]
    edge_colours: dict[str, Colour]

    def label_colour(self, label: str) -> Colour:
        return self.label_colours.get(label, (200, 200, 200))

    def edge_colour(self, edge_type: str) -> Colour:
        return self.edge_colours.get(edge_type, (120, 120, 120))


class ReadingStyle(BaseModel):
    """The memory panel read in the world's terms (`viz.reading_panel`)."""

    model_config = _STRICT

    map_height: Fraction
    unknown: Colour
    known: Colour
    explored: Colour
    fog: Channel
    legend_rows: int = Field(ge=1, le=20)
    working_lines: int = Field(ge=0, le=50)
    kind_colours: dict[str, Colour]


class LogStyle(BaseModel):
    model_config = _STRICT

    lines: int = Field(ge=1, le=10_000)


class Style(BaseModel):
    """Everything in `style.toml`."""

    model_config = _STRICT

    window: WindowStyle
    layout: LayoutStyle
    map: MapStyle
    memory: MemoryStyle
    reading: ReadingStyle
    log: LogStyle


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def parse_style(data: dict, source: str = "<style>") -> Style:
    """Validate a parsed style table; errors name the field and the allowed values."""
    try:
        style = Style.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{source}: {_problems(exc)}") from None
    m = style.memory
    for name, given in (("label_colours", m.label_colours), ("label_scale", m.label_scale),
                        ("labelled", m.labelled)):
        unknown = sorted(set(given) - NODE_LABELS)
        if unknown:
            raise ValueError(f"{source}: memory.{name}: unknown label(s) {unknown}; "
                             f"allowed: {sorted(NODE_LABELS)}")
    for name, given in (("edge_colours", m.edge_colours), ("strong_edges", m.strong_edges),
                        ("hidden_edges", m.hidden_edges)):
        unknown = sorted(set(given) - EDGE_TYPES)
        if unknown:
            raise ValueError(f"{source}: memory.{name}: unknown edge type(s) {unknown}; "
                             f"allowed: {sorted(EDGE_TYPES)}")
    if m.zoom_min >= m.zoom_max:
        raise ValueError(f"{source}: memory.zoom_min must be below memory.zoom_max")
    if m.node_radius > m.node_radius_max:
        raise ValueError(f"{source}: memory.node_radius must be <= memory.node_radius_max")
    if style.layout.map_width + style.layout.side_width > 0.9:
        raise ValueError(f"{source}: layout.map_width + layout.side_width must be <= 0.9 "
                         "(the memory panel takes the rest)")
    return style


@cache
def load_style(path: Path = STYLE_PATH) -> Style:
    """The style in `path` (default: the shipped `viz/style.toml`), validated, cached."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the viewer style: {exc}") from None
    return parse_style(data, str(path))
