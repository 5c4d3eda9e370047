"""memsim's viewer: pygame live view, trace replay, and PNG / GIF / MP4 export.

- `viz.memory_layout`: stable incremental layout of a memory graph read with
  `GraphStore.structure`, its collapse pass, zoom and pan (no pygame)
- `viz.frame`: `Frame`, what is drawn at one moment, built from any world family's team
- `viz.panels`, `viz.viewer`: the panels and the `Viewer` window with its controls
- `viz.replay`: `Replayer`, re-runs a trace's episode and seeks forward and back
- `viz.run`: `LiveWatch` / `RecordWatch` (watches for `sim.episode.run_episode`),
  `run_live`, `record`, `snapshot`, `RunWatcher` and the `cmd_*` CLI entry points
- `viz/style.toml`: the look and layout, as data (`viz.style` validates it)

Importing `viz` itself loads nothing heavy; the simulation never imports this package.
"""
