"""Training recipes of notebook 01, reused by the notebooks that compare with it.

Hyperparameters were chosen on the validation items of the ML-100K
leave-last-out split (never on the test items); see notebook 01.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

import pandas as pd
import torch

from helpers.baselines import BPRMF, EASE, ItemKNN, Popularity, select_on_validation
from helpers.config import seed_everything
from helpers.evaluation import evaluate
from helpers.models import GMF, MLP, NeuMF
from helpers.protocol import Protocol
from helpers.train import TrainConfig, TrainResult, fit, model_scorer

log = logging.getLogger(__name__)

# Settings of the GMF and MLP pre-training and of the NeuMF fine-tuning.
GMF_CONFIG = TrainConfig(epochs=20, batch_size=512, lr=2e-3, n_negatives=4, patience=3)
MLP_CONFIG = TrainConfig(epochs=20, batch_size=512, lr=2e-3, n_negatives=4, patience=3)
# Pre-trained NeuMF continues with plain SGD, as He et al. (2017) do, because
# Adam's moment estimates are not part of the pre-trained state.
NEUMF_PRETRAINED_CONFIG = TrainConfig(
    epochs=20, batch_size=512, lr=0.05, optimizer="sgd", n_negatives=4, patience=3
)
NEUMF_SCRATCH_CONFIG = TrainConfig(
    epochs=20, batch_size=512, lr=2e-3, n_negatives=4, patience=3
)
BPR_CONFIG = TrainConfig(
    epochs=25, batch_size=1024, lr=5e-3, loss="bpr", n_negatives=1, patience=3
)
EASE_GRID = (100.0, 200.0, 500.0, 1000.0, 2000.0)
KNN_GRID = (20, 50, 100, 200, 400)
FACTORS = 16


@dataclass
class Run:
    """One trained model on one seed: per-user test metrics and its training log."""

    name: str
    seed: int
    per_user: pd.DataFrame
    seconds: float
    history: pd.DataFrame | None = None
    best_epoch: int | None = None
    info: dict = field(default_factory=dict)


def _quick(config: TrainConfig, quick: bool, progress: bool) -> TrainConfig:
    if quick:
        return replace(
            config, epochs=min(config.epochs, 2), patience=1, progress=progress
        )
    return replace(config, progress=progress)


def _test_run(
    name, seed, scorer, protocol, started, result: TrainResult | None = None
) -> Run:
    per_user = evaluate(scorer, protocol.split, protocol.test_candidates)
    return Run(
        name=name,
        seed=seed,
        per_user=per_user,
        seconds=time.perf_counter() - started,
        history=None if result is None else result.history,
        best_epoch=None if result is None else result.best_epoch,
        info={}
        if result is None
        else {"samples_per_second": result.samples_per_second},
    )


def run_item_baselines(protocol: Protocol) -> tuple[list[Run], dict]:
    """Popularity, ItemKNN and EASE (deterministic: one run each).

    ItemKNN's ``k`` and EASE's ``lambda`` are chosen on validation NDCG@10. At test
    time the item-based models read train plus the validation interaction.

    Returns:
        The runs and ``{"ItemKNN k": ..., "EASE lambda": ..., "grids": ...}``.
    """
    split = protocol.split
    history = split.matrix("train", "valid")
    runs = []
    started = time.perf_counter()
    popularity = Popularity().fit(split.matrix("train"))
    runs.append(_test_run("Popularity", 0, popularity.scorer(), protocol, started))
    chosen = {}
    for name, factory, grid in (
        ("ItemKNN", ItemKNN, KNN_GRID),
        ("EASE", EASE, EASE_GRID),
    ):
        started = time.perf_counter()
        model, value, scores = select_on_validation(
            factory, grid, split, protocol.valid_candidates
        )
        runs.append(_test_run(name, 0, model.scorer(history), protocol, started))
        chosen[name] = {"chosen": value, "valid NDCG@10": scores}
    return runs, chosen


def train_bpr(
    protocol: Protocol,
    seed: int,
    quick: bool = False,
    progress: bool = False,
    device=None,
) -> Run:
    """BPR-MF with 64 factors, early-stopped on validation NDCG@10."""
    rng = seed_everything(seed)
    split = protocol.split
    model = BPRMF(split.n_users, split.n_items, factors=64)
    started = time.perf_counter()
    config = _quick(BPR_CONFIG, quick, progress)
    result = fit(
        model,
        split,
        protocol.valid_candidates,
        config,
        rng,
        device=device,
        name=f"BPR-MF seed {seed}",
    )
    return _test_run(
        "BPR-MF", seed, model_scorer(model, split.n_items), protocol, started, result
    )


def train_ncf_family(
    protocol: Protocol,
    seed: int,
    factors: int = FACTORS,
    quick: bool = False,
    progress: bool = False,
    device=None,
    scratch: bool = True,
) -> tuple[list[Run], dict[str, torch.nn.Module]]:
    """GMF, MLP, NeuMF from those two (pre-trained) and NeuMF from scratch, one seed.

    ``scratch=False`` skips the NeuMF without pre-training (used by the sweep).

    Returns:
        Runs named ``GMF``, ``MLP``, ``NeuMF`` (pre-trained) and
        ``NeuMF (no pre-training)``, and the trained models under the same names.
    """
    rng = seed_everything(seed)
    split, runs, models = protocol.split, [], {}

    def train(name: str, model: torch.nn.Module, config: TrainConfig) -> None:
        started = time.perf_counter()
        result = fit(
            model,
            split,
            protocol.valid_candidates,
            _quick(config, quick, progress),
            rng,
            device=device,
            name=f"{name} seed {seed}",
        )
        scorer = model_scorer(model, split.n_items)
        runs.append(_test_run(name, seed, scorer, protocol, started, result))
        models[name] = model

    train("GMF", GMF(split.n_users, split.n_items, factors), GMF_CONFIG)
    train("MLP", MLP(split.n_users, split.n_items, factors), MLP_CONFIG)
    pretrained = NeuMF.from_pretrained(models["GMF"], models["MLP"])
    train("NeuMF", pretrained, NEUMF_PRETRAINED_CONFIG)
    if scratch:
        scratch_model = NeuMF(split.n_users, split.n_items, factors)
        train("NeuMF (no pre-training)", scratch_model, NEUMF_SCRATCH_CONFIG)
    return runs, models


def train_neumf(
    protocol: Protocol,
    seed: int,
    quick: bool = False,
    progress: bool = False,
    device=None,
) -> tuple[NeuMF, Run]:
    """NeuMF exactly as notebook 01 trains it (GMF and MLP pre-training included)."""
    runs, models = train_ncf_family(
        protocol, seed, FACTORS, quick, progress, device, scratch=False
    )
    return models["NeuMF"], next(run for run in runs if run.name == "NeuMF")


def per_user_by_model(runs: list[Run]) -> dict[str, list[pd.DataFrame]]:
    """Group the runs' per-user frames by model name, keeping run order."""
    grouped: dict[str, list[pd.DataFrame]] = {}
    for run in runs:
        grouped.setdefault(run.name, []).append(run.per_user)
    return grouped


def summary_table(
    aggregated: dict, metrics=("HR@10", "NDCG@10"), digits: int = 4
) -> pd.DataFrame:
    """Models as rows, ``<protocol> <metric>`` columns as ``mean ± std`` strings."""
    rows = {}
    for model, protocols in aggregated.items():
        rows[model] = {
            f"{protocol} {metric}": _mean_std(values[metric], digits)
            for protocol, values in protocols.items()
            for metric in metrics
            if metric in values
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _mean_std(values: dict, digits: int) -> str:
    return f"{values['mean']:.{digits}f} ± {values['std']:.{digits}f}"


def mean_table(aggregated: dict, metrics=("HR@10", "NDCG@10")) -> pd.DataFrame:
    """Numeric means: models as rows, ``<protocol> <metric>`` columns."""
    return pd.DataFrame.from_dict(
        {
            model: {
                f"{protocol} {metric}": values[metric]["mean"]
                for protocol, values in protocols.items()
                for metric in metrics
            }
            for model, protocols in aggregated.items()
        },
        orient="index",
    )


def best_model(aggregated: dict, names, key=("sampled", "NDCG@10")) -> str:
    """Name among ``names`` with the highest mean of ``key``."""
    protocol, metric = key
    return max(names, key=lambda name: aggregated[name][protocol][metric]["mean"])


def training_curves(runs: list[Run]) -> pd.DataFrame:
    """Concatenate every run's per-epoch history, adding ``model`` and ``seed``."""
    frames = [
        run.history.assign(model=run.name, seed=run.seed)
        for run in runs
        if run.history is not None
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
