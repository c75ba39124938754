"""Tests for helpers.train: fit on planted clusters, early stopping, checkpoints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from helpers.evaluation import evaluate, summarize
from helpers.models import GMF, NeuMF
from helpers.sampling import eval_candidates
from helpers.splits import leave_last_out
from helpers.train import (
    TrainConfig,
    fit,
    load_checkpoint,
    model_scorer,
    save_checkpoint,
)

K = 5
N_NEGATIVES = 19  # 20 candidates: chance HR@5 is 0.25
CHANCE_HR = K / (N_NEGATIVES + 1)


@pytest.fixture(autouse=True)
def one_thread():
    """Run torch on one thread inside these tests, then restore the setting.

    The models here are tiny, so on a busy 2-core machine thread hand-offs cost
    far more than the arithmetic: one MLP fit on planted data like this took 28 s
    on two threads and 1.4 s on one, with other jobs running.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def planted_clusters(rng: np.random.Generator) -> pd.DataFrame:
    """Ratings with 4 user clusters, each rating 7 of its own 10 movies.

    A model that learns the clusters ranks a user's held-out movie among the
    few unseen movies of the same cluster, far above chance.
    """
    rows = []
    for cluster in range(4):
        for member in range(15):
            user = cluster * 15 + member + 1
            movies = rng.choice(10, size=7, replace=False) + cluster * 10 + 1
            rows += [
                (user, int(movie), 4.0, 1000 + t) for t, movie in enumerate(movies)
            ]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(7)
    split = leave_last_out(planted_clusters(rng))
    return split, eval_candidates(split, N_NEGATIVES, rng, target="valid")


def _config(**changes) -> TrainConfig:
    settings = dict(epochs=8, batch_size=64, lr=0.02, k=K, patience=8, progress=False)
    return TrainConfig(**{**settings, **changes})


def _valid_summary(model, split, candidates) -> dict:
    scorer = model_scorer(model, split.n_items)
    return summarize(evaluate(scorer, split, candidates, K, "valid"))["sampled"]


@pytest.mark.parametrize("loss", ["bce", "bpr"])
def test_fit_planted_clusters_beats_chance(planted, loss):
    split, candidates = planted
    torch.manual_seed(0)
    model = GMF(split.n_users, split.n_items, factors=8)
    rng = np.random.default_rng(0)
    result = fit(model, split, candidates, _config(loss=loss), rng, device="cpu")

    assert all(p.device.type == "cpu" for p in model.parameters())
    history = result.history
    assert list(history.columns) == [
        "epoch",
        "loss",
        "valid HR@5",
        "valid NDCG@5",
        "seconds",
    ]
    assert history["epoch"].tolist() == list(range(1, 9))
    valid = _valid_summary(model, split, candidates)
    # 30 runs (data seeds 7-9, model seeds 0-4, both losses) gave 0.88 to 1.0.
    assert valid["HR@5"] > CHANCE_HR + 0.35
    # The model contains the best epoch's weights, not the last epoch's.
    assert valid["NDCG@5"] == pytest.approx(result.best_score, abs=1e-12)
    best_row = history.set_index("epoch").loc[result.best_epoch]
    assert best_row["valid NDCG@5"] == result.best_score
    assert result.best_score == history["valid NDCG@5"].max()
    assert result.samples_per_second > 0


def test_fit_restores_best_epoch_weights(planted):
    split, candidates = planted
    targets = dict(zip(split.valid["user_idx"], split.valid["item_idx"], strict=True))
    snapshots = []

    def scorer(users):
        # Perfect ranking at the second evaluation only, a constant one otherwise.
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        scores = np.zeros((len(users), split.n_items))
        if len(snapshots) == 2:
            scores[np.arange(len(users)), [targets[u] for u in users]] = 1.0
        return scores

    model = GMF(split.n_users, split.n_items, factors=4)
    config = _config(epochs=10, patience=3)
    rng = np.random.default_rng(1)
    result = fit(model, split, candidates, config, rng, device="cpu", scorer=scorer)
    assert result.best_epoch == 2
    assert result.best_score == 1.0
    assert len(result.history) == 5  # epochs 3, 4, 5 bring nothing: stop at 5
    restored = model.state_dict()
    for key, value in snapshots[1].items():
        assert torch.equal(restored[key], value)
    assert not torch.equal(restored["user.weight"], snapshots[-1]["user.weight"])


@pytest.mark.parametrize("patience", [1, 2, 4])
def test_fit_early_stop_after_patience(planted, patience):
    split, candidates = planted

    def constant(users):
        return np.zeros((len(users), split.n_items))

    model = GMF(split.n_users, split.n_items, factors=4)
    config = _config(epochs=10, patience=patience)
    rng = np.random.default_rng(2)
    result = fit(model, split, candidates, config, rng, device="cpu", scorer=constant)
    assert result.best_epoch == 1
    assert result.best_score == 0.0  # a constant scorer ranks the target last
    assert len(result.history) == 1 + patience


def test_fit_accepts_torch_device(planted):
    split, candidates = planted
    model = GMF(split.n_users, split.n_items, factors=4)
    config = _config(epochs=1)
    rng = np.random.default_rng(3)
    result = fit(model, split, candidates, config, rng, device=torch.device("cpu"))
    assert len(result.history) == 1
    assert next(model.parameters()).device == torch.device("cpu")


def test_fit_checkpoint_round_trip(planted, tmp_path):
    split, candidates = planted
    model = GMF(split.n_users, split.n_items, factors=4)
    path = tmp_path / "checkpoints" / "gmf.pt"
    config = _config(epochs=2)
    rng = np.random.default_rng(4)
    fit(model, split, candidates, config, rng, device="cpu", checkpoint=path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["gmf.pt"]

    state = torch.load(path, weights_only=True)
    assert set(state) == set(model.state_dict())
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value)

    fresh = load_checkpoint(GMF(split.n_users, split.n_items, factors=4), path)
    users = torch.arange(split.n_users).repeat_interleave(3)
    items = torch.arange(3).repeat(split.n_users)
    model.eval()
    with torch.no_grad():
        assert torch.equal(fresh(users, items), model(users, items))


def test_save_checkpoint_neumf_loads_weights_only(tmp_path):
    model = NeuMF(5, 6, factors=4, layers=2)
    path = save_checkpoint(model, tmp_path / "neumf.pt")
    state = torch.load(path, weights_only=True)
    copy = NeuMF(5, 6, factors=4, layers=2)
    copy.load_state_dict(state)
    for key, value in model.state_dict().items():
        assert torch.equal(copy.state_dict()[key], value)


def test_model_scorer_matches_forward():
    torch.manual_seed(0)
    model = GMF(4, 9, factors=3)
    scores = model_scorer(model, 9, batch_users=3)(np.array([3, 0, 2, 1]))
    assert scores.shape == (4, 9)
    with torch.no_grad():
        expected = model(torch.tensor([2] * 9), torch.arange(9)).numpy()
    np.testing.assert_array_equal(scores[2], expected)
    assert not model.training  # scoring switches to eval mode


class _Weighted(nn.Module):
    """GMF with an optional third input that scales the logit."""

    def __init__(self, n_users: int, n_items: int):
        super().__init__()
        self.gmf = GMF(n_users, n_items, factors=4)
        self.seen_extra = False

    def forward(self, users, items, scale=None):
        logits = self.gmf(users, items)
        if scale is not None:
            self.seen_extra = True
            logits = logits * scale
        return logits


def test_fit_custom_epoch_data_extra_input(planted):
    split, candidates = planted

    def epoch_data(sampler):
        users, items, labels = sampler.epoch()
        return users, items, np.full(len(users), 2.0, np.float32), labels

    model = _Weighted(split.n_users, split.n_items)
    config = _config(epochs=1)
    rng = np.random.default_rng(5)
    fit(model, split, candidates, config, rng, device="cpu", epoch_data=epoch_data)
    assert model.seen_extra


@pytest.mark.parametrize(
    ("change", "message"),
    [({"loss": "hinge"}, "unknown loss 'hinge'"),
     ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'")],
)  # fmt: skip
def test_fit_unknown_setting_raises(planted, change, message):
    split, candidates = planted
    model = GMF(split.n_users, split.n_items, factors=4)
    rng = np.random.default_rng(6)
    with pytest.raises(ValueError, match=message):
        fit(model, split, candidates, _config(epochs=1, **change), rng, device="cpu")
