"""The movie co-liking graph: construction, analysis and graph-level evaluation.

Rule: two movies are joined when at least ``min_support`` users rated both of
them ``>= min_rating`` ("co-liked" them). The edge weight is the cosine of their
like vectors, ``c_ij / sqrt(n_i * n_j)``. Here ``c_ij`` counts the users who liked
both and ``n_i`` the users who liked movie ``i``, so weights lie in (0, 1].
Counts come from one sparse product ``L.T @ L`` of the binary user x movie like
matrix, never from a loop over user pairs. A movie that no user liked, or whose
co-likes all fall below the support, is an isolated node: it stays in the node
set (so indices match the rest of the project) and is reported and skipped
explicitly by the walks and the evaluations.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.manifold import TSNE
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)


@dataclass
class ItemGraph:
    """Weighted undirected co-liking graph over ``n_items`` movie indices.

    Attributes:
        adjacency: symmetric CSR ``(n_items, n_items)``, zero diagonal, cosine
            weights in (0, 1].
        support: co-like counts of the same edges (same sparsity pattern).
        likes: number of users who liked each movie, ``(n_items,)``.
        min_rating, min_support: the rule the graph was built with.
    """

    adjacency: sp.csr_matrix
    support: sp.csr_matrix
    likes: np.ndarray
    min_rating: float
    min_support: int

    @property
    def n_nodes(self) -> int:
        return self.adjacency.shape[0]

    @property
    def n_edges(self) -> int:
        """Undirected edges (each stored twice in ``adjacency``)."""
        return self.adjacency.nnz // 2

    @property
    def degree(self) -> np.ndarray:
        return np.diff(self.adjacency.indptr)

    @property
    def connected(self) -> np.ndarray:
        """Indices of nodes with at least one edge."""
        return np.flatnonzero(self.degree > 0)

    @property
    def isolated(self) -> np.ndarray:
        """Indices of nodes without any edge."""
        return np.flatnonzero(self.degree == 0)


def like_matrix(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    n_users: int,
    n_items: int,
    min_rating: float = 4.0,
) -> sp.csr_matrix:
    """Binary user x movie CSR matrix of ratings ``>= min_rating``."""
    liked = np.asarray(ratings) >= min_rating
    data = np.ones(int(liked.sum()), dtype=np.float64)
    matrix = sp.csr_matrix(
        (data, (np.asarray(users)[liked], np.asarray(items)[liked])),
        shape=(n_users, n_items),
    )
    matrix.data[:] = 1.0  # duplicates, if any, still count once
    return matrix


def colike_graph(
    interactions: pd.DataFrame,
    n_users: int,
    n_items: int,
    min_rating: float = 4.0,
    min_support: int = 3,
) -> ItemGraph:
    """Build the co-liking graph from ``user_idx, item_idx, rating`` rows.

    Args:
        interactions: frame with 0-based ``user_idx`` and ``item_idx`` and the
            ``rating`` (e.g. ``split.train``, so held-out ratings stay out).
        n_users, n_items: index ranges; every item index is a node.
        min_rating: a rating at least this high counts as a like.
        min_support: fewest co-likers for an edge (>= 1).

    Returns:
        The :class:`ItemGraph`.
    """
    if min_support < 1:
        raise ValueError(f"min_support must be >= 1, got {min_support}")
    likes = like_matrix(
        interactions["user_idx"].to_numpy(),
        interactions["item_idx"].to_numpy(),
        interactions["rating"].to_numpy(),
        n_users,
        n_items,
        min_rating,
    )
    counts = (likes.T @ likes).tocsr()  # co-like counts, (n_items, n_items)
    counts.setdiag(0)
    counts.data[counts.data < min_support] = 0
    counts.eliminate_zeros()
    n_likes = np.asarray(likes.sum(axis=0)).ravel()
    coo = counts.tocoo()
    weights = coo.data / np.sqrt(n_likes[coo.row] * n_likes[coo.col])
    adjacency = sp.csr_matrix((weights, (coo.row, coo.col)), shape=counts.shape)
    adjacency.sort_indices()
    graph = ItemGraph(adjacency, counts, n_likes, min_rating, min_support)
    log.info(
        "co-like graph: %d of %d movies have edges, %d edges",
        len(graph.connected),
        n_items,
        graph.n_edges,
    )
    return graph


def to_networkx(graph: ItemGraph, nodes: np.ndarray | None = None) -> nx.Graph:
    """NetworkX view of the graph (``weight`` edge attribute), all nodes by default."""
    adjacency = graph.adjacency
    if nodes is not None:
        adjacency = adjacency[nodes][:, nodes]
    nx_graph = nx.from_scipy_sparse_array(adjacency, edge_attribute="weight")
    if nodes is not None:
        nx_graph = nx.relabel_nodes(
            nx_graph, dict(enumerate(np.asarray(nodes).tolist()))
        )
    return nx_graph


def describe_graph(nx_graph: nx.Graph) -> dict[str, float]:
    """Counts, degree statistics and components of a NetworkX graph."""
    degrees = np.array([d for _, d in nx_graph.degree()])
    components = sorted(
        (len(c) for c in nx.connected_components(nx_graph)), reverse=True
    )
    with_edges = degrees > 0
    return {
        "nodes": nx_graph.number_of_nodes(),
        "edges": nx_graph.number_of_edges(),
        "nodes with edges": int(with_edges.sum()),
        "isolated nodes": int((~with_edges).sum()),
        "density (nodes with edges)": nx.density(
            nx_graph.subgraph(np.flatnonzero(with_edges))
        ),
        "median degree (nodes with edges)": float(np.median(degrees[with_edges])),
        "max degree": int(degrees.max()),
        "components (nodes with edges)": sum(size > 1 for size in components),
        "largest component": components[0],
    }


def plot_degree_distribution(
    degree: np.ndarray, ax: plt.Axes | None = None
) -> plt.Axes:
    """Complementary cumulative degree distribution on log-log axes (edges only)."""
    ax = ax or plt.subplots(figsize=(5, 3.2), layout="constrained")[1]
    values = np.sort(degree[degree > 0])
    share_at_least = 1.0 - np.arange(len(values)) / len(values)
    ax.loglog(values, share_at_least, drawstyle="steps-post")
    ax.set(xlabel="degree (co-liked movies)", ylabel="share of movies with degree >= x")
    return ax


def genre_matrix(genres: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Binary ``(n_movies, n_genres)`` matrix from lists of genre names.

    A movie with an empty list (``(no genres listed)``) gets an all-zero row.
    """
    names = sorted({g for row in genres for g in row})
    column = {name: j for j, name in enumerate(names)}
    matrix = np.zeros((len(genres), len(names)), dtype=bool)
    for i, row in enumerate(genres):
        matrix[i, [column[g] for g in row]] = True
    return matrix, names


def cosine_neighbours(
    vectors: np.ndarray | sp.spmatrix,
    nodes: np.ndarray,
    k: int = 10,
    batch_size: int = 1024,
) -> np.ndarray:
    """Find the ``k`` most cosine-similar other nodes of each node, among ``nodes``.

    Args:
        vectors: ``(n_nodes, dim)`` dense or sparse rows (embeddings, or rows of
            a co-occurrence matrix).
        nodes: indices of the nodes to search and to query.

    Returns:
        Int array ``(len(nodes), k)`` of node indices, most similar first; a node
        is never its own neighbour.
    """
    rows = _unit_rows(vectors[nodes])
    if sp.issparse(rows):
        # sparse x sparse costs sum(degree^2), far below a dense product here
        similarity_of = (rows @ rows.T).tocsr()

        def block(rows_slice: slice) -> np.ndarray:
            return similarity_of[rows_slice].toarray()
    else:

        def block(rows_slice: slice) -> np.ndarray:
            return rows[rows_slice] @ rows.T

    out = np.empty((len(nodes), k), dtype=np.int64)
    for start in range(0, len(nodes), batch_size):
        similarity = block(slice(start, start + batch_size))  # (batch, len(nodes))
        own = np.arange(start, start + len(similarity))
        similarity[np.arange(len(similarity)), own] = -np.inf
        top = np.argpartition(-similarity, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(similarity, top, axis=1), axis=1)
        out[start : start + len(similarity)] = np.take_along_axis(top, order, axis=1)
    return np.asarray(nodes)[out]


def _unit_rows(rows: np.ndarray | sp.spmatrix) -> np.ndarray | sp.csr_matrix:
    """Rows scaled to unit length (all-zero rows stay zero), dense or sparse."""
    if sp.issparse(rows):
        rows = sp.csr_matrix(rows, dtype=np.float64)
        norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
        return sp.diags(1.0 / np.maximum(norms, 1e-12)) @ rows
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def genre_coherence(
    neighbours: np.ndarray, nodes: np.ndarray, genres: np.ndarray
) -> float:
    """Share of neighbour slots holding a movie that shares a genre with the query.

    Args:
        neighbours: ``(len(nodes), k)`` node indices, one row per query node.
        nodes: the query node of each row.
        genres: boolean ``(n_nodes, n_genres)``; a movie without genres matches
            nothing, so queries without genres are left out of the average.

    Returns:
        A share in [0, 1].
    """
    has_genre = genres[nodes].any(axis=1)
    query = genres[nodes][has_genre][:, None, :]  # (n, 1, n_genres)
    found = genres[neighbours[has_genre]]  # (n, k, n_genres)
    return float((query & found).any(axis=2).mean())


def random_neighbours(
    nodes: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """``k`` uniformly drawn other nodes per node: the chance floor of coherence."""
    draws = rng.integers(0, len(nodes) - 1, size=(len(nodes), k))
    draws += draws >= np.arange(len(nodes))[:, None]  # skip the query itself
    return np.asarray(nodes)[draws]


def popular_neighbours(nodes: np.ndarray, popularity: np.ndarray, k: int) -> np.ndarray:
    """Pick the ``k`` most popular other nodes for every node: the popularity floor."""
    ranked = np.asarray(nodes)[np.argsort(-popularity[nodes], kind="stable")[: k + 1]]
    out = np.empty((len(nodes), k), dtype=np.int64)
    for row, node in enumerate(nodes):
        out[row] = ranked[ranked != node][:k]
    return out


def split_edges(
    adjacency: sp.csr_matrix, fraction: float, rng: np.random.Generator
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Hold out a random share of the edges for link prediction.

    Args:
        adjacency: symmetric adjacency.
        fraction: share of undirected edges to hold out, in (0, 1).

    Returns:
        ``(train_adjacency, held_out)``: the symmetric adjacency without the
        held-out edges, and the ``(m, 2)`` held-out node pairs (smaller index
        first).
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    upper = sp.triu(adjacency, k=1).tocoo()
    held_index = rng.permutation(upper.nnz)[: int(round(fraction * upper.nnz))]
    keep = np.ones(upper.nnz, dtype=bool)
    keep[held_index] = False
    rows, cols, data = upper.row[keep], upper.col[keep], upper.data[keep]
    train = sp.csr_matrix(
        (np.r_[data, data], (np.r_[rows, cols], np.r_[cols, rows])),
        shape=adjacency.shape,
    )
    train.sort_indices()
    held_out = np.column_stack([upper.row[held_index], upper.col[held_index]])
    return train, held_out.astype(np.int64)


def sample_non_edges(
    adjacency: sp.csr_matrix,
    n_pairs: int,
    rng: np.random.Generator,
    by_degree: bool = False,
) -> np.ndarray:
    """Distinct node pairs that are not joined, for link prediction.

    Args:
        adjacency: symmetric adjacency of the full graph (held-out edges included,
            so none of them is drawn as a non-edge).
        n_pairs: pairs to draw.
        by_degree: False draws both ends uniformly among nodes with an edge; True
            draws each end with probability proportional to its degree, like the
            ends of a random edge, so that degree alone cannot tell edges from
            non-edges.

    Returns:
        ``(n_pairs, 2)`` int array, smaller index first.
    """
    n_nodes = adjacency.shape[0]
    degree = np.diff(adjacency.indptr)
    pool = np.flatnonzero(degree > 0)
    weights = degree[pool] / degree[pool].sum() if by_degree else None
    upper = sp.triu(adjacency, k=1).tocoo()
    edge_keys = np.sort(upper.row.astype(np.int64) * n_nodes + upper.col)
    keys = np.empty(0, dtype=np.int64)
    while len(keys) < n_pairs:
        a, b = rng.choice(pool, size=(2, 2 * n_pairs), p=weights)
        low, high = np.minimum(a, b), np.maximum(a, b)
        drawn = low * n_nodes + high
        position = np.minimum(np.searchsorted(edge_keys, drawn), len(edge_keys) - 1)
        is_edge = edge_keys[position] == drawn
        keys = np.unique(np.concatenate([keys, drawn[(low != high) & ~is_edge]]))
    keys = rng.permutation(keys)[:n_pairs]
    return np.column_stack([keys // n_nodes, keys % n_nodes])


def link_prediction_auc(
    vectors: np.ndarray | sp.spmatrix, held_out: np.ndarray, non_edges: np.ndarray
) -> float:
    """ROC AUC of the cosine between pair rows: held-out edges vs non-edges.

    Args:
        vectors: ``(n_nodes, dim)`` dense embeddings or sparse rows (e.g. the
            adjacency of the graph without the held-out edges).
        held_out, non_edges: ``(m, 2)`` node pairs.

    A node whose row is all zero (no embedding) scores 0 with everything.

    NOTE: pairs are scored by plain cosine. The node2vec paper trains a classifier
    on edge features instead, which may score higher; that is not tried here.
    """
    pairs = np.vstack([held_out, non_edges])
    used, position = np.unique(pairs, return_inverse=True)
    position = position.reshape(pairs.shape)
    rows = _unit_rows(vectors[used])
    if sp.issparse(rows):  # one sparse product, then look the pairs up
        similarity = (rows @ rows.T).tocsr()
        scores = np.asarray(similarity[position[:, 0], position[:, 1]]).ravel()
    else:
        scores = (rows[position[:, 0]] * rows[position[:, 1]]).sum(axis=1)
    labels = np.r_[np.ones(len(held_out)), np.zeros(len(non_edges))]
    return float(roc_auc_score(labels, scores.ravel()))


def degree_product_auc(
    adjacency: sp.spmatrix, held_out: np.ndarray, non_edges: np.ndarray
) -> float:
    """ROC AUC of the degree product (preferential attachment), a floor."""
    degree = np.diff(sp.csr_matrix(adjacency).indptr).astype(np.float64)
    pairs = np.vstack([held_out, non_edges])
    labels = np.r_[np.ones(len(held_out)), np.zeros(len(non_edges))]
    return float(roc_auc_score(labels, degree[pairs[:, 0]] * degree[pairs[:, 1]]))


def tsne_map(vectors: np.ndarray, seed: int, threads: int | None = 1) -> np.ndarray:
    """2-D t-SNE coordinates ``(n, 2)`` of ``vectors`` (scikit-learn, PCA start).

    ``threads`` caps the OpenMP threads of scikit-learn's Barnes-Hut solver for
    this call only (``None``: no cap): on cores shared with other processes one
    thread is several times faster than two.
    """
    with threadpool_limits(threads):
        tsne = TSNE(n_components=2, init="pca", perplexity=30.0, random_state=seed)
        return tsne.fit_transform(np.asarray(vectors, dtype=np.float64))


def movie_labels(items: pd.DataFrame, item_ids: np.ndarray) -> np.ndarray:
    """``"Title (year)"`` for each raw ``item_id`` (no year when it is missing)."""
    frame = items.set_index("item_id").loc[np.asarray(item_ids)]
    years = frame["year"].astype("string").fillna("")
    labels = frame["title"].astype(str) + np.where(years != "", " (" + years + ")", "")
    return labels.to_numpy(dtype=object)


def main_genre(
    genres: np.ndarray,
    names: list[str],
    priority: list[str] | None = None,
    n_common: int = 8,
) -> np.ndarray:
    """One colour label per movie: its first genre in ``priority``, else ``"other"``.

    Args:
        genres: boolean ``(n_movies, n_genres)``.
        names: genre name of each column.
        priority: genres to show, most telling first (genres missing from
            ``names`` are ignored). By default, the ``n_common`` commonest genres,
            rarest first, because ``Animation`` is more specific than ``Comedy``.
    """
    if priority is None:
        frequency = genres.sum(axis=0)
        common = np.argsort(-frequency, kind="stable")[:n_common]
        columns = common[np.argsort(frequency[common], kind="stable")]
    else:
        columns = [names.index(name) for name in priority if name in names]
    labels = np.full(len(genres), "other", dtype=object)
    for column in columns[::-1]:  # the first genre is written last, so it wins
        labels[genres[:, column]] = names[column]
    return labels


def plot_embedding_map(
    coordinates: np.ndarray, labels: np.ndarray, ax: plt.Axes | None = None
) -> plt.Axes:
    """Scatter of 2-D coordinates, one colour per label, ``"other"`` in grey."""
    ax = ax or plt.subplots(figsize=(7, 6), layout="constrained")[1]
    ordered = sorted(set(labels) - {"other"}) + (["other"] if "other" in labels else [])
    colours = plt.get_cmap("tab10")
    for index, label in enumerate(ordered):
        points = coordinates[labels == label]
        colour = "lightgrey" if label == "other" else colours(index % 10)
        ax.scatter(
            points[:, 0], points[:, 1], s=6, color=colour, label=label, alpha=0.8
        )
    ax.legend(markerscale=3, fontsize=8, loc="best", frameon=False)
    ax.set(xticks=[], yticks=[], xlabel="t-SNE 1", ylabel="t-SNE 2")
    return ax


def plot_ego_network(
    graph: ItemGraph,
    node: int,
    labels: np.ndarray,
    k: int = 10,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Draw a movie, its ``k`` strongest neighbours and the edges among them.

    Line width grows with the edge weight (cosine of the like vectors).
    """
    ax = ax or plt.subplots(figsize=(7, 6), layout="constrained")[1]
    row = graph.adjacency.getrow(node)
    strongest = row.indices[np.argsort(-row.data, kind="stable")[:k]]
    ego = to_networkx(graph, np.concatenate([[node], strongest]))
    layout = nx.spring_layout(ego, weight="weight", seed=0)
    widths = [4 * data["weight"] for *_, data in ego.edges(data=True)]
    nx.draw_networkx_edges(ego, layout, ax=ax, width=widths, alpha=0.3)
    colours = ["tab:red" if n == node else "tab:blue" for n in ego.nodes]
    nx.draw_networkx_nodes(ego, layout, ax=ax, node_size=60, node_color=colours)
    nx.draw_networkx_labels(
        ego, layout, {n: labels[n] for n in ego.nodes}, ax=ax, font_size=7
    )
    ax.set_axis_off()
    return ax
