"""The field view of (user, movie) pairs and the field recommender, on real ML-100K."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.features import (
    FIELDS,
    ITEM_FIELDS,
    N_FIELDS,
    USER_FIELDS,
    FieldRecommender,
    bucketize,
    build_field_view,
    field_model,
    field_scorer,
    low_activity_users,
)
from helpers.protocol import prepare_protocol

COL = {name: i for i, name in enumerate(FIELDS)}
pytestmark = pytest.mark.data  # real ML-100K from $MOVIELENS_DATA or the cache


@pytest.fixture(scope="module")
def protocol(ml100k):
    return prepare_protocol(ml100k.ratings)


@pytest.fixture(scope="module")
def view(ml100k, protocol):
    return build_field_view(ml100k, protocol.split)


def _scrambled(model: FieldRecommender, seed: int = 0) -> FieldRecommender:
    """Large random weights, so that every term of the model matters in a comparison."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for parameter in model.parameters():
            torch.nn.init.normal_(parameter, std=0.3)
    return model.eval()


def test_bucketize_edges_are_left_closed():
    assert bucketize(np.array([17, 18, 24, 25, 56, 73]), (18, 25, 56)).tolist() == [
        0, 1, 1, 2, 3, 3,
    ]  # fmt: skip


def test_rows_pairs_round_trip_every_train_pair(view, protocol):
    train = protocol.split.train
    users, items = train["user_idx"].to_numpy(), train["item_idx"].to_numpy()
    rows = view.rows(users, items)
    assert rows.shape == (len(train), N_FIELDS)
    assert rows.dtype == np.int64
    back_users, back_items = view.pairs(rows)
    np.testing.assert_array_equal(back_users, users)
    np.testing.assert_array_equal(back_items, items)
    np.testing.assert_array_equal(view.rows(back_users, back_items), rows)


def test_pairs_rejects_perturbed_and_baseline_rows(view):
    row = view.rows([0], [0])
    row[0, COL["age"]] = (row[0, COL["age"]] + 1) % (view.cardinalities[COL["age"]] - 1)
    with pytest.raises(ValueError, match="not the field row of a real"):
        view.pairs(row)
    with pytest.raises(ValueError, match="not the field row of a real"):
        view.pairs(view.baseline_row()[None])


def test_baseline_row_is_unknown_category_of_every_field(view):
    baseline = view.baseline_row()
    np.testing.assert_array_equal(baseline, np.asarray(view.cardinalities) - 1)
    assert set(view.describe(baseline).values()) == {"unknown"}
    view.check_rows(baseline[None])


def test_check_rows_rejects_out_of_range_code(view):
    row = view.baseline_row()[None].copy()
    row[0, COL["gender"]] += 1
    with pytest.raises(ValueError, match="field 'gender' has code 3, allowed 0..2"):
        view.check_rows(row)


def test_describe_user_1_toy_story(view, protocol):
    # u.user line 1: "1|24|M|technician|85711"; u.item line 1: Toy Story (1995).
    row = view.rows(
        protocol.split.users.to_index([1]), protocol.split.items.to_index([1])
    )
    described = view.describe(row[0])
    assert described["user"] == "1"
    assert (described["age"], described["gender"]) == ("18-24", "M")
    assert (described["occupation"], described["region"]) == ("technician", "zip 8xxxx")
    assert described["movie"] == "Toy Story (1995)"
    assert described["genres"] == "Animation|Children's|Comedy"
    assert described["year"] == "1995"
    assert view.who(row[0]) == "user 1 (18-24, man, technician)"
    assert view.phrases(row[0])[COL["genres"]] == "genres Animation|Children's|Comedy"
    assert view.category_names()[COL["gender"]] == ["F", "M", "unknown"]


def test_ordinal_values_keep_ordered_fields_only(view):
    rows = np.vstack([view.rows([0], [0]), view.baseline_row()[None]])
    values = view.ordinal_values(rows)
    assert values[0, COL["age"]] == rows[0, COL["age"]]
    assert np.isnan(values[0, COL["occupation"]])
    assert np.isnan(values[1]).all()  # unknown has no place in any order


def test_popularity_and_activity_count_train_interactions_only(view, protocol):
    split = protocol.split
    popularity = np.bincount(split.train["item_idx"], minlength=split.n_items)
    activity = np.bincount(split.train["user_idx"], minlength=split.n_users)
    item_col, user_col = ITEM_FIELDS.index("popularity"), USER_FIELDS.index("activity")
    # Bucket 0 is "no ratings"; 200+ ratings is the last real bucket.
    assert np.all((view.item_codes[:, item_col] == 0) == (popularity == 0))
    assert np.all((view.item_codes[:, item_col] == 6) == (popularity >= 200))
    assert np.all((view.user_codes[:, user_col] == 4) == (activity >= 200))


def test_movie_without_year_or_genre_gets_unknown(ml100k, view, protocol):
    items = ml100k.items
    missing = items.loc[items["year"].isna(), "item_id"].to_numpy()
    no_genre = items.loc[items["genres"].map(len) == 0, "item_id"].to_numpy()
    assert len(missing) > 0  # ML-100K has such movies, e.g. movie 267
    assert len(no_genre) > 0
    year_col, genre_col = ITEM_FIELDS.index("year"), ITEM_FIELDS.index("genres")
    baseline = view.baseline_row()
    missing_idx = protocol.split.items.to_index(missing)
    no_genre_idx = protocol.split.items.to_index(no_genre)
    assert np.all(view.item_codes[missing_idx, year_col] == baseline[COL["year"]])
    assert np.all(view.item_codes[no_genre_idx, genre_col] == baseline[COL["genres"]])


def test_genre_membership_rows_average_their_genres(view):
    membership = view.genre_membership()
    assert membership.shape == (
        view.cardinalities[COL["genres"]],
        len(view.genre_names) + 1,
    )
    np.testing.assert_allclose(membership.sum(axis=1), 1.0, rtol=1e-6)
    assert membership[-1, -1] == 1.0  # unknown has a vector of its own
    assert np.all(membership[:-1, -1] == 0)


def test_score_grid_equals_forward_on_every_movie(view):
    for active in (None, ("user", "movie")):
        model = _scrambled(field_model(view, active=active))
        users = np.arange(5)
        n_items = len(view.item_codes)
        rows = view.rows(np.repeat(users, n_items), np.tile(np.arange(n_items), 5))
        with torch.no_grad():
            forward = model(torch.as_tensor(rows)).reshape(5, n_items)
        grid = field_scorer(model, view)(users)
        np.testing.assert_allclose(grid, forward.numpy(), rtol=1e-4, atol=1e-4)


def test_forward_equals_head_of_embed_in_eval_mode(view):
    model = _scrambled(field_model(view))
    rows = torch.as_tensor(view.rows(np.arange(10), np.arange(10)))
    with torch.no_grad():
        torch.testing.assert_close(model(rows), model.head(model.embed(rows)))


def test_field_dropout_acts_in_training_mode_only(view):
    model = _scrambled(field_model(view, field_dropout=1.0))
    rows = torch.as_tensor(view.rows(np.arange(10), np.arange(10)))
    baseline = torch.as_tensor(view.baseline_row()[None]).expand(10, -1)
    with torch.no_grad():
        first, second = model(rows), model(rows)
        torch.testing.assert_close(first, second)
        model.train()  # every field is dropped, so the input is the baseline row
        torch.testing.assert_close(model(rows), model.eval()(baseline))


def test_inactive_fields_do_not_change_the_score(view):
    model = _scrambled(field_model(view, active=("user", "movie")))
    rows = view.rows(np.arange(10), np.arange(10))
    changed = rows.copy()
    changed[:, COL["age"]] = 0
    changed[:, COL["genres"]] = 0
    with torch.no_grad():
        torch.testing.assert_close(
            model(torch.as_tensor(rows)), model(torch.as_tensor(changed))
        )


def test_field_model_rejects_unknown_active_field(view):
    with pytest.raises(ValueError, match="unknown fields"):
        field_model(view, active=("user", "zip"))


def test_field_scorer_hide_user_scores_as_unknown_user(view):
    model = _scrambled(field_model(view))
    hidden = field_scorer(model, view, hide=("user",))(np.array([3]))
    rows = view.rows(np.full(len(view.item_codes), 3), np.arange(len(view.item_codes)))
    rows[:, COL["user"]] = view.baseline_row()[COL["user"]]
    with torch.no_grad():
        expected = model(torch.as_tensor(rows)).numpy()
    np.testing.assert_allclose(hidden[0], expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="can only hide user fields"):
        field_scorer(model, view, hide=("genres",))


def test_low_activity_users_are_the_bottom_share(protocol):
    split = protocol.split
    chosen = low_activity_users(split, 0.2)
    counts = np.bincount(split.train["user_idx"], minlength=split.n_users)
    evaluated = split.test["user_idx"].to_numpy()
    others = np.setdiff1d(evaluated, chosen)
    assert counts[chosen].max() < counts[others].min()
    assert 0.2 <= len(chosen) / len(evaluated) < 0.25  # ties can add a few users
    with pytest.raises(ValueError, match="share must be in"):
        low_activity_users(split, 0.0)
