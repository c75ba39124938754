"""Random walks: weighted first-order steps, node2vec second-order steps, edge cases."""

import numpy as np
import pytest
import scipy.sparse as sp

from helpers.walks import (
    PAD,
    CSRWalker,
    node2vec_probabilities,
    random_walks,
    walk_tokens,
)


def undirected(n_nodes, edges):
    """Symmetric CSR adjacency from ``(u, v, weight)`` triples."""
    rows, cols, data = zip(*[(u, v, w) for u, v, w in edges], strict=True)
    matrix = sp.coo_matrix((data, (rows, cols)), shape=(n_nodes, n_nodes))
    return (matrix + matrix.T).tocsr()


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture
def kite():
    # 0 -- 1 is the step t -> v; from 1 the walker can go back to 0, to 2 (also a
    # neighbour of 0), or to 3 and 4 (not neighbours of 0).
    return undirected(
        5,
        [(0, 1, 2.0), (0, 2, 1.0), (1, 2, 3.0), (1, 3, 1.0), (1, 4, 2.0), (3, 4, 1.0)],
    )


def random_graph(rng, n_nodes=40, n_edges=120):
    pairs = rng.integers(0, n_nodes, size=(n_edges, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    weights = rng.random(len(pairs)) + 0.1
    return undirected(
        n_nodes, list(zip(pairs[:, 0], pairs[:, 1], weights, strict=True))
    )


def test_star_first_step_90_10(rng):
    star = undirected(3, [(0, 1, 9.0), (0, 2, 1.0)])
    walks = random_walks(star, n_walks=100_000, length=2, rng=rng, start_nodes=[0])
    assert walks.shape == (100_000, 2)
    assert np.all(walks[:, 0] == 0)
    assert abs(np.mean(walks[:, 1] == 1) - 0.9) < 0.01
    assert abs(np.mean(walks[:, 1] == 2) - 0.1) < 0.01


def test_node2vec_formula_hand_computed(kite):
    # p=0.5, q=2 out of 1 coming from 0: back 2/0.5=4, common 2: 3, others 1/2 and 2/2
    got = node2vec_probabilities(kite, previous=0, current=1, p=0.5, q=2.0)
    total = 4 + 3 + 0.5 + 1
    assert got == pytest.approx(
        {0: 4 / total, 2: 3 / total, 3: 0.5 / total, 4: 1 / total}
    )


@pytest.mark.parametrize("p, q", [(0.5, 2.0), (2.0, 0.5), (1.0, 1.0), (0.25, 4.0)])
def test_node2vec_frequencies_match_formula(kite, rng, p, q):
    walks = random_walks(
        kite, n_walks=200_000, length=3, rng=rng, p=p, q=q, start_nodes=[0]
    )
    via_1 = walks[walks[:, 1] == 1]
    assert len(via_1) > 50_000
    expected = node2vec_probabilities(kite, previous=0, current=1, p=p, q=q)
    observed = np.bincount(via_1[:, 2], minlength=5) / len(via_1)
    for node in range(5):
        assert abs(observed[node] - expected.get(node, 0.0)) < 0.01, (node, p, q)


def test_isolated_start_gives_single_node(rng):
    graph = undirected(4, [(0, 1, 1.0), (1, 2, 1.0)])  # node 3 has no edge
    for p, q in [(1.0, 1.0), (0.5, 2.0)]:
        walks = random_walks(
            graph, n_walks=3, length=6, rng=rng, p=p, q=q, start_nodes=[3]
        )
        assert np.all(walks[:, 0] == 3)
        assert np.all(walks[:, 1:] == PAD)
        assert walk_tokens(walks) == [["3"]] * 3


def test_directed_dead_end_stops_walk(rng):
    chain = sp.csr_matrix(([1.0, 1.0], ([0, 1], [1, 2])), shape=(3, 3))  # 0 -> 1 -> 2
    walks = random_walks(chain, n_walks=2, length=5, rng=rng, start_nodes=[0])
    assert walks.tolist() == [[0, 1, 2, PAD, PAD]] * 2


@pytest.mark.parametrize("p, q", [(1.0, 1.0), (0.5, 2.0), (4.0, 0.25)])
def test_walks_follow_edges(rng, p, q):
    graph = random_graph(rng)
    walks = random_walks(graph, n_walks=5, length=30, rng=rng, p=p, q=q)
    steps = np.column_stack([walks[:, :-1].ravel(), walks[:, 1:].ravel()])
    steps = steps[steps[:, 1] != PAD]
    assert len(steps) > 1000
    assert np.all(graph.toarray()[steps[:, 0], steps[:, 1]] > 0)


def test_walks_full_unless_isolated(rng):
    graph = random_graph(rng)
    degree = np.diff(graph.indptr)
    walks = random_walks(graph, n_walks=2, length=10, rng=rng, p=0.5, q=2.0)
    full = (walks != PAD).all(axis=1)
    assert np.array_equal(full, degree[walks[:, 0]] > 0)
    assert sorted(walks[:, 0].tolist()) == sorted(list(range(40)) * 2)


def test_walks_seeded():
    graph = random_graph(np.random.default_rng(0))

    def walk(seed):
        return random_walks(graph, 3, 20, np.random.default_rng(seed), p=0.5, q=2.0)

    assert np.array_equal(walk(1), walk(1))
    assert not np.array_equal(walk(1), walk(2))


def test_has_edge_matches_dense_lookup(rng):
    graph = random_graph(rng)
    walker = CSRWalker.from_adjacency(graph)
    sources, targets = rng.integers(0, 40, size=(2, 2000))
    assert np.array_equal(
        walker.has_edge(sources, targets), graph.toarray()[sources, targets] > 0
    )


def test_prepared_walker_same_walks(kite):
    walker = CSRWalker.from_adjacency(kite)
    a = random_walks(walker, 2, 8, np.random.default_rng(3), p=2.0, q=0.5)
    b = random_walks(kite, 2, 8, np.random.default_rng(3), p=2.0, q=0.5)
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"p": 0.0}, "p and q"), ({"q": -1.0}, "p and q"), ({"length": 0}, "length")],
)
def test_bad_parameters_raise(kite, rng, kwargs, message):
    arguments = {"n_walks": 1, "length": 5, "rng": rng, **kwargs}
    with pytest.raises(ValueError, match=message):
        random_walks(kite, **arguments)


def test_bad_adjacency_raises():
    with pytest.raises(ValueError, match="square"):
        CSRWalker.from_adjacency(sp.csr_matrix(np.ones((2, 3))))
    with pytest.raises(ValueError, match=">= 0"):
        CSRWalker.from_adjacency(sp.csr_matrix(np.array([[0.0, -1.0], [-1.0, 0.0]])))
