"""Tests for helpers.protocol: the shared split and candidates on real ML-100K."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.evaluation import evaluate, summarize
from helpers.protocol import N_EVAL_NEGATIVES, TOP_K, prepare_protocol


@pytest.fixture(scope="module")
def protocol(ml100k):
    return prepare_protocol(ml100k.ratings)


def test_protocol_constants():
    assert (N_EVAL_NEGATIVES, TOP_K) == (99, 10)


@pytest.mark.data
def test_protocol_candidates_shape_and_target_column(protocol):
    split = protocol.split
    assert protocol.test_candidates.shape == (943, 100)
    assert protocol.valid_candidates.shape == (943, 100)
    assert (protocol.test_candidates[:, 0] == split.test["item_idx"]).all()
    assert (protocol.valid_candidates[:, 0] == split.valid["item_idx"]).all()


@pytest.mark.data
@pytest.mark.parametrize("target", ["valid", "test"])
def test_protocol_99_distinct_negatives_outside_history(protocol, target):
    split = protocol.split
    candidates = getattr(protocol, f"{target}_candidates")
    negatives = np.sort(candidates[:, 1:], axis=1)
    assert (np.diff(negatives, axis=1) > 0).all()  # 99 distinct items per user
    users = getattr(split, target)["user_idx"].to_numpy()
    history = split.matrix("train", "valid", "test")
    hits = np.asarray(history[users[:, None], candidates[:, 1:]].todense())
    assert hits.sum() == 0


@pytest.mark.data
def test_protocol_fixed_seed_reproducible(ml100k, protocol):
    np.random.seed(0)  # the global NumPy state must not matter
    again = prepare_protocol(ml100k.ratings)
    assert np.array_equal(again.test_candidates, protocol.test_candidates)
    assert np.array_equal(again.valid_candidates, protocol.valid_candidates)
    other = prepare_protocol(ml100k.ratings, seed=1)
    assert not np.array_equal(other.test_candidates, protocol.test_candidates)


@pytest.mark.data
def test_protocol_valid_and_test_streams_differ(protocol):
    same = protocol.valid_candidates[:, 1:] == protocol.test_candidates[:, 1:]
    assert same.mean() < 0.05


@pytest.mark.data
def test_protocol_describe_counts(protocol):
    table = protocol.describe()
    assert table["interactions"].tolist() == [98_114, 943, 943]
    assert table["users"].tolist() == [943, 943, 943]
    assert table.loc["test", "candidates per user"] == 100
    assert pd.isna(table.loc["train", "candidates per user"])


@pytest.mark.data
def test_protocol_random_scorer_near_chance(protocol, rng):
    split = protocol.split

    def random_scorer(users):
        return rng.random((len(users), split.n_items))

    result = summarize(evaluate(random_scorer, split, protocol.test_candidates, TOP_K))
    # Chance is 10 / 100; with 943 users the standard error is 0.0098, so this
    # band is about three of them either side.
    assert 0.07 <= result["sampled"]["HR@10"] <= 0.13
    assert result["full"]["HR@10"] < 0.03  # about 10 / 1,600 candidates


def test_protocol_too_many_negatives_raises():
    ratings = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2],
            "item_id": [1, 2, 3, 4],
            "timestamp": [1, 2, 3, 1],
            "rating": [5.0] * 4,
        }
    )
    with pytest.raises(ValueError, match="user 0 has 1 unseen items but 2 negatives"):
        prepare_protocol(ratings, n_negatives=2)
