"""Tests for helpers.attention: histories, masking, leakage, empty history, training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from helpers.attention import (
    FIELDS,
    attention_model,
    build_histories,
    candidate_scorer,
    history_epoch_data,
    history_scorer,
)
from helpers.data import MovieLens
from helpers.features import build_field_view
from helpers.protocol import prepare_protocol
from helpers.sampling import TrainingSampler
from helpers.train import TrainConfig, fit

N_USERS, N_ITEMS = 12, 30
GENRES = ["Action", "Comedy", "Drama"]


def _toy_movielens(rng: np.random.Generator) -> MovieLens:
    """Build users who walk a fixed movie cycle from a random start.

    The next movie mostly follows from the last one, so a model that reads the
    history can learn the sequence. Some ratings share a second, which exercises the
    split's rule for ties.
    """
    rows = []
    for user in range(1, N_USERS + 1):
        start = int(rng.integers(N_ITEMS))
        length = int(rng.integers(8, 16))
        for step in range(length):
            item = (start + step) % N_ITEMS + 1
            second = (
                1000 * user + step - step % 3 * (step % 2)
            )  # some share a second, a few swap order
            rows.append((user, item, 1 + step % 5, second))
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    items = pd.DataFrame({
        "item_id": np.arange(1, N_ITEMS + 1),
        "title": [f"movie {i}" for i in range(1, N_ITEMS + 1)],
        "year": pd.array([1990 + i % 9 if i % 7 else None for i in range(N_ITEMS)],
                         dtype="Int64"),
        "genres": [[GENRES[i % 3]] if i % 5 else [] for i in range(N_ITEMS)],
    })  # fmt: skip
    users = pd.DataFrame({
        "user_id": np.arange(1, N_USERS + 1),
        "age": rng.integers(15, 70, N_USERS),
        "gender": ["M", "F"] * (N_USERS // 2),
        "occupation": ["writer", "engineer", "student"] * (N_USERS // 3),
        "zip_code": [f"{i:05d}" for i in range(N_USERS)],
    })  # fmt: skip
    return MovieLens("toy", "local", Path("."), ratings, items, users)


@pytest.fixture(autouse=True)
def one_thread():
    """Use one thread: faster on tiny tensors, and no waiting for a busy core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def toy():
    rng = np.random.default_rng(0)
    data = _toy_movielens(rng)
    protocol = prepare_protocol(data.ratings, n_negatives=5)
    view = build_field_view(data, protocol.split)
    return protocol, view, build_histories(protocol.split)


def _model(toy, **kwargs):
    protocol, view, histories = toy
    torch.manual_seed(0)
    return attention_model(histories, view, dim=8, max_history=6, heads=2, **kwargs)


def _order(split):
    """Rank every (user, item) interaction in the split's order: train, valid, test.

    ``split.train`` rows are already in time order with the split's tie rule.
    """
    frame = pd.concat([split.train, split.valid, split.test])
    frame = frame.sort_values("user_idx", kind="stable")
    assert (frame.groupby("user_idx")["timestamp"].diff().dropna() >= 0).all()
    rank = frame.groupby("user_idx").cumcount().to_numpy()
    pairs = zip(frame["user_idx"], frame["item_idx"], strict=True)
    return dict(zip(pairs, rank, strict=True))


def test_histories_ordered_then_padded(toy):
    protocol, _, histories = toy
    split = protocol.split
    for user in range(split.n_users):
        row = histories.sequences[user]
        n = histories.n_train[user]
        train = split.train[split.train["user_idx"] == user]
        assert row[:n].tolist() == train["item_idx"].tolist()
        assert row[n] == split.valid.set_index("user_idx").loc[user, "item_idx"]
        assert np.all(row[n + 1 :] == histories.pad)
    assert histories.pad == split.n_items  # padding is no movie's index


def test_training_history_strictly_earlier(toy):
    protocol, _, histories = toy
    split = protocol.split
    model = _model(toy)
    sampler = TrainingSampler(split.matrix("train"), 2, np.random.default_rng(1))
    users, items, positions, labels = history_epoch_data(histories)(sampler)
    assert len(users) == len(split.train)
    recent = model.recent(torch.as_tensor(users), torch.as_tensor(positions)).numpy()
    rank, time = _order(split), split.train.set_index(["user_idx", "item_idx"])
    held_out = set(zip(split.valid["user_idx"], split.valid["item_idx"], strict=True))
    held_out |= set(zip(split.test["user_idx"], split.test["item_idx"], strict=True))
    for user, positive, row in zip(users, items[:, 0], recent, strict=True):
        own = rank[(user, positive)]
        for item in row[row != histories.pad]:
            assert rank[(user, item)] < own  # strictly earlier in the split's order
            assert (
                time.loc[(user, item), "timestamp"]
                <= time.loc[(user, positive), "timestamp"]
            )
            assert (user, item) not in held_out
        assert positive not in row
    assert np.all(labels[:, 0] == 1)
    assert np.all(labels[:, 1:] == 0)


def test_eval_history_excludes_test_item(toy):
    protocol, _, histories = toy
    split = protocol.split
    model = _model(toy)
    users = split.test["user_idx"].to_numpy()
    valid, test = (
        getattr(split, p).set_index("user_idx")["item_idx"] for p in ("valid", "test")
    )
    last_train = split.train.groupby("user_idx")["item_idx"].last()
    for target in ("valid", "test"):
        positions = torch.as_tensor(histories.eval_positions(users, target))
        recent = model.recent(torch.tensor(users), positions).numpy()
        for user, row in zip(users, recent, strict=True):
            assert test[user] not in row
            assert (valid[user] in row) == (target == "test")
            expected_last = valid[user] if target == "test" else last_train[user]
            assert row[-1] == expected_last  # history ends just before the target


@pytest.mark.parametrize("history_attention", [True, False])
def test_padding_gets_zero_weight(toy, history_attention):
    protocol, _, histories = toy
    model = _model(toy, history_attention=history_attention).eval()
    users = torch.arange(protocol.split.n_users)
    positions = torch.as_tensor(np.minimum(histories.n_train, 3))  # <= 3 real of 6
    items = torch.arange(5).expand(len(users), -1)
    _, info = model.score(users, items, positions, explain=True)
    padding = (info["recent"] == histories.pad)[:, None].expand(-1, 5, -1)
    weights = info["history"][..., :-1]
    assert padding.any()
    assert torch.all(weights[padding] == 0.0)
    assert torch.allclose(info["history"].sum(-1), torch.ones(len(users), 5))


def test_padding_vector_cannot_change_scores(toy):
    protocol, _, histories = toy
    model = _model(toy).eval()
    users = torch.arange(protocol.split.n_users)
    positions = torch.as_tensor(np.minimum(histories.n_train, 2))
    items = torch.arange(protocol.split.n_items).expand(len(users), -1)
    before = model.score(users, items, positions)
    with torch.no_grad():
        model.item.weight[histories.pad] = 100.0
    assert torch.equal(before, model.score(users, items, positions))


@pytest.mark.parametrize("history_attention", [True, False])
def test_empty_history_gives_finite_scores(toy, history_attention):
    protocol, _, _ = toy
    model = _model(toy, history_attention=history_attention).eval()
    users = torch.arange(protocol.split.n_users)
    positions = torch.zeros_like(users)  # nothing before the first interaction
    items = torch.arange(protocol.split.n_items).expand(len(users), -1)
    logits, info = model.score(users, items, positions, explain=True)
    assert torch.isfinite(logits).all()
    assert torch.all(info["history"][..., -1] == 1.0)  # all weight on "nothing"


def test_forward_shapes_and_field_weights(toy):
    protocol, _, histories = toy
    model = _model(toy).eval()
    users = torch.tensor([0, 1, 2])
    positions = torch.as_tensor(histories.n_train[:3])
    assert model(users, torch.tensor([3, 4, 5]), positions).shape == (3,)
    assert model(users, torch.ones(3, 4, dtype=torch.long), positions).shape == (3, 4)
    _, info = model.score(users, torch.ones(3, 4, dtype=torch.long), positions, True)
    n = len(FIELDS)
    assert info["fields"].shape == (3, 4, 2, n, n)
    assert torch.allclose(info["fields"].sum(-1), torch.ones(3, 4, 2, n))


def test_field_attention_off_no_weights(toy):
    model = _model(toy, field_attention=False).eval()
    users = torch.tensor([0, 1])
    _, info = model.score(users, torch.ones(2, 3, dtype=torch.long), users + 1, True)
    assert info["fields"] is None


def test_positions_of_rejects_held_out(toy):
    protocol, _, histories = toy
    test = protocol.split.test
    with pytest.raises(ValueError, match="not a train interaction"):
        histories.positions_of(test["user_idx"].to_numpy(), test["item_idx"].to_numpy())


def test_eval_positions_unknown_target_raises(toy):
    _, _, histories = toy
    with pytest.raises(ValueError, match="expected 'valid' or 'test'"):
        histories.eval_positions(np.array([0]), "train")


def test_candidate_scorer_matches_full_scorer(toy):
    protocol, _, histories = toy
    split = protocol.split
    model = _model(toy)
    users = split.valid["user_idx"].to_numpy()
    full = history_scorer(model, histories, "valid", batch_users=5)(users)
    sampled = candidate_scorer(model, histories, split, protocol.valid_candidates)(
        users
    )
    picked = np.take_along_axis(sampled, protocol.valid_candidates, axis=1)
    expected = np.take_along_axis(full, protocol.valid_candidates, axis=1)
    np.testing.assert_allclose(picked, expected, rtol=1e-5, atol=1e-6)
    outside = np.ones_like(sampled, dtype=bool)
    np.put_along_axis(outside, protocol.valid_candidates, False, axis=1)
    assert np.all(sampled[outside] == -np.inf)


def test_overfit_tiny_data(toy):
    protocol, _, histories = toy
    split = protocol.split
    model = _model(toy, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-2)
    sampler = TrainingSampler(split.matrix("train"), 4, np.random.default_rng(0))
    make_epoch, losses = history_epoch_data(histories), []

    for _ in range(40):
        users, items, positions, labels = map(torch.as_tensor, make_epoch(sampler))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            model(users, items, positions), labels
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    assert losses[-1] < 0.2 * losses[0]
    # Rank of every train positive among the movies its user never rated (the
    # user's other train movies are positives too, so they are left out).
    users = split.train["user_idx"].to_numpy()
    positives = split.train["item_idx"].to_numpy()
    positions = histories.positions_of(users, positives)
    every_movie = torch.arange(split.n_items).expand(len(users), -1)
    model.eval()
    with torch.no_grad():
        logits = model.score(torch.tensor(users), every_movie, torch.tensor(positions))
    scores = logits.numpy()
    rated = split.matrix("train", "valid", "test")[users].toarray().astype(bool)
    own = scores[np.arange(len(positives)), positives][:, None]
    ranks = ((scores >= own) & ~rated).sum(axis=1)  # pessimistic, as in helpers.metrics
    assert np.mean(ranks < 3) > 0.9  # about 18 unrated movies: chance is about 0.17


def test_fit_learns_next_movie(toy):
    protocol, _, histories = toy
    split = protocol.split
    model = _model(toy, dropout=0.0)
    scorer = candidate_scorer(model, histories, split, protocol.valid_candidates)
    config = TrainConfig(epochs=12, batch_size=32, lr=3e-2, patience=12, k=1,
                         progress=False)  # fmt: skip
    result = fit(model, split, protocol.valid_candidates, config,
                 np.random.default_rng(0), device="cpu",
                 epoch_data=history_epoch_data(histories), scorer=scorer)  # fmt: skip
    assert result.best_score > 0.5  # HR@1 by chance: 1 in 6 candidates
