"""Walk and Skip-Gram speed on notebook 03's graph against the tools users pick instead.

Compares, on the ML Latest Small co-like graph of notebook 03 (same rule):

- walk steps per second of ``helpers.walks`` (all walkers advance together)
  against a plain NetworkX walker (a Python loop over walkers and steps) and
  against PecanPy 2.0.9: ``PreCompFirstOrder`` for DeepWalk and ``SparseOTF`` for
  node2vec. PecanPy needs numpy<2 and pandas<3, so it runs from its own virtual
  environment ``.venv-peers`` (created on first use from requirements-peers.txt)
  and the two sides exchange an edge list and a JSON file. PecanPy compiles its
  walker on every ``simulate_walks()`` call. Its speed is therefore reported
  with that overhead (one call as large as ours) and without it (the marginal
  rate between that call and one three times larger). A first, untimed call
  builds its tables;
- Skip-Gram: our PyTorch trainer against gensim ``Word2Vec`` on the same walks
  with the same settings, wall time, pairs per second and genre coherence@10.

Usage (from the repository root, about 3 minutes on 2 cores plus the first
creation of .venv-peers)::

    MOVIELENS_DATA=/path/to/folder .venv/bin/python bench/walks_speed.py
    .venv/bin/python bench/walks_speed.py --skip-pecanpy --repeats 1

Absolute times vary by up to 1.6x between runs on shared machines; compare the
ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from helpers.config import PROJECT_ROOT
from helpers.data import load_movielens
from helpers.graph import colike_graph, cosine_neighbours, genre_coherence, genre_matrix
from helpers.skipgram import (
    SkipGramConfig,
    gensim_available,
    train_gensim,
    train_skipgram,
)
from helpers.splits import leave_last_out
from helpers.walks import PAD, CSRWalker, random_walks

PEERS_VENV = PROJECT_ROOT / ".venv-peers"
PEERS_LOCK = PROJECT_ROOT / "requirements-peers.txt"
PEERS_FALLBACK = ["numpy<2", "pandas<3", "pecanpy==2.0.9"]
NODE2VEC_P, NODE2VEC_Q = 0.5, 2.0  # the notebook's node2vec example
# Notebook 03's Skip-Gram settings (full mode).
SKIPGRAM = SkipGramConfig(dim=32, window=2, negatives=5, epochs=3, threads=1)

# Runs inside .venv-peers: reads the edge list, times PecanPy, writes JSON.
# NOTE: DeepWalk is timed with PreCompFirstOrder. PecanPy's second-order PreComp
# would store sum(degree^2) = 693 million transition entries for this graph
# (about 5.5 GB at 8 bytes each), so it was not run.
PECANPY_SCRIPT = r"""
import json, sys, time
from pecanpy import pecanpy

edges, out = sys.argv[1], sys.argv[2]
n_walks, length, p2, q2 = int(sys.argv[3]), int(sys.argv[4]), *map(float, sys.argv[5:7])
results = {}
for name, mode, p, q in [("DeepWalk", "PreCompFirstOrder", 1.0, 1.0),
                         ("node2vec", "SparseOTF", p2, q2)]:
    graph = getattr(pecanpy, mode)(p=p, q=q, workers=2, verbose=False, random_state=0)
    graph.read_edg(edges, weighted=True, directed=False)
    started = time.perf_counter()
    graph.simulate_walks(num_walks=1, walk_length=length)  # also builds its tables
    timings = {"first_call_seconds": time.perf_counter() - started}
    for key, walks_per_node in (("small", n_walks), ("large", 3 * n_walks)):
        started = time.perf_counter()
        walks = graph.simulate_walks(num_walks=walks_per_node, walk_length=length)
        timings[key + "_seconds"] = time.perf_counter() - started
        timings[key + "_steps"] = sum(len(walk) - 1 for walk in walks)
    results[name] = {"mode": mode, **timings}
json.dump(results, open(out, "w"))
"""


def notebook_graph():
    """Build the co-like graph of notebook 03 (all ratings); return it with genres."""
    data = load_movielens("ml-latest-small")
    split = leave_last_out(data.ratings)
    everything = pd.concat([split.train, split.valid, split.test], ignore_index=True)
    graph = colike_graph(everything, split.n_users, split.n_items, 4.0, 3)
    genres, _ = genre_matrix(
        data.items.set_index("item_id").loc[split.items.ids, "genres"]
    )
    return graph, genres


def median_rate(run, repeats: int) -> tuple[float, np.ndarray]:
    """Median steps per second over ``repeats`` calls of ``run() -> walks``."""
    rates, walks = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        walks = run()
        seconds = time.perf_counter() - started
        rates.append(int((walks[:, 1:] != PAD).sum()) / seconds)
    return float(np.median(rates)), walks


def naive_walks(nx_graph: nx.Graph, starts, length: int, p: float, q: float) -> int:
    """Walk like a textbook: Python loops, neighbour weights read from NetworkX."""
    steps = 0
    for start in starts:
        walk = [start]
        while len(walk) < length:
            current = walk[-1]
            neighbours = list(nx_graph.adj[current])
            weights = [nx_graph.adj[current][x]["weight"] for x in neighbours]
            if len(walk) > 1 and (p != 1 or q != 1):
                previous = walk[-2]
                weights = [
                    w / p
                    if x == previous
                    else w
                    if nx_graph.has_edge(previous, x)
                    else w / q
                    for x, w in zip(neighbours, weights, strict=True)
                ]
            walk.append(random.choices(neighbours, weights)[0])
            steps += 1
    return steps


def naive_rate(nx_graph, nodes, length, p, q, n_walks: int) -> float:
    random.seed(0)
    starts = np.random.default_rng(0).choice(nodes, size=n_walks).tolist()
    started = time.perf_counter()
    steps = naive_walks(nx_graph, starts, length, p, q)
    return steps / (time.perf_counter() - started)


def ensure_peers_venv() -> Path:
    """Create .venv-peers with PecanPy (numpy<2) unless it exists; return its python."""
    python = PEERS_VENV / "bin" / "python"
    if python.exists():
        return python
    print("creating .venv-peers for PecanPy (numpy<2, pandas<3) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    requirements = ["-r", str(PEERS_LOCK)] if PEERS_LOCK.exists() else PEERS_FALLBACK
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *requirements], check=True
    )
    return python


def pecanpy_rates(graph, n_walks: int, length: int, workdir: Path) -> dict:
    """Run PecanPy in .venv-peers on the graph's edge list; return its timings."""
    python = ensure_peers_venv()

    upper = graph.adjacency.tocoo()
    keep = upper.row < upper.col
    edges = workdir / "edges.tsv"
    np.savetxt(
        edges,
        np.column_stack([upper.row[keep], upper.col[keep], upper.data[keep]]),
        fmt=["%d", "%d", "%.6f"],
        delimiter="\t",
    )
    script, out = workdir / "pecanpy_walks.py", workdir / "pecanpy.json"
    script.write_text(PECANPY_SCRIPT)

    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    # PecanPy's walk_length counts steps; ours counts nodes.
    command = [
        str(python),
        str(script),
        str(edges),
        str(out),
        str(n_walks),
        str(length - 1),
        str(NODE2VEC_P),
        str(NODE2VEC_Q),
    ]
    subprocess.run(command, check=True, env=env)

    results = json.loads(out.read_text())
    for entry in results.values():
        # one call of the notebook's size, compilation included
        entry["rate_with_compile"] = entry["small_steps"] / entry["small_seconds"]
        # the marginal rate between two call sizes leaves the per-call cost out
        extra_steps = entry["large_steps"] - entry["small_steps"]
        extra_seconds = entry["large_seconds"] - entry["small_seconds"]
        entry["rate_without_compile"] = extra_steps / extra_seconds
    return results


def skipgram_comparison(walks, n_nodes, nodes, genres) -> dict:
    """PyTorch Skip-Gram vs gensim Word2Vec on the same walks and settings."""
    ours = train_skipgram(walks, n_nodes, SKIPGRAM, np.random.default_rng(0))
    coherence = genre_coherence(
        cosine_neighbours(ours.embeddings, nodes), nodes, genres
    )
    out = {
        "torch": {
            "seconds": ours.seconds,
            "pairs_per_second": ours.pairs_per_second,
            "coherence": coherence,
            "pairs": ours.n_pairs,
        }
    }
    if gensim_available():
        vectors, seconds = train_gensim(walks, n_nodes, SKIPGRAM, seed=0, workers=2)
        coherence = genre_coherence(cosine_neighbours(vectors, nodes), nodes, genres)
        out["gensim"] = {
            "seconds": seconds,
            "pairs_per_second": ours.n_pairs / seconds,
            "coherence": coherence,
        }
    return out


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(
            line.split(":", 1)[1].strip()
            for line in lscpu.splitlines()
            if line.startswith("Model name")
        )
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores (nproc), {model}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--walks", type=int, default=10, help="walks per node")
    parser.add_argument("--length", type=int, default=40, help="nodes per walk")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs of our walker"
    )
    parser.add_argument(
        "--naive-walks", type=int, default=300, help="naive walks timed"
    )
    parser.add_argument("--skip-pecanpy", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    graph, genres = notebook_graph()
    walker, nodes = CSRWalker.from_adjacency(graph.adjacency), graph.connected
    print(f"graph: {len(nodes)} movies with edges, {graph.n_edges} edges; {machine()}")
    results = {
        "machine": machine(),
        "graph": {"nodes": len(nodes), "edges": graph.n_edges},
    }
    nx_graph = nx.from_scipy_sparse_array(graph.adjacency[nodes][:, nodes])
    settings = {"DeepWalk": (1.0, 1.0), "node2vec": (NODE2VEC_P, NODE2VEC_Q)}
    for name, (p, q) in settings.items():
        rng = np.random.default_rng(0)

        def run(p=p, q=q, rng=rng):
            return random_walks(walker, args.walks, args.length, rng, p, q, nodes)

        rate, walks = median_rate(run, args.repeats)
        naive = naive_rate(
            nx_graph, np.arange(len(nodes)), args.length, p, q, args.naive_walks
        )
        results[name] = {"ours": rate, "naive_networkx": naive}
        print(f"{name}: ours {rate:,.0f} steps/s, naive NetworkX {naive:,.0f} steps/s")
        if name == "DeepWalk":
            deepwalk_walks = walks
    if not args.skip_pecanpy:
        with tempfile.TemporaryDirectory() as workdir:
            peers = pecanpy_rates(graph, args.walks, args.length, Path(workdir))
        for name, entry in peers.items():
            results[name]["pecanpy"] = entry
            print(
                f"{name}: PecanPy {entry['mode']} "
                f"{entry['rate_with_compile']:,.0f} steps/s with compilation, "
                f"{entry['rate_without_compile']:,.0f} without"
            )
    results["skipgram"] = skipgram_comparison(
        deepwalk_walks, graph.n_nodes, nodes, genres
    )
    for name, entry in results["skipgram"].items():
        print(
            f"Skip-Gram {name}: {entry['seconds']:.1f} s, "
            f"{entry['pairs_per_second']:,.0f} pairs/s, "
            f"coherence {entry['coherence']:.4f}"
        )
    print_ratios(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def print_ratios(results: dict) -> None:
    print("\nratios (ours / peer):")
    for name in ("DeepWalk", "node2vec"):
        entry = results[name]
        speedup = entry["ours"] / entry["naive_networkx"]
        print(f"  {name} vs naive NetworkX: {speedup:.0f}x")
        if "pecanpy" in entry:
            peer = entry["pecanpy"]
            print(
                f"  {name} vs PecanPy {peer['mode']}: "
                f"{entry['ours'] / peer['rate_with_compile']:.2f}x with its "
                "compilation, "
                f"{entry['ours'] / peer['rate_without_compile']:.2f}x without"
            )
    skipgram = results["skipgram"]
    if "gensim" in skipgram:
        ratio = skipgram["torch"]["seconds"] / skipgram["gensim"]["seconds"]
        print(f"  Skip-Gram wall time, PyTorch / gensim: {ratio:.2f}")


if __name__ == "__main__":
    sys.exit(main())
