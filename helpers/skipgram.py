"""Skip-Gram with negative sampling (Mikolov et al. 2013) on random walks, in PyTorch.

A walk is a sentence and a node is a word. For every node in a walk, the nodes
up to ``window`` steps away are its contexts. The model learns a centre vector
``u`` and a context vector ``v`` per node so that ``sigmoid(u_c . v_o)`` is high
for observed (centre, context) pairs and low for ``negatives`` random nodes
drawn from the unigram distribution raised to the power 0.75. As in word2vec,
frequent nodes are randomly dropped from the walks before pairs are made
(subsampling), the window is shrunk to a random size per centre node, and the
learning rate decays linearly to almost zero. The centre vectors are the
embeddings.

gensim's ``Word2Vec`` on the same walks is the reference; gensim is an optional
extra, so :func:`train_gensim` raises ``ImportError`` with a hint when missing.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from helpers.evaluation import Scorer
from helpers.walks import PAD, CSRWalker, random_walks, walk_tokens

log = logging.getLogger(__name__)


@dataclass
class SkipGramConfig:
    """Skip-Gram settings (word2vec's names in parentheses).

    Attributes:
        dim: embedding size (``vector_size``).
        window: largest distance between centre and context (``window``).
        negatives: noise nodes per pair (``negative``).
        epochs: passes over the walks (``epochs``).
        lr: starting learning rate, decayed linearly to ``lr * 1e-4`` (``alpha``).
        subsample: frequency threshold ``t`` for dropping frequent nodes, 0 to
            keep all (``sample``).
        noise_power: exponent of the unigram noise distribution (``ns_exponent``).
        batch_size: (centre, context) pairs per optimiser step; a multiple of
            ``group``.
        group: consecutive pairs that share one draw of negatives (1: every
            pair draws its own, as in word2vec); see :class:`SkipGram`.
        threads: torch intra-op threads while training, restored afterwards;
            ``None`` keeps torch's setting. One thread is fastest when other
            processes compete for the cores.
        log_every: optimiser steps between two points of the loss curve.
    """

    dim: int = 64
    window: int = 5
    negatives: int = 5
    epochs: int = 3
    lr: float = 0.025
    subsample: float = 1e-3
    noise_power: float = 0.75
    batch_size: int = 4096
    group: int = 32
    threads: int | None = None
    log_every: int = 50

    def __post_init__(self):
        if self.batch_size % self.group:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be a multiple of group "
                f"({self.group})"
            )


@dataclass
class SkipGramResult:
    """Trained embeddings and how training went.

    Attributes:
        embeddings: ``(n_nodes, dim)`` float32 centre vectors; rows of nodes that
            never occur in the walks are zero.
        trained: boolean ``(n_nodes,)``, True for nodes that occur in the walks.
        history: loss curve, columns ``epoch, pairs, loss`` (mean loss per pair
            over the last ``log_every`` steps).
        seconds: training wall time, pair generation included.
        n_pairs: (centre, context) pairs trained on, over all epochs.
    """

    embeddings: np.ndarray
    trained: np.ndarray
    history: pd.DataFrame
    seconds: float
    n_pairs: int

    @property
    def pairs_per_second(self) -> float:
        return self.n_pairs / self.seconds


def node_counts(walks: np.ndarray, n_nodes: int) -> np.ndarray:
    """Occurrences of each node in the walks (padding ignored), ``(n_nodes,)``."""
    return np.bincount(walks[walks != PAD], minlength=n_nodes)


def keep_probability(counts: np.ndarray, threshold: float) -> np.ndarray:
    """word2vec's chance of keeping each occurrence of a node: ``(sqrt(f/t) + 1) t/f``.

    ``f`` is the node's share of all tokens; the result is clipped to [0, 1] and
    is 1 everywhere when ``threshold`` is 0.
    """
    if threshold <= 0:
        return np.ones(len(counts))
    share = counts / max(counts.sum(), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = (np.sqrt(share / threshold) + 1.0) * threshold / share
    return np.where(counts > 0, np.minimum(keep, 1.0), 1.0)


def subsample_walks(
    walks: np.ndarray, keep: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Drop each token with probability ``1 - keep[node]`` and close the gaps.

    Kept tokens move left in their original order and the row ends in ``PAD``,
    so a window spans the removed tokens as in word2vec.
    """
    mask = walks != PAD
    mask[mask] = rng.random(int(mask.sum())) < keep[walks[mask]]
    order = np.argsort(~mask, axis=1, kind="stable")  # kept tokens first
    return np.where(
        np.take_along_axis(mask, order, axis=1),
        np.take_along_axis(walks, order, axis=1),
        PAD,
    )


def skipgram_pairs(
    walks: np.ndarray, window: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Make all (centre, context) pairs of the walks, with word2vec's shrunk windows.

    Each token draws its own window ``b`` uniformly from ``1..window`` and pairs
    with the tokens at most ``b`` positions away on both sides.

    Returns:
        ``(centres, contexts)``, two int64 arrays of equal length, shuffled.
    """
    reach = rng.integers(1, window + 1, size=walks.shape)
    centres, contexts = [], []
    for distance in range(1, window + 1):
        left, right = walks[:, :-distance], walks[:, distance:]
        valid = (left != PAD) & (right != PAD)
        forward = valid & (reach[:, :-distance] >= distance)  # centre on the left
        backward = valid & (reach[:, distance:] >= distance)  # centre on the right
        centres += [left[forward], right[backward]]
        contexts += [right[forward], left[backward]]
    centres, contexts = np.concatenate(centres), np.concatenate(contexts)
    order = rng.permutation(len(centres))
    return centres[order], contexts[order]


class SkipGram(nn.Module):
    """Centre and context embedding tables of Skip-Gram with negative sampling.

    A batch of ``n_groups * group`` pairs comes with ``(n_groups, k)`` negatives:
    consecutive runs of ``group`` pairs (random pairs, since pairs are shuffled)
    share one draw of ``k`` negatives. With ``group == 1`` this is word2vec's
    objective exactly. Sharing turns the per-pair dot products into small matrix
    products and cuts memory traffic several times, for the same expected
    gradient.

    NOTE: with ``group > 1`` the noise of pairs in a group is correlated. On the
    notebook's walks, genre coherence matched gensim's per-pair sampling, but
    other graphs were not checked.

    ``forward`` gives the loss for autograd; :meth:`sgd_step` applies the same
    gradient in closed form (no autograd graph, no sparse gradient tensors),
    which is what makes training fast on a CPU.
    """

    def __init__(
        self, n_nodes: int, dim: int, generator: torch.Generator | None = None
    ):
        super().__init__()
        self.centre = nn.Parameter(torch.empty(n_nodes, dim))
        self.context = nn.Parameter(torch.zeros(n_nodes, dim))
        # word2vec's start: small random centre vectors, zero context vectors.
        with torch.no_grad():
            self.centre.uniform_(-0.5 / dim, 0.5 / dim, generator=generator)

    def _logits(self, centres, contexts, noise):
        # F.embedding (index_select) is several times faster than fancy indexing.
        n_groups, dim = noise.shape[0], self.centre.shape[1]
        u = F.embedding(centres, self.centre)  # (batch, dim)
        v = F.embedding(contexts, self.context)  # (batch, dim)
        v_noise = F.embedding(noise, self.context)  # (n_groups, k, dim)
        grouped = u.view(n_groups, -1, dim)  # (n_groups, group, dim)
        positive = (u * v).sum(1)  # (batch,)
        negative = torch.bmm(grouped, v_noise.transpose(1, 2))  # (n_groups, group, k)
        return u, v, v_noise, positive, negative

    def forward(
        self, centres: torch.Tensor, contexts: torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        """Loss ``-log s(u.v) - sum_k log s(-u.v_k)`` per pair, shape ``(batch,)``.

        Args:
            centres, contexts: node indices ``(batch,)``; ``batch`` must be a
                multiple of ``noise.shape[0]``.
            noise: negative node indices ``(n_groups, k)``.
        """
        *_, positive, negative = self._logits(centres, contexts, noise)
        negative_loss = -F.logsigmoid(-negative).sum(2).reshape(-1)  # (batch,)
        return -F.logsigmoid(positive) + negative_loss

    @torch.no_grad()
    def sgd_step(
        self,
        centres: torch.Tensor,
        contexts: torch.Tensor,
        noise: torch.Tensor,
        lr: float,
    ) -> torch.Tensor:
        """One SGD step on the summed loss of the batch; returns the loss per pair.

        Equal to ``forward(...).sum().backward()`` followed by plain SGD: rows
        that occur several times in the batch receive the sum of their updates.
        """
        u, v, v_noise, positive, negative = self._logits(centres, contexts, noise)
        n_groups, dim = noise.shape[0], u.shape[1]
        # -lr * d loss / d logit: (1 - s(x)) for the pair, -s(x) for a negative
        step_positive = (1.0 - torch.sigmoid(positive)) * lr  # (batch,)
        step_negative = -torch.sigmoid(negative) * lr  # (n_groups, group, k)
        centre_update = step_positive[:, None] * v + torch.bmm(
            step_negative, v_noise
        ).reshape(-1, dim)  # (batch, dim)
        grouped = u.view(n_groups, -1, dim)
        noise_update = torch.bmm(step_negative.transpose(1, 2), grouped)  # (g, k, dim)
        self.context.index_add_(0, contexts, step_positive[:, None] * u)
        self.context.index_add_(0, noise.reshape(-1), noise_update.reshape(-1, dim))
        self.centre.index_add_(0, centres, centre_update)
        negative_loss = -F.logsigmoid(-negative).sum(2).reshape(-1)
        return -F.logsigmoid(positive) + negative_loss


def train_skipgram(
    walks: np.ndarray,
    n_nodes: int,
    config: SkipGramConfig,
    rng: np.random.Generator,
    progress: bool = False,
) -> SkipGramResult:
    """Train Skip-Gram with negative sampling on ``walks`` with plain SGD.

    Every epoch draws its own subsampling, windows, pair order and negatives.
    The last ``< config.group`` pairs of an epoch, which cannot fill a group,
    are skipped.

    Args:
        walks: ``(n_walks, length)`` node indices padded with ``PAD``.
        n_nodes: number of nodes (embedding rows).
        rng: the only source of randomness (the torch generator is seeded from
            it), so the same seed gives the same embeddings.
    """
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
    counts = node_counts(walks, n_nodes)
    keep = keep_probability(counts, config.subsample)
    noise = torch.as_tensor(counts.astype(np.float64) ** config.noise_power)
    model = SkipGram(n_nodes, config.dim, generator)
    history, n_pairs, total_steps = [], 0, None
    with torch_threads(config.threads):
        for epoch in range(1, config.epochs + 1):
            pairs = skipgram_pairs(
                subsample_walks(walks, keep, rng), config.window, rng
            )
            if total_steps is None:  # later epochs have about as many pairs
                total_steps = config.epochs * -(-len(pairs[0]) // config.batch_size)
            losses = _train_epoch(
                model, pairs, noise, config, total_steps, epoch, generator, progress
            )
            history += [(epoch, n_pairs + seen, loss) for seen, loss in losses]
            n_pairs += losses[-1][0] if losses else 0
            log.info(
                "skip-gram epoch %d: loss %.4f", epoch, losses[-1][1] if losses else 0
            )
    embeddings = model.centre.detach().numpy().copy()
    embeddings[counts == 0] = 0.0
    return SkipGramResult(
        embeddings=embeddings,
        trained=counts > 0,
        history=pd.DataFrame(history, columns=["epoch", "pairs", "loss"]),
        seconds=time.perf_counter() - started,
        n_pairs=n_pairs,
    )


def _train_epoch(model, pairs, noise, config, total_steps, epoch, generator, progress):
    """SGD over one epoch of shuffled pairs; returns ``[(pairs seen, mean loss)]``."""
    centres, contexts = torch.from_numpy(pairs[0]), torch.from_numpy(pairs[1])
    usable = len(centres) - len(centres) % config.group
    step = (epoch - 1) * -(-usable // config.batch_size)
    points, losses, seen = [], [], 0
    batches = range(0, usable, config.batch_size)
    for start in tqdm(
        batches, disable=not progress, desc=f"epoch {epoch}", leave=False
    ):
        batch = slice(start, min(start + config.batch_size, usable))
        n_groups = (batch.stop - batch.start) // config.group
        drawn = torch.multinomial(
            noise, n_groups * config.negatives, replacement=True, generator=generator
        ).view(n_groups, config.negatives)
        lr = config.lr * max(1e-4, 1.0 - step / total_steps)
        losses.append(
            float(model.sgd_step(centres[batch], contexts[batch], drawn, lr).mean())
        )
        step, seen = step + 1, seen + batch.stop - batch.start
        if len(losses) == config.log_every or batch.stop == usable:
            points.append((seen, float(np.mean(losses))))
            losses = []
    return points


@contextmanager
def torch_threads(n_threads: int | None):
    """Run a block with ``n_threads`` torch intra-op threads, then restore them.

    NOTE: the setting is process-wide while the block runs, so torch code in
    other threads of the same process also runs with it.
    """
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class WalkEmbedding:
    """Walks and Skip-Gram embeddings of one setting (``p == q == 1`` is DeepWalk)."""

    p: float
    q: float
    walks: np.ndarray
    walk_seconds: float
    result: SkipGramResult

    @property
    def steps_per_second(self) -> float:
        """Walk steps (node moves, padding excluded) per second of walking."""
        steps = int((self.walks[:, 1:] != PAD).sum())
        return steps / self.walk_seconds


def walk_and_embed(
    walker: CSRWalker,
    start_nodes: np.ndarray,
    n_walks: int,
    length: int,
    p: float,
    q: float,
    config: SkipGramConfig,
    rng: np.random.Generator,
    progress: bool = False,
) -> WalkEmbedding:
    """Walk the graph (:func:`~helpers.walks.random_walks`), then train Skip-Gram."""
    started = time.perf_counter()
    walks = random_walks(walker, n_walks, length, rng, p, q, start_nodes, progress)
    walk_seconds = time.perf_counter() - started
    result = train_skipgram(walks, walker.n_nodes, config, rng, progress)
    log.info(
        "p=%g q=%g: walks %.1fs, skip-gram %.1fs", p, q, walk_seconds, result.seconds
    )
    return WalkEmbedding(p, q, walks, walk_seconds, result)


def plot_loss(
    history: pd.DataFrame, label: str | None = None, ax: plt.Axes | None = None
):
    """Skip-Gram loss per pair against pairs seen (millions)."""
    ax = ax or plt.subplots(figsize=(5, 3.2), layout="constrained")[1]
    ax.plot(history["pairs"] / 1e6, history["loss"], label=label)
    ax.set(xlabel="pairs seen (millions)", ylabel="SGNS loss per pair")
    return ax


def gensim_available() -> bool:
    """True when gensim (the optional reference implementation) can be imported."""
    try:
        import gensim  # noqa: F401
    except ImportError:
        return False
    return True


def train_gensim(
    walks: np.ndarray, n_nodes: int, config: SkipGramConfig, seed: int, workers: int = 2
) -> tuple[np.ndarray, float]:
    """gensim ``Word2Vec`` with the same settings on the same walks.

    Nodes become string tokens and ``min_count=1`` keeps every node that occurs.

    Returns:
        ``(embeddings, seconds)``: ``(n_nodes, dim)`` float32 with zero rows for
        nodes absent from the walks, and the wall time of training.

    Raises:
        ImportError: gensim is not installed (``pip install -e .[bench]``).
    """
    try:
        from gensim.models import Word2Vec
    except ImportError as error:
        raise ImportError(
            "gensim is optional and not installed; install it with "
            "'pip install -e .[bench]' to compare with Word2Vec"
        ) from error
    sentences = walk_tokens(walks)
    started = time.perf_counter()
    model = Word2Vec(
        sentences=sentences,
        vector_size=config.dim,
        window=config.window,
        negative=config.negatives,
        ns_exponent=config.noise_power,
        sample=config.subsample,
        alpha=config.lr,
        epochs=config.epochs,
        min_count=1,
        sg=1,
        hs=0,
        workers=workers,
        seed=seed,
    )
    seconds = time.perf_counter() - started
    embeddings = np.zeros((n_nodes, config.dim), dtype=np.float32)
    nodes = np.array([int(token) for token in model.wv.index_to_key])
    embeddings[nodes] = model.wv.vectors
    return embeddings, seconds


def embedding_scorer(
    embeddings: np.ndarray,
    history: sp.csr_matrix,
    fallback: np.ndarray,
    k: int | None = 200,
) -> Scorer:
    """Item-kNN on embedding cosines: ``score(u, i) = sum_{j in history(u)} s(i, j)``.

    ``s(i, j)`` is the cosine of the two embeddings, clipped at 0, and kept only
    when ``j`` is one of the ``k`` items most similar to ``i`` (all when ``k`` is
    None), as in item-based kNN. Items without an embedding (a zero row, e.g.
    not in the graph) rank below every embedded item, ordered among themselves
    by ``fallback``.

    Args:
        embeddings: ``(n_items, dim)``; zero rows mark items without embedding.
        history: binary ``(n_users, n_items)`` items each user interacted with.
        fallback: ``(n_items,)`` score that orders the items without embedding
            (e.g. training popularity).
        k: neighbours kept per item.

    Returns:
        A scorer ``users (n,) -> scores (n, n_items)``.
    """
    norms = np.linalg.norm(embeddings, axis=1)
    embedded = np.flatnonzero(norms > 0)
    missing = np.flatnonzero(norms == 0)
    unit = embeddings[embedded] / norms[embedded, None]
    similarity = np.maximum(unit @ unit.T, 0.0)  # (n_embedded, n_embedded)
    np.fill_diagonal(similarity, 0.0)
    if k is not None and k < len(embedded):
        cutoff = np.partition(similarity, -k, axis=0)[-k]  # k-th largest per column
        similarity[similarity < cutoff[None, :]] = 0.0
    similarity = similarity.astype(np.float32)
    rank = np.argsort(np.argsort(fallback[missing], kind="stable"), kind="stable")
    fallback_rank = rank / max(len(missing), 1)  # in [0, 1)
    history = history.tocsc()[:, embedded].tocsr().astype(np.float32)

    def score(users: np.ndarray) -> np.ndarray:
        scores = np.empty((len(users), len(norms)))
        scores[:, embedded] = np.asarray(history[users] @ similarity)
        lowest = (
            scores[:, embedded].min(axis=1, keepdims=True) if len(embedded) else 0.0
        )
        scores[:, missing] = lowest - 2.0 + fallback_rank[None, :]
        return scores

    return score
