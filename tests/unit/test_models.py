"""Tests for helpers.models: output shapes, the MLP tower, NeuMF pre-training."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers.models import GMF, MLP, NeuMF

N_USERS, N_ITEMS = 7, 11


@pytest.fixture
def pairs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    users = torch.randint(0, N_USERS, (50,), generator=generator)
    items = torch.randint(0, N_ITEMS, (50,), generator=generator)
    return users, items


def _trained_looking(model: nn.Module, seed: int) -> nn.Module:
    """Spread every parameter like trained weights, far from the small init."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(0.5 * torch.randn(parameter.shape, generator=generator))
    return model


@pytest.mark.parametrize("model_class", [GMF, MLP, NeuMF])
def test_model_one_logit_per_pair(model_class, pairs):
    model = model_class(N_USERS, N_ITEMS, factors=4)
    logits = model(*pairs)
    assert logits.shape == (50,)
    assert logits.dtype == torch.float32


def test_gmf_features_are_elementwise_product(pairs):
    model = GMF(N_USERS, N_ITEMS, factors=4)
    users, items = pairs
    features = model.features(users, items)
    assert features.shape == (50, 4)
    expected = model.user(users) * model.item(items)
    assert torch.equal(features, expected)


@pytest.mark.parametrize(
    ("factors", "layers", "embedding", "linear"),
    [(8, 3, 32, [(64, 32), (32, 16), (16, 8)]), (4, 2, 8, [(16, 8), (8, 4)])],
)
def test_mlp_tower_halves_to_factors(factors, layers, embedding, linear):
    model = MLP(N_USERS, N_ITEMS, factors=factors, layers=layers)
    assert model.user.embedding_dim == embedding
    assert model.item.embedding_dim == embedding
    shapes = [
        (m.in_features, m.out_features) for m in model.tower if isinstance(m, nn.Linear)
    ]
    assert shapes == linear
    assert model.output.in_features == factors


def test_mlp_dropout_only_in_train_mode(pairs):
    model = _trained_looking(MLP(N_USERS, N_ITEMS, factors=4, dropout=0.5), seed=1)
    model.eval()
    assert torch.equal(model(*pairs), model(*pairs))
    model.train()
    torch.manual_seed(0)
    assert not torch.equal(model(*pairs), model(*pairs))


def test_neumf_tables_gmf_then_mlp():
    model = NeuMF(N_USERS, N_ITEMS, factors=4, layers=2)
    assert model.user.weight.shape == (N_USERS, 4 + 8)
    assert model.item.weight.shape == (N_ITEMS, 4 + 8)
    assert model.output.in_features == 8
    assert all(p.requires_grad for p in model.parameters())


def test_neumf_from_pretrained_alpha_1_equals_gmf(pairs):
    gmf = _trained_looking(GMF(N_USERS, N_ITEMS, factors=8), seed=1)
    mlp = _trained_looking(MLP(N_USERS, N_ITEMS, factors=8, layers=3), seed=2)
    model = NeuMF.from_pretrained(gmf, mlp, alpha=1.0)
    with torch.no_grad():
        assert torch.equal(model(*pairs), gmf(*pairs))


@pytest.mark.parametrize("alpha", [0.5, 0.3, 0.0])
def test_neumf_from_pretrained_alpha_weighted(pairs, alpha):
    gmf = _trained_looking(GMF(N_USERS, N_ITEMS, factors=8), seed=1)
    mlp = _trained_looking(MLP(N_USERS, N_ITEMS, factors=8, layers=2), seed=2)
    model = NeuMF.from_pretrained(gmf, mlp, alpha=alpha)
    with torch.no_grad():
        expected = alpha * gmf(*pairs) + (1 - alpha) * mlp(*pairs)
        # Same sums in another order: equal up to float32 rounding.
        torch.testing.assert_close(model(*pairs), expected, rtol=1e-5, atol=1e-5)


def test_neumf_from_pretrained_copies_branches():
    gmf = _trained_looking(GMF(N_USERS, N_ITEMS, factors=4), seed=1)
    mlp = _trained_looking(MLP(N_USERS, N_ITEMS, factors=4, layers=2), seed=2)
    model = NeuMF.from_pretrained(gmf, mlp)
    assert torch.equal(model.user.weight[:, :4], gmf.user.weight)
    assert torch.equal(model.user.weight[:, 4:], mlp.user.weight)
    assert torch.equal(model.item.weight[:, :4], gmf.item.weight)
    assert torch.equal(model.item.weight[:, 4:], mlp.item.weight)
    assert torch.equal(model.tower[1].weight, mlp.tower[1].weight)
    assert sum(isinstance(m, nn.Linear) for m in model.tower) == 2
    with torch.no_grad():
        model.user.weight.zero_()
        model.tower[1].weight.zero_()
    assert gmf.user.weight.abs().sum() > 0  # a copy, not shared storage
    assert mlp.tower[1].weight.abs().sum() > 0
