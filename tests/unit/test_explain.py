"""Explainer wrappers on models with known attributions, metrics, and the real model."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch import nn

from helpers.explain import (
    AdditivityError,
    curve_area,
    deletion_curves,
    explain_in_words,
    field_predictor,
    integrated_gradients,
    lime_attributions,
    random_deletion_curves,
    rank_agreement,
    reinitialised,
    row_correlation,
    shap_attributions,
    shapley_sampling,
    top_recommendations,
    training_modules,
)
from helpers.features import FIELDS, build_field_view, train_field_model
from helpers.protocol import prepare_protocol
from helpers.train import TrainConfig

# f(x) = 2 x1 - 3 x2 + 1 on two binary fields; background rows (0, 0) and (1, 1).
BACKGROUND = np.array([[0, 0], [1, 1]])
X = np.array([[1, 0]])
NAMES = ("x1", "x2")
CATEGORIES = {0: ["0", "1"], 1: ["0", "1"]}


def linear_predict(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    return 2 * rows[:, 0] - 3 * rows[:, 1] + 1


class LinearFieldModel(nn.Module):
    """The same f as a field model: each field's vector is its code as one float."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor([2.0, -3.0]))
        self.bias = nn.Parameter(torch.tensor(1.0))

    def embed(self, rows: torch.Tensor) -> torch.Tensor:
        return rows.float()[..., None]  # (n, 2, 1)

    def head(self, vectors: torch.Tensor) -> torch.Tensor:
        return vectors[..., 0] @ self.weight + self.bias

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(rows))


class SquareFieldModel(LinearFieldModel):
    """A non-linear toy: f(x) = (2 x1 - 3 x2 + 1)^2, where IG is not trivial."""

    def head(self, vectors: torch.Tensor) -> torch.Tensor:
        return super().head(vectors) ** 2


def test_shap_linear_model_gives_known_values():
    result = shap_attributions(linear_predict, X, BACKGROUND, feature_names=NAMES)
    np.testing.assert_allclose(result.values[0], [1.0, 1.5], atol=1e-9)
    np.testing.assert_allclose(result.extra["base_values"], [0.5], atol=1e-9)
    assert result.values[0].sum() + result.extra["base_values"][0] == pytest.approx(3.0)


def test_shap_additivity_failure_raises(rng):
    def noisy(rows):  # a model whose output changes on every call
        return linear_predict(rows) + rng.normal(0, 0.1, len(rows))

    with pytest.raises(AdditivityError, match="additivity fails"):
        shap_attributions(noisy, X, BACKGROUND)


def test_lime_linear_model_known_weights():
    # Keeping x1 = 1 instead of the other value 0 adds 2; keeping x2 = 0 instead
    # of 1 adds 3. LIME's ridge shrinks a little, hence the tolerance.
    seen = []
    result = lime_attributions(
        linear_predict, X, BACKGROUND, feature_names=NAMES, category_names=CATEGORIES,
        n_samples=5000, seed=0, check_rows=seen.append,
    )  # fmt: skip
    np.testing.assert_allclose(result.values[0], [2.0, 3.0], atol=0.05)
    perturbed = np.concatenate(seen)
    assert perturbed.shape == (5000, 2)
    assert set(np.unique(perturbed)) <= {0, 1}  # one real category per field
    assert result.extra["names"][0] == ["x1=1", "x2=0"]


def test_lime_same_seed_same_attributions():
    kwargs = dict(feature_names=NAMES, category_names=CATEGORIES, n_samples=300, seed=7)
    first = lime_attributions(linear_predict, X, BACKGROUND, **kwargs)
    second = lime_attributions(linear_predict, X, BACKGROUND, **kwargs)
    np.testing.assert_array_equal(first.values, second.values)


@pytest.mark.parametrize(
    ("baseline", "expected"), [([0, 0], [2.0, 0.0]), ([1, 1], [0.0, 3.0])]
)
def test_captum_linear_model_known_values(baseline, expected):
    model = LinearFieldModel()
    ig = integrated_gradients(model, X, np.array(baseline), n_steps=8)
    np.testing.assert_allclose(ig.values[0], expected, atol=1e-5)
    assert abs(ig.extra["delta"][0]) < 1e-5
    svs = shapley_sampling(model, X, np.array(baseline), n_samples=5)
    np.testing.assert_allclose(svs.values[0], expected, atol=1e-5)


def test_ig_completeness_on_nonlinear_toy():
    model = SquareFieldModel()
    rows, baseline = np.array([[1, 0], [0, 1], [1, 1]]), np.array([0, 0])
    ig = integrated_gradients(model, rows, baseline, n_steps=32)
    gap = linear_predict(rows) ** 2 - linear_predict(baseline[None]) ** 2
    np.testing.assert_allclose(ig.values.sum(axis=1), gap, atol=1e-4)


def test_shapley_sampling_seeded_repeatable():
    model = SquareFieldModel()
    rows, baseline = np.array([[1, 0], [0, 1]]), np.array([1, 1])
    state = torch.random.get_rng_state()
    first = shapley_sampling(model, rows, baseline, n_samples=4, seed=3)
    second = shapley_sampling(model, rows, baseline, n_samples=4, seed=3)
    np.testing.assert_array_equal(first.values, second.values)
    assert torch.equal(state, torch.random.get_rng_state())


def test_deletion_curve_hand_computed():
    weights = np.array([3.0, 1.0, 2.0])

    def predict(rows):
        return np.asarray(rows, dtype=np.float64) @ weights

    rows, baseline = np.ones((1, 3), dtype=int), np.zeros(3, dtype=int)
    best = deletion_curves(predict, rows, weights[None], baseline)
    np.testing.assert_allclose(best[0], [6, 3, 1, 0])  # remove 3, then 2, then 1
    worst = deletion_curves(predict, rows, -weights[None], baseline)
    np.testing.assert_allclose(worst[0], [6, 5, 3, 0])
    assert curve_area(best)[0] == pytest.approx(7 / 3)
    assert curve_area(worst)[0] == pytest.approx(11 / 3)
    floor = random_deletion_curves(
        predict, rows, baseline, np.random.default_rng(0), 50
    )
    assert floor[0, 0] == 6
    assert floor[0, -1] == 0
    assert curve_area(best)[0] < curve_area(floor)[0] < curve_area(worst)[0]


def test_rank_agreement_identical_reversed_and_flat():
    a = np.array([[1.0, 2.0, 3.0], [0.5, 0.1, 0.2]])
    table = rank_agreement({"a": a, "same": a * 10, "reversed": -a})
    assert table.loc["a vs same", "spearman"] == pytest.approx(1.0)
    assert table.loc["a vs reversed", "kendall"] == pytest.approx(-1.0)
    assert table.loc["a vs same", "top_field_match"] == 1.0
    flat = rank_agreement(
        {"a": a, "flat": np.array([[1.0, 1.0, 1.0], [3.0, 2.0, 1.0]])}
    )
    assert flat.loc["a vs flat", "n_rows"] == 1  # the flat row has no ranking
    assert np.isnan(row_correlation(a, np.ones_like(a))).all()


def test_reinitialised_copy_has_new_weights_and_leaves_original():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
    before = [p.detach().clone() for p in model.parameters()]
    fresh = reinitialised(model, seed=1)
    assert training_modules(fresh) == []
    assert training_modules(model) == ["", "0", "1", "2"]
    assert all(
        torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)
    )
    assert not torch.equal(fresh[0].weight, model[0].weight)
    again = reinitialised(model, seed=1)
    assert torch.equal(again[0].weight, fresh[0].weight)


def test_top_recommendations_skip_excluded_items():
    scores = np.array([[0.9, 0.8, 0.1, 0.5], [0.1, 0.2, 0.3, 0.4]])
    exclude = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 1]]))
    np.testing.assert_array_equal(
        top_recommendations(scores, exclude, k=2), [[1, 3], [2, 1]]
    )


def test_explain_in_words_pros_and_con():
    text = explain_in_words(
        "user 1 (18-24, man, technician)", "Toy Story (1995)", 0.91,
        ["age 18-24", "genres Comedy", "popularity 200+ ratings"],
        np.array([0.2, 1.0, -0.4]), "SHAP",
    )  # fmt: skip
    assert text.startswith("user 1 (18-24, man, technician) gets Toy Story (1995)")
    assert "genres Comedy (+1.00) and age 18-24 (+0.20)" in text
    assert text.endswith("against popularity 200+ ratings (-0.40) [SHAP].")


# --------------------------------------------------------------- the real model


@pytest.fixture(scope="module")
def small_real(ml100k):
    """FieldFM trained for one epoch on the first 120 users of real ML-100K."""
    ratings = ml100k.ratings[ml100k.ratings["user_id"] <= 120]
    protocol = prepare_protocol(ratings)
    view = build_field_view(ml100k, protocol.split)
    config = TrainConfig(epochs=1, batch_size=512, lr=3e-3, progress=False)
    model, _, _ = train_field_model(view, protocol, config, seed=0)
    train = protocol.split.train.sample(40, random_state=0)
    rows = view.rows(train["user_idx"].to_numpy(), train["item_idx"].to_numpy())
    return model, view, rows


@pytest.mark.data
def test_ig_completeness_on_real_model(small_real):
    model, view, rows = small_real
    ig = integrated_gradients(model, rows[:20], view.baseline_row(), n_steps=64)
    gap = ig.extra["outputs"] - ig.extra["baseline_output"]
    error = ig.values.sum(axis=1) - gap
    assert np.abs(error).max() < 0.02 * max(1.0, np.abs(gap).max())
    np.testing.assert_allclose(np.abs(error), np.abs(ig.extra["delta"]), atol=1e-4)


@pytest.mark.data
def test_shapley_sampling_adds_up_on_real_model(small_real):
    model, view, rows = small_real
    svs = shapley_sampling(model, rows[:20], view.baseline_row(), n_samples=3)
    predict = field_predictor(model)
    gap = predict(rows[:20]) - predict(view.baseline_row()[None])
    np.testing.assert_allclose(svs.values.sum(axis=1), gap, atol=1e-4)


@pytest.mark.data
def test_shap_lime_real_model_valid_rows(small_real):
    model, view, rows = small_real
    predict = field_predictor(model)
    shap_result = shap_attributions(
        predict, rows[:3], rows[20:28], feature_names=FIELDS
    )
    assert shap_result.extra["additivity_error"].max() <= 1e-3
    lime_result = lime_attributions(
        predict, rows[:2], rows[20:], feature_names=FIELDS,
        category_names=view.category_names(), n_samples=200, check_rows=view.check_rows,
    )  # fmt: skip
    assert lime_result.values.shape == (2, len(FIELDS))
    assert lime_result.extra["n_model_rows"] == 400
    assert lime_result.extra["names"][0][FIELDS.index("gender")] in {
        "gender=F",
        "gender=M",
    }
    assert training_modules(model) == []


def test_field_predictor_rejects_fractional_codes():
    predict = field_predictor(LinearFieldModel())
    np.testing.assert_allclose(predict(np.array([[1.0, 0.0]])), [3.0])
    with pytest.raises(ValueError, match="whole-number"):
        predict(np.array([[0.5, 0.0]]))
