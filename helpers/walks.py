"""Weighted random walks on a CSR adjacency: DeepWalk and node2vec.

Every walker advances at the same time: one step of all walkers is a handful of
NumPy array operations, never a Python loop over walkers or nodes.

First-order steps (DeepWalk, and the first step of node2vec) pick neighbour ``x``
of the current node ``v`` with probability ``w(v, x) / sum_y w(v, y)``. One
global cumulative sum over the CSR data and a vectorised binary search inside
each walker's own row draw the next node of every walker at once.

Second-order steps (node2vec, Grover and Leskovec 2016) come from the previous
node ``t`` and the current node ``v``. The unnormalised weight of going to
``x`` is ``w(v, x) / p`` if ``x == t``, ``w(v, x)`` if ``x`` is also a neighbour
of ``t``, and ``w(v, x) / q`` otherwise. They are drawn exactly by rejection:
propose ``x`` from the first-order distribution and accept it with probability
``alpha(t, x) / max(1/p, 1, 1/q)``; rejected walkers propose again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

log = logging.getLogger(__name__)

PAD = -1  # fills the rest of a walk that starts on a node without edges
MAX_REJECTION_ROUNDS = 10_000


@dataclass
class CSRWalker:
    """Prepared adjacency for fast walks; build it once with :meth:`from_adjacency`.

    Attributes:
        indptr, indices: the CSR structure (column indices sorted within rows).
        cumulative: running sum of the edge weights over the whole data array.
        row_start: ``cumulative`` just before each row's first edge, ``(n_nodes,)``.
        row_total: sum of each row's edge weights, ``(n_nodes,)``; 0 when isolated.
    """

    indptr: np.ndarray
    indices: np.ndarray
    cumulative: np.ndarray
    row_start: np.ndarray
    row_total: np.ndarray

    @property
    def n_nodes(self) -> int:
        return len(self.indptr) - 1

    @property
    def degree(self) -> np.ndarray:
        """Number of edges of each node, ``(n_nodes,)``."""
        return np.diff(self.indptr)

    @property
    def max_degree(self) -> int:
        return int(self.degree.max(initial=0))

    @classmethod
    def from_adjacency(cls, adjacency: sp.spmatrix) -> CSRWalker:
        """Check and index a weighted adjacency matrix.

        Args:
            adjacency: square sparse matrix; entry ``(v, x)`` is the weight of the
                edge from ``v`` to ``x``. Weights must be finite and > 0 (explicit
                zeros are dropped). For node2vec it should be symmetric.

        Raises:
            ValueError: the matrix is not square or has negative or non-finite
                weights.
        """
        matrix = sp.csr_matrix(adjacency, dtype=np.float64, copy=True)
        if matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"adjacency must be square, got shape {matrix.shape}")
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        bad = ~np.isfinite(matrix.data) | (matrix.data < 0)
        if bad.any():
            raise ValueError(
                f"edge weights must be finite and >= 0; found {matrix.data[bad][:3]}"
            )
        matrix.sort_indices()
        cumulative = np.cumsum(matrix.data)
        padded = np.concatenate([[0.0], cumulative])
        row_start = padded[matrix.indptr[:-1]]
        row_total = padded[matrix.indptr[1:]] - row_start
        return cls(
            indptr=matrix.indptr.astype(np.int64),
            indices=matrix.indices.astype(np.int64),
            cumulative=cumulative,
            row_start=row_start,
            row_total=row_total,
        )

    def first_order_step(
        self, nodes: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Draw one weighted neighbour for each entry of ``nodes`` (none isolated)."""
        target = self.row_start[nodes] + rng.random(len(nodes)) * self.row_total[nodes]
        low, high = self.indptr[nodes], self.indptr[nodes + 1]
        position = _bisect_rows(self.cumulative, low, high, target, self.max_degree)
        # Rounding can put a draw at the very end of a row: keep it inside the row.
        return self.indices[np.minimum(position, high - 1)]

    def has_edge(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Boolean array: is ``(sources[i], targets[i])`` an edge?"""
        low, high = self.indptr[sources], self.indptr[sources + 1]
        # First position in the source's row whose column index is >= the target.
        position = _bisect_rows(self.indices, low, high, targets - 0.5, self.max_degree)
        inside = position < high
        found = np.zeros(len(sources), dtype=bool)
        found[inside] = self.indices[position[inside]] == targets[inside]
        return found

    def second_order_step(
        self,
        previous: np.ndarray,
        current: np.ndarray,
        p: float,
        q: float,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Draw one node2vec step for each walker by rejection sampling.

        Args:
            previous: node each walker came from, ``(n_walkers,)``.
            current: node each walker is on, ``(n_walkers,)``, none isolated.

        Returns:
            The next node of each walker, ``(n_walkers,)``.

        NOTE: a proposal is accepted with probability ``alpha / alpha_max``, so
        the expected number of rounds grows with ``max(1/p, 1, 1/q)``: p or q far
        below 1 make node2vec steps several times slower.
        """
        alpha_max = max(1.0 / p, 1.0, 1.0 / q)
        chosen = np.empty(len(current), dtype=np.int64)
        pending = np.arange(len(current))
        for _ in range(MAX_REJECTION_ROUNDS):
            proposal = self.first_order_step(current[pending], rng)
            back = proposal == previous[pending]
            common = self.has_edge(previous[pending], proposal)
            alpha = np.where(back, 1.0 / p, np.where(common, 1.0, 1.0 / q))
            accept = rng.random(len(pending)) * alpha_max < alpha
            chosen[pending[accept]] = proposal[accept]
            pending = pending[~accept]
            if len(pending) == 0:
                return chosen
        raise RuntimeError(
            f"node2vec rejection sampling did not finish after {MAX_REJECTION_ROUNDS} "
            f"rounds (p={p}, q={q}); use p and q closer to 1"
        )


def random_walks(
    adjacency: sp.spmatrix | CSRWalker,
    n_walks: int,
    length: int,
    rng: np.random.Generator,
    p: float = 1.0,
    q: float = 1.0,
    start_nodes: np.ndarray | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Weighted DeepWalk (``p == q == 1``) or node2vec walks, all walkers at once.

    Args:
        adjacency: weighted adjacency matrix (or a prepared :class:`CSRWalker`).
        n_walks: walks started from each start node.
        length: nodes per walk, the start node included (>= 1).
        rng: the only source of randomness: the same seed gives the same walks.
        p: return parameter; large ``p`` makes stepping straight back rarer.
        q: in-out parameter; ``q < 1`` favours moving away from the previous
            node (DFS-like), ``q > 1`` staying near it (BFS-like).
        start_nodes: node indices to start from (default: every node).
        progress: show a tqdm bar over the steps.

    Returns:
        Int64 array ``(n_walks * len(start_nodes), length)``. Rows are grouped by
        pass: the first ``len(start_nodes)`` rows are the first walk of each start
        node in a shuffled order, and so on. A walk that reaches a node without
        out-edges stops there and the rest of its row is ``PAD`` (-1). In an
        undirected graph that happens only to walks that start on an isolated
        node, so they hold that node alone.
    """
    if n_walks < 1 or length < 1:
        raise ValueError(f"n_walks and length must be >= 1, got {n_walks} and {length}")
    if p <= 0 or q <= 0:
        raise ValueError(f"p and q must be > 0, got p={p}, q={q}")
    walker = (
        adjacency
        if isinstance(adjacency, CSRWalker)
        else CSRWalker.from_adjacency(adjacency)
    )
    if start_nodes is None:
        start_nodes = np.arange(walker.n_nodes)
    start_nodes = np.asarray(start_nodes, dtype=np.int64)
    starts = np.concatenate([rng.permutation(start_nodes) for _ in range(n_walks)])
    walks = np.full((len(starts), length), PAD, dtype=np.int64)
    walks[:, 0] = starts
    active = np.arange(len(starts))
    first_order = p == 1.0 and q == 1.0
    for step in tqdm(range(1, length), disable=not progress, desc="walk steps"):
        current = walks[active, step - 1]
        moving = walker.row_total[current] > 0  # a walker without out-edges stops
        active, current = active[moving], current[moving]
        if first_order or step == 1:
            walks[active, step] = walker.first_order_step(current, rng)
        else:
            previous = walks[active, step - 2]
            walks[active, step] = walker.second_order_step(previous, current, p, q, rng)
    return walks


def walk_tokens(walks: np.ndarray) -> list[list[str]]:
    """Walks as lists of string tokens (for gensim), padding removed."""
    return [[str(node) for node in row[row != PAD]] for row in walks]


def node2vec_probabilities(
    adjacency: sp.spmatrix, previous: int, current: int, p: float, q: float
) -> dict[int, float]:
    """Exact second-order transition probabilities out of ``current``.

    The reference the sampler is tested against: ``{next node: probability}``
    for a walker that arrived at ``current`` from ``previous``.
    """
    matrix = sp.csr_matrix(adjacency, dtype=np.float64)
    row = matrix.getrow(current)
    previous_neighbours = set(matrix.getrow(previous).indices.tolist())
    weights = {}
    for node, weight in zip(row.indices.tolist(), row.data.tolist(), strict=True):
        if node == previous:
            weights[node] = weight / p
        elif node in previous_neighbours:
            weights[node] = weight
        else:
            weights[node] = weight / q
    total = sum(weights.values())
    return {node: weight / total for node, weight in weights.items()}


def _bisect_rows(
    values: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    target: np.ndarray,
    max_length: int,
) -> np.ndarray:
    """Vectorised ``bisect_right`` of ``target[i]`` in ``values[low[i]:high[i]]``.

    Each walker searches only its own row (short and contiguous in memory), which
    is many times faster than one ``np.searchsorted`` over every edge.

    Returns:
        Positions (absolute indices into ``values``): for each ``i`` the first
        position in ``[low[i], high[i]]`` whose value is ``> target[i]``.
    """
    low, high = low.copy(), high.copy()
    for _ in range(int(max_length).bit_length()):
        middle = (low + high) >> 1
        inside = middle < high
        go_right = inside & (values[np.minimum(middle, len(values) - 1)] <= target)
        low = np.where(go_right, middle + 1, low)
        high = np.where(go_right | ~inside, high, middle)
    return low
