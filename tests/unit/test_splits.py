"""Tests for helpers.splits: leave-last-out by time, id maps, interaction matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.splits import IdMap, leave_last_out, to_implicit


def _ratings(rows) -> pd.DataFrame:
    """Frame of ``(user_id, item_id, timestamp)`` rows, rating 4 everywhere."""
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    frame["rating"] = 4.0
    return frame


def _raw_items(split, part: str, user_id: int) -> list[int]:
    frame = getattr(split, part)
    user_idx = int(split.users.to_index([user_id])[0])
    rows = frame[frame["user_idx"] == user_idx].sort_values("timestamp", kind="stable")
    return split.items.to_id(rows["item_idx"]).tolist()


def test_leave_last_out_test_is_latest_valid_second():
    # Rows are out of time order on purpose.
    split = leave_last_out(
        _ratings([(7, 10, 5), (7, 11, 3), (7, 12, 9), (7, 13, 1), (8, 10, 1),
                  (8, 11, 2), (8, 12, 3)])
    )  # fmt: skip
    assert _raw_items(split, "test", 7) == [12]
    assert _raw_items(split, "valid", 7) == [10]
    assert _raw_items(split, "train", 7) == [13, 11]
    assert _raw_items(split, "test", 8) == [12]
    assert _raw_items(split, "valid", 8) == [11]
    assert _raw_items(split, "train", 8) == [10]


def test_leave_last_out_one_row_per_user_sorted():
    rows = [(u, i, u * 10 + i) for u in (3, 1, 2) for i in range(5)]
    split = leave_last_out(_ratings(rows))
    for part in (split.valid, split.test):
        assert part["user_idx"].tolist() == [0, 1, 2]
    assert list(split.test.columns) == ["user_idx", "item_idx", "timestamp", "rating"]


def test_leave_last_out_parts_disjoint_and_complete():
    rows = [(u, i, (7 * u + 3 * i) % 11) for u in range(1, 6) for i in range(1, 8)]
    split = leave_last_out(_ratings(rows))
    keys = {
        part: set(zip(frame["user_idx"], frame["item_idx"], strict=True))
        for part, frame in (("train", split.train), ("valid", split.valid),
                            ("test", split.test))
    }  # fmt: skip
    assert not keys["train"] & keys["valid"]
    assert not keys["train"] & keys["test"]
    assert not keys["valid"] & keys["test"]
    assert len(keys["train"] | keys["valid"] | keys["test"]) == len(rows)
    assert split.sizes() == {"train": 25, "valid": 5, "test": 5}


def test_leave_last_out_timestamp_tie_later_row_wins():
    # Items 30, 10 and 20 share one second: the row further down counts as later.
    split = leave_last_out(_ratings([(1, 30, 100), (1, 10, 100), (1, 20, 100)]))
    assert _raw_items(split, "test", 1) == [20]
    assert _raw_items(split, "valid", 1) == [10]
    assert _raw_items(split, "train", 1) == [30]

    reversed_rows = leave_last_out(_ratings([(1, 20, 100), (1, 10, 100), (1, 30, 100)]))
    assert _raw_items(reversed_rows, "test", 1) == [30]
    assert _raw_items(reversed_rows, "valid", 1) == [10]


def test_leave_last_out_tie_rule_deterministic(rng):
    rows = [(u, i, (u + i) // 3) for u in range(1, 9) for i in range(1, 10)]
    ratings = _ratings(rows)
    first = leave_last_out(ratings)
    again = leave_last_out(ratings.copy())
    for part in ("train", "valid", "test"):
        pd.testing.assert_frame_equal(getattr(first, part), getattr(again, part))
    # Shuffling only the users keeps every user's own row order, so nothing moves.
    users = rng.permutation(ratings["user_id"].unique())
    by_user = pd.concat([ratings[ratings["user_id"] == u] for u in users])
    shuffled = leave_last_out(by_user)
    for part in ("train", "valid", "test"):
        pd.testing.assert_frame_equal(getattr(first, part), getattr(shuffled, part))


def test_leave_last_out_short_users_stay_in_train():
    rows = [(1, 1, 1), (1, 2, 2), (1, 3, 3), (2, 1, 1), (2, 2, 2), (3, 3, 5)]
    split = leave_last_out(_ratings(rows))
    assert split.n_users == 3  # still in the id map
    assert _raw_items(split, "train", 2) == [1, 2]
    assert _raw_items(split, "train", 3) == [3]
    evaluated = set(split.users.to_id(split.test["user_idx"]).tolist())
    assert evaluated == {1}
    assert set(split.users.to_id(split.valid["user_idx"]).tolist()) == {1}


def test_leave_last_out_min_interactions_above_3():
    rows = [(1, i, i) for i in range(4)] + [(2, i, i) for i in range(5)]
    split = leave_last_out(_ratings(rows), min_interactions=5)
    assert split.test["user_idx"].tolist() == [1]
    assert _raw_items(split, "train", 1) == [0, 1, 2, 3]


def test_leave_last_out_min_interactions_below_3_raises():
    with pytest.raises(ValueError, match="min_interactions must be >= 3, got 2"):
        leave_last_out(_ratings([(1, 1, 1)]), min_interactions=2)


def test_leave_last_out_without_rating_column_uses_1():
    ratings = _ratings([(1, 1, 1), (1, 2, 2), (1, 3, 3)]).drop(columns="rating")
    split = leave_last_out(ratings)
    assert split.test["rating"].tolist() == [1.0]


@pytest.mark.data
def test_leave_last_out_real_ml100k(ml100k):
    ratings = ml100k.ratings
    split = leave_last_out(ratings)
    assert split.sizes() == {"train": 98_114, "valid": 943, "test": 943}
    assert (split.n_users, split.n_items) == (943, 1682)

    latest = ratings.groupby("user_id")["timestamp"].max().to_numpy()
    test = split.test.set_index("user_idx")["timestamp"]
    valid = split.valid.set_index("user_idx")["timestamp"]
    train_latest = split.train.groupby("user_idx")["timestamp"].max()
    assert (test.to_numpy() == latest).all()
    assert (valid <= test).all()
    assert (train_latest <= valid).all()
    both = split.matrix("train", "valid", "test")
    assert both.nnz == len(ratings)  # no pair in two parts
    assert both.max() == 1.0


def test_split_matrix_binary_user_by_item():
    rows = [(1, 5, 1), (1, 6, 2), (1, 7, 3), (2, 7, 1), (2, 8, 2), (2, 5, 3)]
    split = leave_last_out(_ratings(rows))
    train = split.matrix()
    assert train.shape == (2, 4)
    assert train.dtype == np.float32
    assert train.toarray().tolist() == [[1, 0, 0, 0], [0, 0, 1, 0]]
    everything = split.matrix("train", "valid", "test").toarray()
    assert everything.tolist() == [[1, 1, 1, 0], [1, 0, 1, 1]]


def test_idmap_round_trip_and_unknown_raises():
    ids = IdMap.from_values([30, 10, 20, 10])
    assert len(ids) == 3
    assert ids.to_index([10, 20, 30]).tolist() == [0, 1, 2]
    assert ids.to_id([2, 0]).tolist() == [30, 10]
    with pytest.raises(KeyError, match=r"\[15, 99\]"):
        ids.to_index([10, 15, 99])


def test_to_implicit_labels_every_rating_1():
    ratings = _ratings([(1, 1, 1), (1, 2, 2)])
    ratings.loc[1, "rating"] = 1.0  # a low rating is still a positive
    implicit = to_implicit(ratings)
    assert implicit["label"].tolist() == [1, 1]
    assert list(implicit.columns) == [
        "user_id",
        "item_id",
        "timestamp",
        "rating",
        "label",
    ]
