"""Tests for helpers.evaluation: both protocols on hand-made splits, aggregation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.evaluation import aggregate_seeds, evaluate, mean_per_user, summarize
from helpers.sampling import eval_candidates
from helpers.splits import leave_last_out

METRICS = ["HR@10", "NDCG@10", "MRR", "AUC"]


def _five_item_split():
    """User 1 rates items 1, 2, 3 in that order; user 2 rates 4 and 5 only.

    Leave-last-out gives user 1 train {1}, validation 2 and test 3; user 2 has
    too few interactions to be evaluated, but items 4 and 5 exist.
    """
    ratings = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 2],
            "item_id": [1, 2, 3, 4, 5],
            "timestamp": [1, 2, 3, 1, 2],
            "rating": [4.0] * 5,
        }
    )
    return leave_last_out(ratings)


def _fixed_scorer(item_scores):
    item_scores = np.asarray(item_scores, dtype=np.float64)

    def score(users: np.ndarray) -> np.ndarray:
        return np.tile(item_scores, (len(users), 1))

    return score


def test_evaluate_full_masks_train_and_valid(rng):
    split = _five_item_split()
    candidates = eval_candidates(split, 2, rng)
    scorer = _fixed_scorer([0.9, 0.8, 0.7, 0.2, 0.1])  # items 1..5
    per_user = evaluate(scorer, split, candidates, k=1)
    assert per_user["user_idx"].tolist() == [0]
    # Items 1 (train) and 2 (validation) are masked: item 3 ranks first.
    assert per_user["full HR@1"].tolist() == [1.0]
    assert per_user["full AUC"].tolist() == [1.0]
    assert per_user["sampled HR@1"].tolist() == [1.0]


def test_evaluate_valid_target_masks_train_only(rng):
    split = _five_item_split()
    candidates = eval_candidates(split, 2, rng, target="valid")
    # The test item 3 is not masked when validating, and it beats item 2 here.
    scorer = _fixed_scorer([0.9, 0.5, 0.7, 0.2, 0.1])
    per_user = evaluate(scorer, split, candidates, k=1, target="valid")
    assert per_user["full HR@1"].tolist() == [0.0]
    assert per_user["full MRR"].tolist() == [0.5]
    assert per_user["full AUC"].tolist() == [pytest.approx(2 / 3)]
    assert per_user["sampled HR@1"].tolist() == [1.0]  # item 3 is not a candidate


def test_evaluate_column_names(rng):
    split = _five_item_split()
    per_user = evaluate(
        _fixed_scorer(np.arange(5)), split, eval_candidates(split, 2, rng)
    )
    expected = ["user_idx"] + [f"{p} {m}" for p in ("sampled", "full") for m in METRICS]
    assert list(per_user.columns) == expected


def test_evaluate_candidates_mismatch_raises(rng):
    split = _five_item_split()
    valid_candidates = eval_candidates(split, 2, rng, target="valid")
    with pytest.raises(ValueError, match="candidates do not match split.test"):
        evaluate(_fixed_scorer(np.arange(5)), split, valid_candidates)


def test_evaluate_scorer_wrong_shape_raises(rng):
    split = _five_item_split()
    candidates = eval_candidates(split, 2, rng)
    with pytest.raises(ValueError, match=r"shape \(1, 4\), expected \(1, 5\)"):
        evaluate(_fixed_scorer(np.arange(4)), split, candidates)


def test_evaluate_batches_give_same_result(rng):
    rows = [
        (u, i, (u * i) % 13) for u in range(1, 31) for i in range(1, 41) if (u + i) % 3
    ]
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    split = leave_last_out(ratings)
    candidates = eval_candidates(split, 10, rng)
    table = rng.random((split.n_users, split.n_items))

    def scorer(users):
        return table[users]

    whole = evaluate(scorer, split, candidates, batch_size=1024)
    batched = evaluate(scorer, split, candidates, batch_size=7)
    pd.testing.assert_frame_equal(whole, batched)


def test_summarize_nests_protocol_metric():
    per_user = pd.DataFrame(
        {"user_idx": [0, 1], "sampled HR@10": [1.0, 0.0], "full NDCG@10": [0.5, 0.25]}
    )
    assert summarize(per_user) == {
        "sampled": {"HR@10": 0.5},
        "full": {"NDCG@10": 0.375},
    }


def test_aggregate_seeds_mean_std_per_seed():
    runs = [
        pd.DataFrame({"user_idx": [0, 1], "sampled HR@10": [1.0, 0.0]}),
        pd.DataFrame({"user_idx": [0, 1], "sampled HR@10": [1.0, 1.0]}),
    ]
    result = aggregate_seeds(runs)["sampled"]["HR@10"]
    assert result["mean"] == pytest.approx(0.75)
    assert result["std"] == pytest.approx(np.sqrt(0.125))  # sample std of 0.5, 1.0
    assert result["per_seed"] == [0.5, 1.0]


def test_aggregate_seeds_one_run_std_0():
    runs = [pd.DataFrame({"user_idx": [0], "full AUC": [0.8]})]
    assert aggregate_seeds(runs) == {
        "full": {"AUC": {"mean": 0.8, "std": 0.0, "per_seed": [0.8]}}
    }


def test_mean_per_user_averages_over_seeds():
    runs = [
        pd.DataFrame({"user_idx": [1, 0], "sampled HR@10": [1.0, 0.0]}),
        pd.DataFrame({"user_idx": [0, 1], "sampled HR@10": [1.0, 0.0]}),
    ]
    averaged = mean_per_user(runs)
    assert averaged["user_idx"].tolist() == [0, 1]
    assert averaged["sampled HR@10"].tolist() == [0.5, 0.5]
