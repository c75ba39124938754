"""Tests for helpers.metrics: pessimistic ranks and hand-computed metric values."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from helpers.metrics import (
    auc,
    full_ranks,
    hit_rate_at_k,
    ndcg_at_k,
    paired_test,
    ranking_metrics,
    reciprocal_rank,
    target_ranks,
)


def _one_positive_at(position: int, n_candidates: int = 100) -> np.ndarray:
    """Scores of one user: column 0 is the positive, ``position`` negatives beat it."""
    scores = np.zeros((1, n_candidates))
    scores[0, 0] = 0.5
    scores[0, 1 : 1 + position] = 1.0
    return scores


@pytest.mark.parametrize(
    ("position", "hit", "ndcg"),
    [(0, 1.0, 1.0), (1, 1.0, 0.6309), (9, 1.0, 0.2891), (10, 0.0, 0.0)],
)
def test_hr_ndcg_at_10_by_position(position, hit, ndcg):
    ranks = target_ranks(_one_positive_at(position))
    assert ranks.tolist() == [position]
    assert hit_rate_at_k(ranks, 10).tolist() == [hit]
    assert ndcg_at_k(ranks, 10)[0] == pytest.approx(ndcg, abs=1e-4)


def test_target_ranks_constant_scorer_gets_last_rank():
    scores = np.full((3, 100), 0.25)
    assert target_ranks(scores).tolist() == [99, 99, 99]
    assert hit_rate_at_k(target_ranks(scores), 10).sum() == 0.0


def test_target_ranks_tie_counts_as_miss():
    scores = np.array([[0.5, 0.5, 0.1]])  # column 0 is the held-out item
    assert target_ranks(scores).tolist() == [1]
    assert hit_rate_at_k(target_ranks(scores), k=1).tolist() == [0.0]


def test_target_ranks_other_target_column():
    scores = np.array([[0.9, 0.1, 0.5, 0.7]])
    assert target_ranks(scores, target_col=2).tolist() == [2]


def test_target_ranks_nan_raises():
    with pytest.raises(ValueError, match="NaN"):
        target_ranks(np.array([[0.5, np.nan]]))


def test_full_ranks_masks_train_and_valid_items():
    # Columns are items 1..5. Items 1 and 2 are the user's train and validation
    # items; without them, test item 3 (score 0.7) is on top: 0-based rank 0.
    scores = np.array([[0.9, 0.8, 0.7, 0.2, 0.1]])
    exclude = sp.csr_matrix(np.array([[1, 1, 0, 0, 0]], dtype=np.float32))
    ranks, n_negatives = full_ranks(scores, np.array([2]), exclude)
    assert ranks.tolist() == [0]
    assert n_negatives.tolist() == [2]
    assert hit_rate_at_k(ranks, 1).tolist() == [1.0]
    assert auc(ranks, n_negatives).tolist() == [1.0]

    unmasked, n_all = full_ranks(scores, np.array([2]))
    assert unmasked.tolist() == [2]
    assert n_all.tolist() == [4]


def test_full_ranks_leaves_scores_untouched():
    scores = np.array([[0.9, 0.8, 0.7]])
    full_ranks(scores, np.array([2]), sp.csr_matrix(np.array([[1.0, 0.0, 0.0]])))
    assert scores.tolist() == [[0.9, 0.8, 0.7]]


def test_full_ranks_masked_target_raises():
    exclude = sp.csr_matrix(np.array([[0.0, 1.0, 0.0]]))
    with pytest.raises(ValueError, match="exclude contains a target item"):
        full_ranks(np.array([[0.1, 0.2, 0.3]]), np.array([1]), exclude)


def test_full_ranks_ties_count_against_target():
    scores = np.array([[0.3, 0.3, 0.3, 0.3], [0.1, 0.4, 0.4, 0.2]])
    exclude = sp.csr_matrix(np.array([[0, 0, 0, 1], [0, 1, 0, 0]], dtype=np.float32))
    ranks, n_negatives = full_ranks(scores, np.array([0, 2]), exclude)
    assert ranks.tolist() == [2, 0]  # row 1: the masked tie no longer counts
    assert n_negatives.tolist() == [2, 2]


def test_mrr_hand_case():
    ranks = np.array([0, 1, 3])
    assert reciprocal_rank(ranks).tolist() == [1.0, 0.5, 0.25]
    assert reciprocal_rank(ranks).mean() == pytest.approx(7 / 12)


def test_auc_hand_cases():
    ranks = np.array([0, 2, 4, 1])
    assert auc(ranks, 4).tolist() == [1.0, 0.5, 0.0, 0.75]
    assert auc(np.array([1, 1]), np.array([2, 4])).tolist() == [0.5, 0.75]


def test_ranking_metrics_names_and_values():
    metrics = ranking_metrics(np.array([0, 12]), 99, k=5)
    assert sorted(metrics) == ["AUC", "HR@5", "MRR", "NDCG@5"]
    assert metrics["HR@5"].tolist() == [1.0, 0.0]
    assert metrics["NDCG@5"].tolist() == [1.0, 0.0]
    assert metrics["MRR"].tolist() == pytest.approx([1.0, 1 / 13])
    assert metrics["AUC"].tolist() == pytest.approx([1.0, 1 - 12 / 99])


def test_paired_test_known_case():
    # Differences 1, 2, 3, 4: mean 2.5, sample sd 1.2910, t = 2.5 / (1.2910 / 2)
    # = 3.873 with 3 degrees of freedom, two-sided p = 0.0305. Wilcoxon: all four
    # differences positive, exact two-sided p = 2 / 2**4 = 0.125.
    result = paired_test([2, 4, 6, 8], [1, 2, 3, 4])
    assert result["mean_difference"] == pytest.approx(2.5)
    assert result["t_p_value"] == pytest.approx(0.0305, abs=1e-4)
    assert result["wilcoxon_p_value"] == pytest.approx(0.125)


def test_paired_test_symmetric_differences_p_1():
    result = paired_test([1, 0, 2, 0], [0, 1, 0, 2])
    assert result["mean_difference"] == 0.0
    assert result["t_p_value"] == pytest.approx(1.0)


def test_paired_test_identical_gives_nan():
    result = paired_test([0.5, 0.1], [0.5, 0.1])
    assert result["mean_difference"] == 0.0
    assert np.isnan(result["t_p_value"])
    assert np.isnan(result["wilcoxon_p_value"])


def test_paired_test_shape_mismatch_raises():
    with pytest.raises(ValueError, match=r"\(3,\) vs \(2,\)"):
        paired_test([1, 2, 3], [1, 2])
