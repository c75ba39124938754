"""Tests for helpers.sampling: evaluation candidates and training negatives."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from helpers.sampling import TrainingSampler, eval_candidates, sample_negatives


def _random_seen(rng, n_users: int, n_items: int, per_user: int) -> sp.csr_matrix:
    rows = np.repeat(np.arange(n_users), per_user)
    cols = np.concatenate(
        [rng.choice(n_items, per_user, replace=False) for _ in range(n_users)]
    )
    data = np.ones(len(rows), np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(n_users, n_items))


def test_eval_candidates_only_unseen_items(make_split):
    # Items 1..6; the user saw 1, 2, 3 in train and 4 is the test item.
    split = make_split(
        train=[(1, 1), (1, 2), (1, 3), (2, 5)], test=[(1, 4)], items=range(1, 7)
    )
    expected = set(split.items.to_index([5, 6]).tolist())
    for seed in range(20):
        candidates = eval_candidates(split, 2, np.random.default_rng(seed))
        assert candidates.shape == (1, 3)
        assert candidates[0, 0] == split.items.to_index([4])[0]
        assert set(candidates[0, 1:].tolist()) == expected


def test_eval_candidates_valid_target_in_column_0(make_split):
    split = make_split(
        train=[(1, 1), (2, 2)],
        valid=[(1, 3), (2, 4)],
        test=[(1, 5), (2, 6)],
        items=range(1, 12),
    )
    candidates = eval_candidates(split, 3, np.random.default_rng(0), target="valid")
    assert candidates[:, 0].tolist() == split.valid["item_idx"].tolist()
    seen = split.matrix("train", "valid", "test").toarray()
    for row, user in enumerate(split.valid["user_idx"]):
        assert seen[user, candidates[row, 1:]].sum() == 0  # test item excluded too


@pytest.mark.parametrize("n_per_user", [5, 20])  # rejection path, then pool path
def test_sample_negatives_distinct_and_unseen(rng, n_per_user):
    seen = _random_seen(rng, n_users=40, n_items=50, per_user=5)
    negatives = sample_negatives(seen, n_per_user, rng)
    assert negatives.shape == (40, n_per_user)
    assert negatives.dtype == np.int64
    dense = seen.toarray()
    for user, row in enumerate(negatives):
        assert len(set(row.tolist())) == n_per_user
        assert dense[user, row].sum() == 0


def test_sample_negatives_every_unseen_item_when_exact(rng):
    seen = sp.csr_matrix(np.array([[1, 0, 1, 0, 0]], dtype=np.float32))
    negatives = sample_negatives(seen, 3, rng)
    assert sorted(negatives[0].tolist()) == [1, 3, 4]


def test_sample_negatives_more_than_unseen_raises(rng):
    seen = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0]], dtype=np.float32))
    with pytest.raises(ValueError, match="user 0 has 1 unseen items but 2 negatives"):
        sample_negatives(seen, 2, rng)


def test_sample_negatives_subset_of_users(rng):
    seen = sp.csr_matrix(np.eye(4, dtype=np.float32))
    negatives = sample_negatives(seen, 3, rng, users=[2, 0])
    assert sorted(negatives[0].tolist()) == [0, 1, 3]
    assert sorted(negatives[1].tolist()) == [1, 2, 3]


def test_training_sampler_draws_held_out_item(make_split, rng):
    # Items 1..5, train {1, 2}, test item 3. The sampler is built from train only,
    # so the test item is a negative like 4 and 5, drawn a third of the time.
    split = make_split(train=[(1, 1), (1, 2)], test=[(1, 3)], items=range(1, 6))
    sampler = TrainingSampler(split.matrix("train"), n_negatives=1, rng=rng)
    n_draws = 30_000
    drawn = split.items.to_id(sampler.negatives_for(np.zeros(n_draws, np.int64)))
    assert not np.isin(drawn, [1, 2]).any()
    share = float(np.mean(drawn == 3))
    # Binomial(n_draws, 1/3): standard error sqrt(p(1-p)/n) = 0.0027; five of them
    # (0.0136) make a false alarm less likely than one in a million.
    tolerance = 5 * math.sqrt((1 / 3) * (2 / 3) / n_draws)
    assert abs(share - 1 / 3) < tolerance


def test_training_sampler_epoch_pairs_each_positive(rng):
    train = _random_seen(rng, n_users=6, n_items=30, per_user=4)
    sampler = TrainingSampler(train, n_negatives=3, rng=rng)
    users, items, labels = sampler.epoch()
    assert len(users) == len(items) == len(labels) == 24 * (1 + 3)
    assert labels.dtype == np.float32
    dense = train.toarray()
    positives = labels == 1
    assert sorted(zip(users[positives], items[positives], strict=True)) == sorted(
        zip(*train.nonzero(), strict=True)
    )
    assert dense[users[~positives], items[~positives]].sum() == 0
    assert np.bincount(users[~positives], minlength=6).tolist() == [12] * 6


def test_training_sampler_redraws_each_epoch(rng):
    train = _random_seen(rng, n_users=5, n_items=200, per_user=3)
    sampler = TrainingSampler(train, n_negatives=4, rng=rng)
    first_users, first_items, first_labels = sampler.epoch()
    second_users, second_items, second_labels = sampler.epoch()
    first_negatives = (
        first_users[first_labels == 0] * 200 + first_items[first_labels == 0]
    )
    second_negatives = (
        second_users[second_labels == 0] * 200 + second_items[second_labels == 0]
    )
    assert sorted(first_negatives) != sorted(second_negatives)


def test_training_sampler_triples_negatives_unseen(rng):
    train = _random_seen(rng, n_users=8, n_items=20, per_user=5)
    sampler = TrainingSampler(train, n_negatives=1, rng=rng)
    users, positives, negatives = sampler.triples()
    dense = train.toarray()
    assert len(users) == 40
    assert dense[users, positives].min() == 1
    assert dense[users, negatives].max() == 0


def test_training_sampler_negative_count_raises(rng):
    with pytest.raises(ValueError, match="n_negatives must be >= 0, got -1"):
        TrainingSampler(sp.csr_matrix((2, 3), dtype=np.float32), -1, rng)
