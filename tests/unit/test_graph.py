"""Co-liking graph: the rule, analysis helpers, coherence and link prediction."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from helpers.graph import (
    colike_graph,
    cosine_neighbours,
    degree_product_auc,
    describe_graph,
    genre_coherence,
    genre_matrix,
    link_prediction_auc,
    main_genre,
    popular_neighbours,
    random_neighbours,
    sample_non_edges,
    split_edges,
    to_networkx,
    tsne_map,
)


@pytest.fixture
def rng():
    return np.random.default_rng(11)


@pytest.fixture
def ratings():
    # Users 0-2 like movies 0 and 1; users 0-1 also like 2; user 3 likes 3 only;
    # movie 4 is rated by everyone, but never >= 4. Movie 5 is never rated.
    rows = [(u, 0, 5.0) for u in range(3)] + [(u, 1, 4.0) for u in range(3)]
    rows += [(0, 2, 4.5), (1, 2, 4.0), (2, 2, 3.5), (3, 3, 5.0)]
    rows += [(u, 4, 3.0) for u in range(4)]
    return pd.DataFrame(rows, columns=["user_idx", "item_idx", "rating"])


def test_colike_graph_hand_case(ratings):
    graph = colike_graph(ratings, n_users=4, n_items=6, min_rating=4.0, min_support=2)
    dense = graph.adjacency.toarray()
    assert graph.n_nodes == 6
    assert graph.n_edges == 3  # 0-1 (3 co-likers), 0-2 and 1-2 (2 each)
    assert np.allclose(dense, dense.T)
    assert np.all(np.diag(dense) == 0)
    # cosine of like vectors: c / sqrt(n_i n_j) with 3 likers of 0 and 1, 2 of 2
    assert dense[0, 1] == pytest.approx(3 / 3)
    assert dense[0, 2] == pytest.approx(2 / np.sqrt(3 * 2))
    assert graph.support[1, 2] == 2
    assert graph.likes.tolist() == [3, 3, 2, 1, 0, 0]
    assert graph.isolated.tolist() == [3, 4, 5]
    assert graph.connected.tolist() == [0, 1, 2]


def test_colike_graph_support_drops_weak_edges(ratings):
    graph = colike_graph(ratings, n_users=4, n_items=6, min_support=3)
    assert graph.n_edges == 1
    assert graph.adjacency[0, 1] > 0
    assert graph.adjacency[0, 2] == 0


def test_colike_graph_bad_support_raises(ratings):
    with pytest.raises(ValueError, match="min_support"):
        colike_graph(ratings, 4, 6, min_support=0)


def test_describe_graph_counts(ratings):
    graph = colike_graph(ratings, n_users=4, n_items=6, min_support=2)
    facts = describe_graph(to_networkx(graph))
    assert facts["nodes"] == 6
    assert facts["edges"] == 3
    assert facts["isolated nodes"] == 3
    assert facts["nodes with edges"] == 3
    assert facts["components (nodes with edges)"] == 1
    assert facts["largest component"] == 3


def test_to_networkx_subgraph_keeps_node_indices(ratings):
    graph = colike_graph(ratings, n_users=4, n_items=6, min_support=2)
    nx_graph = to_networkx(graph, nodes=np.array([1, 2]))
    assert sorted(nx_graph.nodes) == [1, 2]
    assert nx_graph[1][2]["weight"] == pytest.approx(2 / np.sqrt(6))


def test_genre_matrix_no_genres_gives_zero_row():
    matrix, names = genre_matrix(pd.Series([["Drama", "War"], [], ["Comedy"]]))
    assert names == ["Comedy", "Drama", "War"]
    assert matrix.tolist() == [
        [False, True, True],
        [False, False, False],
        [True, False, False],
    ]


def test_genre_coherence_skips_genreless_queries():
    genres = np.array([[1, 0], [1, 1], [0, 1], [0, 0]], dtype=bool)
    nodes = np.array([0, 2, 3])
    neighbours = np.array([[1, 2], [1, 3], [0, 1]])
    # node 0: 1 shares, 2 does not; node 2: 1 shares, 3 (no genre) does not; 3 skipped
    assert genre_coherence(neighbours, nodes, genres) == pytest.approx(2 / 4)


def test_cosine_neighbours_order_and_never_self():
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.5, 0.5], [7.0, 7.0]])
    nodes = np.array([0, 1, 2, 3])  # node 4 is not searched
    got = cosine_neighbours(vectors, nodes, k=2, batch_size=3)
    assert got[0].tolist() == [1, 3]
    assert got[2].tolist() == [3, 1]
    assert all(node not in row for node, row in zip(nodes, got, strict=True))
    sparse = cosine_neighbours(sp.csr_matrix(vectors), nodes, k=2)
    assert np.array_equal(sparse, got)


def test_floors_never_pick_the_query(rng):
    nodes = np.arange(5, 25)
    drawn = random_neighbours(nodes, 10, rng)
    assert drawn.shape == (20, 10)
    assert np.all(drawn != nodes[:, None])
    assert np.isin(drawn, nodes).all()
    popularity = np.arange(30.0)
    popular = popular_neighbours(nodes, popularity, 3)
    assert popular[0].tolist() == [24, 23, 22]
    assert popular[-1].tolist() == [23, 22, 21]  # node 24 skips itself


def test_split_edges_holds_out_a_share(rng):
    dense = np.triu((rng.random((30, 30)) < 0.3).astype(float), 1)
    dense = dense + dense.T
    train, held = split_edges(sp.csr_matrix(dense), 0.2, rng)
    n_edges = int(dense.sum()) // 2
    assert len(held) == round(0.2 * n_edges)
    assert train.nnz // 2 == n_edges - len(held)
    assert np.allclose(train.toarray(), train.toarray().T)
    assert np.all(dense[held[:, 0], held[:, 1]] == 1)
    assert np.all(train.toarray()[held[:, 0], held[:, 1]] == 0)
    assert np.all(held[:, 0] < held[:, 1])


@pytest.mark.parametrize("by_degree", [False, True])
def test_sample_non_edges_distinct(rng, by_degree):
    dense = np.triu((rng.random((30, 30)) < 0.3).astype(float), 1)
    dense = dense + dense.T
    pairs = sample_non_edges(sp.csr_matrix(dense), 50, rng, by_degree)
    assert pairs.shape == (50, 2)
    assert np.all(dense[pairs[:, 0], pairs[:, 1]] == 0)
    assert np.all(pairs[:, 0] < pairs[:, 1])
    assert len({tuple(pair) for pair in pairs.tolist()}) == 50


def test_sample_non_edges_by_degree_favours_hubs(rng):
    # a star on 0..9 plus a sparse ring 10..59: hub 0 takes part in most
    # degree-weighted draws but in few uniform ones (it has no non-edge to 1..9)
    edges = [(0, i) for i in range(1, 10)] + [(i, i + 1) for i in range(10, 59)]
    edges += [(0, i) for i in range(10, 40)]
    rows, cols = np.array(edges).T
    matrix = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(60, 60))
    adjacency = (matrix + matrix.T).tocsr()
    uniform = sample_non_edges(adjacency, 300, rng)
    weighted = sample_non_edges(adjacency, 300, rng, by_degree=True)
    degree = np.diff(adjacency.indptr)
    assert degree[weighted].mean() > degree[uniform].mean()


def test_link_prediction_auc_perfect_and_reversed():
    vectors = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    edges, non_edges = np.array([[0, 1], [2, 3]]), np.array([[0, 2], [1, 3]])
    assert link_prediction_auc(vectors, edges, non_edges) == 1.0
    assert link_prediction_auc(vectors, non_edges, edges) == 0.0


def test_link_prediction_auc_sparse_matches_dense(rng):
    dense = (rng.random((12, 12)) < 0.4).astype(float)
    pairs = rng.integers(0, 12, size=(20, 2))
    sparse_auc = link_prediction_auc(sp.csr_matrix(dense), pairs[:10], pairs[10:])
    assert sparse_auc == pytest.approx(
        link_prediction_auc(dense, pairs[:10], pairs[10:])
    )


def test_tsne_map_shape_and_seed():
    vectors = np.random.default_rng(0).normal(size=(40, 5))
    first = tsne_map(vectors, seed=1)
    assert first.shape == (40, 2)
    assert np.allclose(first, tsne_map(vectors, seed=1))


def test_degree_product_auc_rewards_hub_edges():
    star = sp.csr_matrix(
        np.array([[0, 1, 1, 1], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])
    )
    edges, non_edges = np.array([[0, 1], [0, 2]]), np.array([[1, 2], [2, 3]])
    assert degree_product_auc(star, edges, non_edges) == 1.0


def test_main_genre_priority_and_default():
    genres = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0], [0, 1, 1]], dtype=bool)
    names = ["Drama", "Horror", "War"]
    got = main_genre(genres, names, priority=["War", "Horror", "Western"])
    assert got.tolist() == ["Horror", "other", "other", "War"]
    # default: commonest genres, rarest first (War 1 < Drama 2 = Horror 2)
    assert main_genre(genres, names, n_common=3).tolist() == [
        "Drama",
        "Drama",
        "other",
        "War",
    ]
