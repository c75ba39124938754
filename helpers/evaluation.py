"""Sampled and full-ranking evaluation on a :class:`~helpers.splits.Split`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from helpers.metrics import full_ranks, ranking_metrics, target_ranks
from helpers.splits import Split

# A scorer maps user indices (n,) to scores for every item (n, n_items); higher
# means more relevant.
Scorer = Callable[[np.ndarray], np.ndarray]

PROTOCOLS = ("sampled", "full")


def evaluate(
    scorer: Scorer,
    split: Split,
    candidates: np.ndarray,
    k: int = 10,
    target: str = "test",
    batch_size: int = 1024,
) -> pd.DataFrame:
    """Per-user metrics under both protocols.

    Sampled: the target ranked against the fixed ``candidates`` (column 0 is the
    target). Full: the target ranked against every item outside the user's train
    items, and outside the validation item too when ``target`` is ``"test"``.

    Returns:
        One row per evaluated user (``user_idx`` column), metric columns named
        ``"<protocol> <metric>"``, e.g. ``"sampled HR@10"``.
    """
    held_out = getattr(split, target)
    users = held_out["user_idx"].to_numpy()
    targets = held_out["item_idx"].to_numpy()
    if candidates.shape[0] != len(users) or np.any(candidates[:, 0] != targets):
        raise ValueError(
            f"candidates do not match split.{target}: draw them with "
            f"eval_candidates(split, ..., target={target!r})"
        )
    masked = ("train", "valid") if target == "test" else ("train",)
    exclude = split.matrix(*masked)[users]

    sampled_ranks, full_rank_list, full_negs = [], [], []
    for start in range(0, len(users), batch_size):
        rows = slice(start, start + batch_size)
        scores = np.asarray(scorer(users[rows]), dtype=np.float64)
        if scores.shape != (len(users[rows]), split.n_items):
            raise ValueError(
                f"scorer returned shape {scores.shape}, expected "
                f"({len(users[rows])}, {split.n_items})"
            )
        picked = np.take_along_axis(scores, candidates[rows], axis=1)
        sampled_ranks.append(target_ranks(picked))
        ranks, n_neg = full_ranks(scores, targets[rows], exclude[rows])
        full_rank_list.append(ranks)
        full_negs.append(n_neg)

    out = {"user_idx": users}
    sampled = ranking_metrics(np.concatenate(sampled_ranks), candidates.shape[1] - 1, k)
    full = ranking_metrics(np.concatenate(full_rank_list), np.concatenate(full_negs), k)
    out.update({f"sampled {name}": values for name, values in sampled.items()})
    out.update({f"full {name}": values for name, values in full.items()})
    return pd.DataFrame(out)


def summarize(per_user: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Mean of each metric, nested as ``{protocol: {metric: mean}}``."""
    summary: dict[str, dict[str, float]] = {}
    for column in per_user.columns:
        if column == "user_idx":
            continue
        protocol, metric = column.split(" ", 1)
        summary.setdefault(protocol, {})[metric] = float(per_user[column].mean())
    return summary


def aggregate_seeds(runs: list[pd.DataFrame]) -> dict[str, dict[str, dict]]:
    """Mean, std and per-seed values of each metric over several seeded runs.

    Returns:
        ``{protocol: {metric: {"mean", "std", "per_seed"}}}`` as in the results
        files; ``std`` is the sample standard deviation (0 for one seed).
    """
    per_seed = [summarize(run) for run in runs]
    out: dict[str, dict[str, dict]] = {}
    for protocol, metrics in per_seed[0].items():
        for metric in metrics:
            values = [run[protocol][metric] for run in per_seed]
            out.setdefault(protocol, {})[metric] = {
                "mean": float(np.mean(values)),
                "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                "per_seed": [float(v) for v in values],
            }
    return out


def mean_per_user(runs: list[pd.DataFrame]) -> pd.DataFrame:
    """Average per-user metrics over seeds, for paired tests between models."""
    stacked = pd.concat(runs).groupby("user_idx", sort=True).mean()
    return stacked.reset_index()
