"""The shape of the code base: one import namespace, imports that go one way, no cycles,
modules a reader can take in, and a package list that matches the tree."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from collections.abc import Collection
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("plugins", "envs", "memory", "agents", "sim", "viz", "scenarios")
# Imports go one way: a package may import its own modules and those of lower rank.
# envs and memory share the bottom rank but must not import each other; plugins (the
# plug-in loader) imports nothing of memsim. The root modules (memsim itself, the CLI,
# memsim.testing) may import everything.
RANK = {"plugins": -1, "scenarios": 0, "envs": 0, "memory": 0, "agents": 1, "sim": 2, "viz": 3,
        "": 4}
MAX_LINES = 500
LONG_MODULE_NOTE = "Over 500 lines:"  # a long module says why at its top, after this


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["memsim", *parts])


def memsim_modules() -> dict[str, Path]:
    modules = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    for name in ("__init__.py", "cli.py", "__main__.py", "testing.py"):
        modules[module_name(ROOT / name)] = ROOT / name
    return modules


def imported(path: Path, modules: Collection[str]) -> set[str]:
    """Every `memsim.*` module a module imports, at any level (function bodies and
    TYPE_CHECKING blocks included: an import is a dependency wherever it stands).
    `from package import submodule` depends on the submodule, not on the package."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names}
            found = subs & set(modules)
            names.update(found)
            if found != subs:
                names.add(node.module)
    return {n for n in names if n in modules}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in PACKAGES else ""


def import_graph() -> nx.DiGraph:
    modules = memsim_modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for target in imported(path, modules):
            if target != name:
                graph.add_edge(name, target)
    return graph


def test_no_package_imports_a_higher_one() -> None:
    upward = []
    for src, dst in import_graph().edges:
        a, b = package_of(src), package_of(dst)
        if a == b or (a, b) in (("envs", "memory"), ("memory", "envs")):
            if a != b:
                upward.append(f"{src} -> {dst}")
            continue
        if RANK[b] >= RANK[a]:
            upward.append(f"{src} -> {dst}")
    assert not upward, "imports against the layering (envs, memory ▸ agents ▸ sim ▸ viz):\n" + (
        "\n".join(sorted(upward)))


def test_the_layering_check_catches_an_upward_import() -> None:
    assert RANK[package_of("memsim.sim.team")] > RANK[package_of("memsim.agents.step")]
    assert package_of("memsim.cli") == "" and RANK[""] > RANK["viz"]


def test_no_import_cycle() -> None:
    cycles = list(nx.simple_cycles(import_graph()))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_long_modules_say_why() -> None:
    long = []
    for name, path in memsim_modules().items():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_LINES and LONG_MODULE_NOTE not in (ast.get_docstring(
                ast.parse(text)) or ""):
            long.append(f"{name} ({text.count(chr(10))} lines)")
    assert not long, f"modules over {MAX_LINES} lines without a reason at the top: {long}"


def test_pyproject_lists_every_package_of_the_tree() -> None:
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {"memsim"} | {module_name(p.parent / "__init__.py") for pkg in PACKAGES
                            for p in (ROOT / pkg).rglob("__init__.py")}
    assert set(listed["packages"]) == on_disk
    assert listed["package-dir"] == {"memsim": "."}


@pytest.mark.parametrize(("code", "ok"), [
    ("import memsim, gymnasium; assert 'memsim/Crafter-v0' in gymnasium.registry", True),
    ("import memsim.envs, memsim.memory, memsim.agents, memsim.sim, memsim.viz", True),
    ("import agents", False), ("import envs", False), ("import sim", False),
    ("import memory", False), ("import viz", False), ("import scenarios", False),
])
def test_memsim_is_the_only_top_level_name(tmp_path: Path, code: str, ok: bool) -> None:
    # From another directory, so the repository root is not on sys.path: what an
    # installed memsim provides.
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode == 0) == ok, done.stderr[-500:]


def test_package_data_ships_every_data_file() -> None:
    """A data file the code reads (rules, settings, prompts, scenarios) must be in
    package-data, or an installed (not editable) memsim fails where it reads it."""
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs: dict[str, list[str]] = listed["package-data"]
    tracked = subprocess.run(["git", "ls-files", *PACKAGES], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    missing = []
    for name in tracked:
        path = ROOT / name
        if path.suffix == ".py" or path.name.startswith("."):
            continue
        package = path.parent
        while not (package / "__init__.py").is_file():
            package = package.parent
        relative = path.relative_to(package)
        patterns = globs.get(module_name(package / "__init__.py"), [])
        if not any(relative.match(p) and len(relative.parts) == len(Path(p).parts)
                   for p in patterns):
            missing.append(name)
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"
