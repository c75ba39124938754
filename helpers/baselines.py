"""Baselines every model is compared with: popularity, ItemKNN, EASE and BPR-MF.

The item-based baselines score a user from a history matrix given at scoring
time (``scorer(history)``), so at test time they can read the validation
interaction too without refitting; the models learn only from ``train``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from helpers.evaluation import Scorer, evaluate, summarize
from helpers.splits import Split

log = logging.getLogger(__name__)


class Popularity:
    """Score every item by its number of training interactions."""

    def fit(self, train: sp.csr_matrix) -> Popularity:
        self.counts = np.asarray(train.sum(axis=0), dtype=np.float64).ravel()
        return self

    def scorer(self, history: sp.csr_matrix | None = None) -> Scorer:
        def score(users: np.ndarray) -> np.ndarray:
            return np.broadcast_to(self.counts, (len(users), len(self.counts))).copy()

        return score


class _ItemItem:
    """Shared scoring for models that score ``history @ item_weights``."""

    weights: np.ndarray | sp.csr_matrix

    def scorer(self, history: sp.csr_matrix) -> Scorer:
        history = history.tocsr().astype(np.float32)

        def score(users: np.ndarray) -> np.ndarray:
            product = history[users] @ self.weights
            return product.toarray() if sp.issparse(product) else np.asarray(product)

        return score


class ItemKNN(_ItemItem):
    """Item-based k-nearest neighbours on cosine similarity of item columns.

    Args:
        k: neighbours kept per item (the rest of each column is zeroed).
        shrink: added to the cosine denominator; damps pairs with little support.
    """

    def __init__(self, k: int = 100, shrink: float = 0.0):
        self.k, self.shrink = k, shrink

    def fit(self, train: sp.csr_matrix) -> ItemKNN:
        train = train.tocsc().astype(np.float32)
        norms = np.sqrt(np.asarray(train.multiply(train).sum(axis=0)).ravel())
        overlap = (train.T @ train).toarray()
        similarity = overlap / (np.outer(norms, norms) + self.shrink + 1e-12)
        np.fill_diagonal(similarity, 0.0)
        if self.k < similarity.shape[0]:
            # keep the k largest entries in each column (neighbours of that item)
            cutoff = np.partition(similarity, -self.k, axis=0)[-self.k]
            similarity[similarity < cutoff[None, :]] = 0.0
        self.weights = similarity.astype(np.float32)
        return self


class EASE(_ItemItem):
    """Embarrassingly shallow autoencoder (Steck, WWW 2019), closed form.

    ``B = I - P / diag(P)`` with ``P = (X^T X + lambda I)^-1`` and a zero
    diagonal, so an item never recommends itself.
    """

    def __init__(self, l2: float = 500.0):
        self.l2 = l2

    def fit(self, train: sp.csr_matrix) -> EASE:
        gram = (train.T @ train).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.l2
        inverse = np.linalg.inv(gram)
        weights = -inverse / np.diag(inverse)[None, :]
        np.fill_diagonal(weights, 0.0)
        self.weights = weights.astype(np.float32)
        return self


class BPRMF(nn.Module):
    """Matrix factorisation with item biases, trained with the BPR loss.

    ``forward(users, items)`` returns ``p_u . q_i + b_i``; train it with
    ``helpers.train.fit`` and ``TrainConfig(loss="bpr")``.
    """

    def __init__(self, n_users: int, n_items: int, factors: int = 64):
        super().__init__()
        self.user = nn.Embedding(n_users, factors)
        self.item = nn.Embedding(n_items, factors)
        self.bias = nn.Embedding(n_items, 1)
        nn.init.normal_(self.user.weight, std=0.1)
        nn.init.normal_(self.item.weight, std=0.1)
        nn.init.zeros_(self.bias.weight)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        dot = (self.user(users) * self.item(items)).sum(-1)
        return dot + self.bias(items).squeeze(-1)


def select_on_validation(
    make_model, grid: Sequence, split: Split, valid_candidates: np.ndarray, k: int = 10
) -> tuple[object, object, dict]:
    """Fit ``make_model(value)`` for each grid value; keep the best validation NDCG@k.

    Only the validation items are used, never the test items.

    Returns:
        ``(best_model, best_value, {value: valid NDCG@k})``.
    """
    train = split.matrix("train")
    scores, best = {}, (None, None, -1.0)
    for value in grid:
        model = make_model(value).fit(train)
        per_user = evaluate(model.scorer(train), split, valid_candidates, k, "valid")
        scores[value] = summarize(per_user)["sampled"][f"NDCG@{k}"]
        log.info(
            "%s(%s): valid NDCG@%d %.4f", type(model).__name__, value, k, scores[value]
        )
        if scores[value] > best[2]:
            best = (model, value, scores[value])
    return best[0], best[1], scores
