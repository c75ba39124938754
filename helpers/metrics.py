"""Ranking metrics for one held-out item per user.

Ranks are 0-based and pessimistic: a candidate whose score ties the target's
counts as ranked above it, so a constant scorer gets the worst possible rank.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy import stats


def target_ranks(scores: np.ndarray, target_col: int = 0) -> np.ndarray:
    """0-based rank of the target among each row's candidates.

    Args:
        scores: float array ``(n_users, n_candidates)``; column ``target_col`` is
            the held-out item.

    Returns:
        Int array ``(n_users,)``: how many other candidates score >= the target.
    """
    scores = np.asarray(scores, dtype=np.float64)
    _check_finite(scores)
    target = scores[:, [target_col]]
    at_least = (scores >= target).sum(axis=1)
    return (at_least - 1).astype(np.int64)  # the target itself is not counted


def full_ranks(
    scores: np.ndarray, targets: np.ndarray, exclude: sp.csr_matrix | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rank each user's target among all items not in ``exclude``.

    Args:
        scores: ``(n_users, n_items)`` scores, one row per evaluated user.
        targets: ``(n_users,)`` held-out item of each row.
        exclude: ``(n_users, n_items)`` binary matrix of items to leave out of the
            ranking (the user's train and validation items). It must not contain
            the target.

    Returns:
        ``(ranks, n_negatives)``: pessimistic 0-based ranks, and how many items
        each target was ranked against.
    """
    scores = np.array(scores, dtype=np.float64)  # a copy: masking writes into it
    _check_finite(scores)
    rows = np.arange(len(targets))
    n_negatives = np.full(len(targets), scores.shape[1] - 1)
    if exclude is not None:
        exclude = exclude.tocsr()
        if np.any(np.asarray(exclude[rows, targets]).ravel() != 0):
            raise ValueError("exclude contains a target item; it must not be masked")
        scores[exclude.nonzero()] = -np.inf
        n_negatives -= np.diff(exclude.indptr)
    target_scores = scores[rows, targets][:, None]
    ranks = (scores >= target_scores).sum(axis=1) - 1
    return ranks.astype(np.int64), n_negatives


def hit_rate_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per user: 1.0 if the target is among the top ``k``, else 0.0. Range [0, 1]."""
    return (np.asarray(ranks) < k).astype(np.float64)


def ndcg_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per user: ``1 / log2(rank + 2)`` inside the top ``k``, else 0. Range [0, 1]."""
    ranks = np.asarray(ranks)
    return np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)


def reciprocal_rank(ranks: np.ndarray) -> np.ndarray:
    """Per user: ``1 / (rank + 1)``; its mean is MRR. Range (0, 1]."""
    return 1.0 / (np.asarray(ranks) + 1.0)


def auc(ranks: np.ndarray, n_negatives: np.ndarray | int) -> np.ndarray:
    """Per user: share of negatives scored strictly below the target. Range [0, 1]."""
    return 1.0 - np.asarray(ranks) / np.asarray(n_negatives, dtype=np.float64)


def ranking_metrics(
    ranks: np.ndarray, n_negatives, k: int = 10
) -> dict[str, np.ndarray]:
    """Per-user HR@k, NDCG@k, MRR and AUC from 0-based ranks."""
    return {
        f"HR@{k}": hit_rate_at_k(ranks, k),
        f"NDCG@{k}": ndcg_at_k(ranks, k),
        "MRR": reciprocal_rank(ranks),
        "AUC": auc(ranks, n_negatives),
    }


def paired_test(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Paired t-test and Wilcoxon signed-rank test of two per-user metric arrays.

    Returns:
        ``mean_difference`` (a - b), ``t_p_value`` and ``wilcoxon_p_value``
        (two-sided). A p-value is NaN when every difference is zero.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise ValueError(f"paired arrays differ in shape: {a.shape} vs {b.shape}")
    diff = a - b
    if np.allclose(diff, 0):
        return {
            "mean_difference": 0.0,
            "t_p_value": float("nan"),
            "wilcoxon_p_value": float("nan"),
        }
    return {
        "mean_difference": float(diff.mean()),
        "t_p_value": float(stats.ttest_rel(a, b).pvalue),
        "wilcoxon_p_value": float(stats.wilcoxon(a, b, zero_method="zsplit").pvalue),
    }


def _check_finite(scores: np.ndarray) -> None:
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; check the model for diverged weights")
