"""LIME, SHAP and Captum on field rows, and measures of how good the explanations are.

Every explainer here answers the same question for a batch of label-encoded
field rows ``(n, n_fields)``: how much did each field move the model's score
(a logit)? Each returns :class:`Attributions` with one value per field, so
the methods can be compared pair by pair.

Two kinds of model are accepted. The perturbation explainers (LIME, SHAP) only
need a *predict* function, int rows ``(n, n_fields)`` -> scores ``(n,)``. The
Captum explainers need a *field model* with ``embed(rows) -> (n, n_fields, e)``
and ``head(vectors) -> (n,)`` (such as
:class:`helpers.features.FieldRecommender`): gradients flow through the field
vectors, never through integer ids, and each field's attribution is the sum
over its vector.

Each method measures against its own reference: SHAP against the mean over a
background of real rows, LIME against fields redrawn from that background, the
Captum methods against the baseline row (every field ``unknown``). The deletion
curves use the baseline row.
"""

from __future__ import annotations

import copy
import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from scipy import stats
from torch import nn
from tqdm.auto import tqdm

log = logging.getLogger(__name__)

# Maps int field rows (n, n_fields) to one score per row (n,).
Predict = Callable[[np.ndarray], np.ndarray]


@dataclass
class Attributions:
    """Per-field attributions of one method for ``n`` rows.

    Attributes:
        method: display name, e.g. ``"SHAP"``.
        values: float array ``(n, n_fields)``; positive values raise the score.
        seconds: wall time of the whole call.
        extra: method-specific arrays (base values, convergence deltas, ...).
    """

    method: str
    values: np.ndarray
    seconds: float
    extra: dict = field(default_factory=dict)

    @property
    def seconds_per_row(self) -> float:
        return self.seconds / max(len(self.values), 1)


class AdditivityError(ValueError):
    """SHAP values plus base value differ from the model output beyond tolerance."""


def field_predictor(model: nn.Module, batch_size: int = 65536) -> Predict:
    """Predict function of a field model: int rows ``(n, n_fields)`` -> logits ``(n,)``.

    Rows arrive from LIME and SHAP as floats; they must hold whole numbers.
    The model is switched to eval mode and run without gradients in batches.
    """

    @torch.no_grad()
    def predict(rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        codes = np.rint(rows).astype(np.int64)
        if rows.dtype.kind == "f" and not np.array_equal(codes, rows):
            raise ValueError("field rows must hold whole-number category codes")
        model.eval()
        device = next(model.parameters()).device
        out = [
            model(torch.as_tensor(codes[start : start + batch_size], device=device))
            for start in range(0, len(codes), batch_size)
        ]
        return torch.cat(out).float().cpu().numpy() if out else np.zeros(0, np.float32)

    return predict


def training_modules(model: nn.Module) -> list[str]:
    """Names of the submodules (``""`` for the model itself) still in training mode."""
    return [name for name, module in model.named_modules() if module.training]


def top_recommendations(
    scores: np.ndarray, exclude: sp.csr_matrix, k: int = 1
) -> np.ndarray:
    """Indices of each row's ``k`` best-scored items outside ``exclude``.

    Args:
        scores: ``(n_users, n_items)`` scores of the users to recommend for.
        exclude: ``(n_users, n_items)`` binary matrix of items not to recommend
            (the user's train and validation items).

    Returns:
        Int array ``(n_users, k)``, best first.
    """
    scores = np.array(scores, dtype=np.float64)
    scores[exclude.tocsr().nonzero()] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return top


# ----------------------------------------------------------------- explainers


def lime_attributions(
    predict: Predict,
    rows: np.ndarray,
    background: np.ndarray,
    *,
    feature_names: Sequence[str],
    category_names: dict[int, Sequence[str]],
    n_samples: int = 1000,
    seed: int = 0,
    check_rows: Callable[[np.ndarray], None] | None = None,
    progress: bool = False,
) -> Attributions:
    """LIME tabular with every field declared categorical.

    LIME draws each field of a perturbed row from that field's values in
    ``background`` (real rows), so every perturbed row contains exactly one real
    category per field. LIME then fits a weighted ridge model on "field equals the
    explained row's value" indicators. The weight of an indicator is the
    field's attribution: what keeping its value adds to the score compared
    with a random draw.

    Args:
        rows: int ``(n, n_fields)`` rows to explain.
        background: int ``(m, n_fields)`` real rows; their value frequencies
            drive the sampling.
        category_names: per field index, the readable name of each code.
        n_samples: perturbed rows per explanation.
        seed: seeds LIME's sampler; equal seeds give equal attributions.
        check_rows: called on every batch of perturbed rows (raise to reject).

    Returns:
        :class:`Attributions` with ``extra["names"]`` (LIME's readable
        ``field=value`` labels per row) and ``extra["n_model_rows"]``.
    """
    from lime.lime_tabular import LimeTabularExplainer

    # NOTE: LIME redraws each field independently, so a perturbed row can pair a
    # user id with another user's age: real categories, but a combination the
    # model never saw. SHAP's masking below mixes rows the same way.
    n_fields = rows.shape[1]
    explainer = LimeTabularExplainer(
        np.asarray(background, dtype=np.float64), mode="regression",
        feature_names=list(feature_names), categorical_features=list(range(n_fields)),
        categorical_names={i: list(names) for i, names in category_names.items()},
        discretize_continuous=False, feature_selection="none", random_state=seed,
    )  # fmt: skip
    seen = [0]

    def checked(batch: np.ndarray) -> np.ndarray:
        if check_rows is not None:
            check_rows(np.rint(batch).astype(np.int64))
        seen[0] += len(batch)
        return predict(batch)

    started = time.perf_counter()
    values = np.zeros(rows.shape, dtype=np.float64)
    names = []
    for i, row in enumerate(tqdm(rows, desc="LIME", disable=not progress, leave=False)):
        exp = explainer.explain_instance(
            np.asarray(row, dtype=np.float64), checked, num_features=n_fields,
            num_samples=n_samples,
        )  # fmt: skip
        for feature, weight in exp.local_exp[1]:
            values[i, feature] = weight
        names.append([exp.domain_mapper.feature_names[j] for j in range(n_fields)])
    return Attributions(
        "LIME", values, time.perf_counter() - started,
        {"names": names, "n_model_rows": seen[0]},
    )  # fmt: skip


def shap_attributions(
    predict: Predict,
    rows: np.ndarray,
    background: np.ndarray,
    *,
    feature_names: Sequence[str] | None = None,
    tolerance: float = 1e-3,
    progress: bool = False,
) -> Attributions:
    """Exact interventional SHAP values over a background of real rows.

    ``shap.ExactExplainer`` with an ``Independent`` masker: a hidden field
    takes its value from a background row, and the value of a set of fields
    is averaged over all background rows. With ``f`` fields that differ from
    the background it costs ``2**f * len(background)`` model rows per
    explained row, with no sampling error.

    Raises:
        AdditivityError: on any row, ``values.sum() + base_value`` differs from
            the model output by more than ``tolerance``.

    Returns:
        :class:`Attributions` with ``extra`` keys ``base_values``, ``outputs``,
        ``additivity_error`` (absolute, per row) and ``explanation`` (the
        ``shap.Explanation``, for SHAP's plots).
    """
    import shap

    background = np.asarray(background, dtype=np.int64)
    masker = shap.maskers.Independent(background, max_samples=len(background))
    explainer = shap.ExactExplainer(predict, masker, feature_names=feature_names)
    started = time.perf_counter()
    explanation = explainer(np.asarray(rows, dtype=np.int64), silent=not progress)
    seconds = time.perf_counter() - started
    values = np.asarray(explanation.values, dtype=np.float64)
    base = np.asarray(explanation.base_values, dtype=np.float64).reshape(len(values))
    outputs = predict(rows).astype(np.float64)
    error = np.abs(values.sum(axis=1) + base - outputs)
    if error.max(initial=0.0) > tolerance:
        worst = int(error.argmax())
        raise AdditivityError(
            f"SHAP additivity fails on row {worst}: sum of values + base value = "
            f"{values[worst].sum() + base[worst]:.6f}, model output "
            f"{outputs[worst]:.6f} (tolerance {tolerance}); enlarge the tolerance "
            "only if the model is not deterministic"
        )
    return Attributions(
        "SHAP", values, seconds,
        {"base_values": base, "outputs": outputs, "additivity_error": error,
         "explanation": explanation},
    )  # fmt: skip


def _embedded(model: nn.Module, rows: np.ndarray, baseline_row: np.ndarray):
    device = next(model.parameters()).device
    with torch.no_grad():
        inputs = model.embed(torch.as_tensor(np.asarray(rows), device=device))
        base = model.embed(
            torch.as_tensor(np.asarray(baseline_row)[None], device=device)
        )
    return inputs, base.expand_as(inputs).contiguous()


def integrated_gradients(
    model: nn.Module,
    rows: np.ndarray,
    baseline_row: np.ndarray,
    *,
    n_steps: int = 64,
    batch_size: int = 8192,
) -> Attributions:
    """Integrated Gradients on the field vectors, summed per field.

    The path runs from the baseline row's vectors to the row's vectors through
    ``model.head``, so gradients never touch the integer codes. By completeness
    the attributions sum to ``f(x) - f(baseline)``, and Captum's convergence
    delta is the difference.

    Returns:
        :class:`Attributions` with ``extra`` keys ``delta`` (signed, per row),
        ``outputs`` and ``baseline_output``.
    """
    from captum.attr import IntegratedGradients

    model.eval()
    started = time.perf_counter()
    inputs, baselines = _embedded(model, rows, baseline_row)
    ig = IntegratedGradients(model.head)
    attr, delta = ig.attribute(
        inputs, baselines=baselines, n_steps=n_steps, method="gausslegendre",
        internal_batch_size=batch_size, return_convergence_delta=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    with torch.no_grad():
        outputs = model.head(inputs).double().cpu().numpy()
        base_out = float(model.head(baselines[:1]).item())
    return Attributions(
        "IG", attr.sum(-1).double().detach().cpu().numpy(), seconds,
        {"delta": delta.double().detach().cpu().numpy(), "outputs": outputs,
         "baseline_output": base_out},
    )  # fmt: skip


def shapley_sampling(
    model: nn.Module,
    rows: np.ndarray,
    baseline_row: np.ndarray,
    *,
    n_samples: int = 25,
    seed: int = 0,
) -> Attributions:
    """Captum's Shapley value sampling over fields, against the baseline row.

    Each of ``n_samples`` random field orders adds the fields one by one
    (baseline vector -> the row's vector); a field's attribution is its mean
    marginal effect. One order evaluates every row in the batch together.
    Captum draws the orders with torch's global generator, so it runs inside
    ``torch.random.fork_rng`` seeded with ``seed``: equal seeds give equal
    results and the caller's random state is untouched.
    """
    from captum.attr import ShapleyValueSampling

    model.eval()
    started = time.perf_counter()
    inputs, baselines = _embedded(model, rows, baseline_row)
    n_fields = inputs.shape[1]
    mask = torch.arange(n_fields, device=inputs.device)[None, :, None]
    mask = mask.repeat(1, 1, inputs.shape[2])  # (1, n_fields, e): field ids
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        attr = ShapleyValueSampling(model.head).attribute(
            inputs, baselines=baselines, feature_mask=mask, n_samples=n_samples,
            perturbations_per_eval=n_fields,
        )  # fmt: skip
    # Every entry of a field's vector carries the field's whole value.
    values = attr[:, :, 0].double().cpu().numpy()
    return Attributions("Shapley sampling", values, time.perf_counter() - started)


def explain_fields(
    model: nn.Module,
    rows: np.ndarray,
    background: np.ndarray,
    baseline_row: np.ndarray,
    *,
    feature_names: Sequence[str],
    category_names: dict[int, Sequence[str]],
    lime_samples: int = 1000,
    svs_samples: int = 25,
    ig_steps: int = 64,
    seed: int = 0,
    check_rows: Callable[[np.ndarray], None] | None = None,
    progress: bool = False,
) -> dict[str, Attributions]:
    """LIME, SHAP, Integrated Gradients and Shapley sampling on the same rows.

    Returns:
        ``{"LIME", "SHAP", "IG", "Shapley sampling"}`` -> :class:`Attributions`,
        each ``(len(rows), n_fields)``, in the model's logit units.
    """
    predict = field_predictor(model)
    return {
        "LIME": lime_attributions(
            predict, rows, background, feature_names=feature_names,
            category_names=category_names, n_samples=lime_samples, seed=seed,
            check_rows=check_rows, progress=progress,
        ),
        "SHAP": shap_attributions(
            predict, rows, background, feature_names=list(feature_names),
            progress=progress,
        ),
        "IG": integrated_gradients(model, rows, baseline_row, n_steps=ig_steps),
        "Shapley sampling": shapley_sampling(
            model, rows, baseline_row, n_samples=svs_samples, seed=seed
        ),
    }  # fmt: skip


# ----------------------------------------------------------------- evaluation


def rank_agreement(attributions: dict[str, np.ndarray]) -> pd.DataFrame:
    """Rank correlation of field attributions between every pair of methods.

    For each explained row the two methods' attribution vectors are compared
    with Spearman's rho and Kendall's tau. A row where a method gives every
    field the same value has no ranking, so it is skipped.

    Returns:
        One row per method pair with ``spearman`` / ``kendall`` mean and std over
        rows, ``top_field_match`` (share of rows whose largest attribution is on
        the same field) and ``n_rows``.
    """
    out = []
    for a, b in combinations(attributions, 2):
        x, y = np.asarray(attributions[a]), np.asarray(attributions[b])
        rho = np.array(
            [_corr(stats.spearmanr, u, v) for u, v in zip(x, y, strict=True)]
        )
        tau = np.array(
            [_corr(stats.kendalltau, u, v) for u, v in zip(x, y, strict=True)]
        )
        out.append({
            "pair": f"{a} vs {b}",
            "spearman": np.nanmean(rho), "spearman_std": np.nanstd(rho),
            "kendall": np.nanmean(tau), "kendall_std": np.nanstd(tau),
            "top_field_match": float(np.mean(x.argmax(1) == y.argmax(1))),
            "n_rows": int(np.isfinite(rho).sum()),
        })  # fmt: skip
    return pd.DataFrame(out).set_index("pair")


def _corr(test, u: np.ndarray, v: np.ndarray) -> float:
    if np.ptp(u) == 0 or np.ptp(v) == 0:
        return float("nan")
    return float(test(u, v)[0])


def agreement_matrix(attributions: dict[str, np.ndarray]) -> pd.DataFrame:
    """Methods x methods table of mean Spearman rho (1 on the diagonal)."""
    pairs = rank_agreement(attributions)["spearman"]
    names = list(attributions)
    table = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for a, b in combinations(names, 2):
        table.loc[a, b] = table.loc[b, a] = pairs[f"{a} vs {b}"]
    return table


def deletion_curves(
    predict: Predict,
    rows: np.ndarray,
    order_by: np.ndarray,
    baseline_row: np.ndarray,
) -> np.ndarray:
    """Score as the most important fields are replaced by their baseline value.

    Fields are removed in decreasing order of ``order_by`` (the attribution:
    fields that pushed the score up go first). A faithful attribution makes
    the score fall fast, so the area under the curve is small.

    Args:
        rows: int ``(n, n_fields)``.
        order_by: ``(n, n_fields)`` attributions (or any importance).
        baseline_row: ``(n_fields,)`` replacement values.

    Returns:
        ``(n, n_fields + 1)`` scores; column ``k`` has the top ``k`` fields
        replaced (column 0 is the row itself, the last column the baseline).
    """
    # NOTE: fields are replaced by the Captum baseline (``unknown``), the reference
    # IG and Shapley sampling explain against; LIME and SHAP use the background
    # instead, so this test is stricter for them.
    rows = np.asarray(rows)
    n, n_fields = rows.shape
    order = np.argsort(-np.asarray(order_by), axis=1, kind="stable")
    # removed[i, k, j]: field j is among the first k fields of row i's order.
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n_fields)[None].repeat(n, 0), axis=1)
    removed = rank[:, None, :] < np.arange(n_fields + 1)[None, :, None]
    steps = np.where(removed, np.asarray(baseline_row)[None, None], rows[:, None, :])
    scores = predict(steps.reshape(-1, n_fields))  # (n * (n_fields + 1),)
    return np.asarray(scores, dtype=np.float64).reshape(n, n_fields + 1)


def random_deletion_curves(
    predict: Predict,
    rows: np.ndarray,
    baseline_row: np.ndarray,
    rng: np.random.Generator,
    n_orders: int = 10,
) -> np.ndarray:
    """Mean deletion curve over ``n_orders`` random field orders per row: the floor."""
    rows = np.asarray(rows)
    curves = [
        deletion_curves(predict, rows, rng.random(rows.shape), baseline_row)
        for _ in range(n_orders)
    ]
    return np.mean(curves, axis=0)


def curve_area(curves: np.ndarray) -> np.ndarray:
    """Trapezoid area under each curve with x running from 0 to 1; shape ``(n,)``."""
    curves = np.asarray(curves, dtype=np.float64)
    x = np.linspace(0.0, 1.0, curves.shape[1])
    return np.trapezoid(curves, x, axis=1)


def reinitialised(model: nn.Module, seed: int) -> nn.Module:
    """Copy ``model`` and give the copy fresh random weights (randomisation check).

    Calls the model's own ``reset_parameters`` if it has one, otherwise each
    submodule's, under a forked torch generator seeded with ``seed``.
    """
    fresh = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if hasattr(fresh, "reset_parameters"):
            fresh.reset_parameters()
        else:
            for module in fresh.modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
    return fresh.eval()


def row_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rho between matching rows of two ``(n, n_fields)`` arrays.

    A row where either array is flat gives NaN.
    """
    return np.array([_corr(stats.spearmanr, u, v) for u, v in zip(a, b, strict=True)])


# ----------------------------------------------------------------- words and plots


def explain_in_words(
    user_text: str,
    movie_text: str,
    probability: float,
    phrases: Sequence[str],
    values: np.ndarray,
    method: str,
    n_reasons: int = 2,
) -> str:
    """Write one sentence: the recommendation and the fields that drove it.

    Args:
        user_text: the user, e.g. ``"user 405 (25-34, man, engineer)"``.
        movie_text: the movie, e.g. ``"Star Wars (1977)"``.
        probability: the model's score as a probability.
        phrases: per field, a readable phrase such as ``"genres Sci-Fi|War"``.
        values: per field, the attribution of ``method``.
        n_reasons: how many positive fields to name.
    """
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(-values)
    pros = [
        f"{phrases[i]} ({values[i]:+.2f})" for i in order[:n_reasons] if values[i] > 0
    ]
    con = int(order[-1])
    text = f"{user_text} gets {movie_text} (score {probability:.2f}) mostly because of "
    text += " and ".join(pros) if pros else "no single field"
    if values[con] < 0:
        text += f", against {phrases[con]} ({values[con]:+.2f})"
    return text + f" [{method}]."


def normalised(values: np.ndarray) -> np.ndarray:
    """Divide each row by its sum of absolute values (rows of zeros stay zero)."""
    values = np.asarray(values, dtype=np.float64)
    total = np.abs(values).sum(axis=-1, keepdims=True)
    return np.divide(values, total, out=np.zeros_like(values), where=total > 0)


def plot_field_bars(
    by_method: dict[str, np.ndarray], labels: Sequence[str], ax: plt.Axes | None = None
) -> plt.Axes:
    """Grouped horizontal bars: one row per field, one bar per method.

    Each method's vector is divided by its sum of absolute values, so methods
    with different scales share the axis (share of the total, with sign).
    """
    ax = ax or plt.subplots(figsize=(7, 5), layout="constrained")[1]
    n = len(by_method)
    height = 0.8 / n
    y = np.arange(len(labels))
    for j, (method, values) in enumerate(by_method.items()):
        ax.barh(
            y + (j - (n - 1) / 2) * height, normalised(values), height, label=method
        )
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set(xlabel="share of total |attribution| (signed)")
    ax.legend(fontsize="small")
    return ax


def plot_mean_importance(
    by_method: dict[str, np.ndarray], fields: Sequence[str], ax: plt.Axes | None = None
) -> plt.Axes:
    """Mean share of |attribution| per field over the explained rows, per method."""
    ax = ax or plt.subplots(figsize=(7, 4), layout="constrained")[1]
    shares = {m: np.abs(normalised(v)).mean(axis=0) for m, v in by_method.items()}
    pd.DataFrame(shares, index=list(fields)).plot.bar(ax=ax, width=0.8)
    ax.set(ylabel="mean share of |attribution|", xlabel="field")
    ax.tick_params(axis="x", rotation=45)
    return ax


def plot_deletion(
    curves: dict[str, np.ndarray], ax: plt.Axes | None = None
) -> plt.Axes:
    """Mean deletion curve per method (score against fields removed)."""
    ax = ax or plt.subplots(figsize=(5.5, 3.5), layout="constrained")[1]
    for method, values in curves.items():
        style = {"linestyle": "--", "color": "grey"} if method == "random" else {}
        ax.plot(np.arange(values.shape[1]), values.mean(axis=0), marker="o",
                markersize=3, label=method, **style)  # fmt: skip
    ax.set(
        xlabel="fields replaced by the baseline (top first)",
        ylabel="mean score (logit)",
    )
    ax.legend(fontsize="small")
    return ax


def plot_agreement(table: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Heatmap of a methods x methods correlation table, values printed."""
    ax = ax or plt.subplots(figsize=(4.5, 4), layout="constrained")[1]
    image = ax.imshow(table.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(table)), table.columns, rotation=30, ha="right")
    ax.set_yticks(range(len(table)), table.index)
    for (i, j), value in np.ndenumerate(table.to_numpy()):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize="small")
    ax.figure.colorbar(image, ax=ax, label="mean Spearman rho")
    return ax


def plot_shap_beeswarm(
    values: np.ndarray,
    base_values: np.ndarray,
    data: np.ndarray,
    feature_names: Sequence[str],
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """SHAP's beeswarm plot of ``values`` ``(n, n_fields)`` on ``ax``.

    ``data`` ``(n, n_fields)`` colours the dots by the field's value; NaN entries
    (fields without an order) are drawn grey.
    """
    import shap

    ax = ax or plt.subplots(figsize=(7, 4.5), layout="constrained")[1]
    explanation = shap.Explanation(
        np.asarray(values), base_values=np.asarray(base_values),
        data=np.asarray(data, dtype=np.float64), feature_names=list(feature_names),
    )  # fmt: skip
    with warnings.catch_warnings():
        # The colour scale takes percentiles per field; all-NaN fields warn, harmlessly.
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        shap.plots.beeswarm(
            explanation, max_display=len(feature_names), ax=ax, show=False,
            plot_size=None,
        )  # fmt: skip
    return ax
