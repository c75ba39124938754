"""One training loop for every PyTorch recommender in the project.

A model is an ``nn.Module`` whose ``forward(*inputs)`` returns one logit per
example. ``fit`` draws fresh negatives every epoch, evaluates on the validation
items after each epoch (sampled NDCG@k), stops early when it stops improving,
and restores the best weights. Checkpoints are ``state_dict`` files loaded with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from helpers.config import get_device
from helpers.evaluation import Scorer
from helpers.metrics import hit_rate_at_k, ndcg_at_k, target_ranks
from helpers.sampling import TrainingSampler
from helpers.splits import Split

log = logging.getLogger(__name__)

# Returns one epoch of training data: input arrays followed by labels (pointwise)
# or by nothing (pairwise, where inputs are users, positives, negatives).
EpochData = Callable[[TrainingSampler], Sequence[np.ndarray]]


@dataclass
class TrainConfig:
    """Optimisation settings; epochs, batches and learning rate are per model."""

    epochs: int = 20
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    n_negatives: int = 4  # per positive, redrawn every epoch
    loss: str = "bce"  # "bce" (pointwise) or "bpr" (pairwise)
    optimizer: str = "adam"  # "adam" or "sgd"
    patience: int = 3  # epochs without a better validation NDCG before stopping
    k: int = 10
    progress: bool = True


@dataclass
class TrainResult:
    """Outcome of :func:`fit`: per-epoch history and the best validation epoch."""

    history: pd.DataFrame
    best_epoch: int
    best_score: float
    seconds: float
    samples_per_second: float
    extra: dict = field(default_factory=dict)


def model_scorer(
    model: nn.Module, n_items: int, device=None, batch_users: int = 256
) -> Scorer:
    """Build a scorer that calls ``model(users, items)`` on every (user, item) pair.

    The model is put in eval mode; scores are logits, as returned by ``forward``.
    """
    device = device or next(model.parameters()).device
    all_items = torch.arange(n_items, device=device)

    @torch.no_grad()
    def score(users: np.ndarray) -> np.ndarray:
        model.eval()
        blocks = []
        for start in range(0, len(users), batch_users):
            chunk = torch.tensor(users[start : start + batch_users], device=device)
            user_grid = chunk.repeat_interleave(n_items)
            item_grid = all_items.repeat(len(chunk))
            logits = model(user_grid, item_grid).reshape(len(chunk), n_items)
            blocks.append(logits.float().cpu().numpy())
        return np.concatenate(blocks)

    return score


def _pointwise(sampler: TrainingSampler) -> Sequence[np.ndarray]:
    return sampler.epoch()


def _pairwise(sampler: TrainingSampler) -> Sequence[np.ndarray]:
    return sampler.triples()


def _loss(model: nn.Module, batch: list[torch.Tensor], kind: str) -> torch.Tensor:
    if kind == "bce":
        *inputs, labels = batch
        return F.binary_cross_entropy_with_logits(model(*inputs), labels)
    if kind == "bpr":
        users, positives, negatives = batch
        margin = model(users, positives) - model(users, negatives)
        return -F.logsigmoid(margin).mean()
    raise ValueError(f"unknown loss {kind!r}; expected 'bce' or 'bpr'")


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Build fused Adam or SGD over the trainable parameters.

    The fused implementation updates every parameter in one kernel per step. For
    models this small, the default per-parameter loop costs more than the
    arithmetic.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    options = {"lr": config.lr, "weight_decay": config.weight_decay, "fused": True}
    if config.optimizer == "adam":
        return torch.optim.Adam(params, **options)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, **options)
    raise ValueError(
        f"unknown optimizer {config.optimizer!r}; expected 'adam' or 'sgd'"
    )


def fit(
    model: nn.Module,
    split: Split,
    valid_candidates: np.ndarray,
    config: TrainConfig,
    rng: np.random.Generator,
    *,
    device: torch.device | str | None = None,
    epoch_data: EpochData | None = None,
    scorer: Scorer | None = None,
    checkpoint: str | os.PathLike | None = None,
    name: str = "model",
) -> TrainResult:
    """Train ``model`` on ``split.train`` with early stopping on validation NDCG@k.

    Args:
        valid_candidates: from ``eval_candidates(split, n, rng, target="valid")``.
        rng: draws the negatives and the batch order.
        epoch_data: builds one epoch of input arrays from the sampler; the
            default yields ``(users, items, labels)`` for ``"bce"`` and
            ``(users, positives, negatives)`` for ``"bpr"``.
        scorer: validation scorer over all items; by default only the
            candidates are scored with ``model(users, items)``.
        checkpoint: if given, the best ``state_dict`` is saved there.

    Returns:
        A :class:`TrainResult`; ``model`` is left with the best epoch's weights.
    """
    if config.epochs < 1:
        raise ValueError(f"config.epochs must be >= 1, got {config.epochs}")
    device = get_device(device) if not isinstance(device, torch.device) else device
    model.to(device)
    sampler = TrainingSampler(split.matrix("train"), config.n_negatives, rng)
    if epoch_data is None:
        epoch_data = _pairwise if config.loss == "bpr" else _pointwise
    validate = _validator(model, split, valid_candidates, config.k, scorer, device)
    optimizer = _optimizer(model, config)
    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))

    rows, best_score, best_epoch, best_state = [], -1.0, 0, None
    n_samples, train_seconds, started = 0, 0.0, time.perf_counter()
    epochs = tqdm(range(1, config.epochs + 1), desc=name, disable=not config.progress)
    for epoch in epochs:
        tick = time.perf_counter()
        loss, count = _train_epoch(
            model, epoch_data(sampler), optimizer, config, device, generator
        )
        train_seconds += time.perf_counter() - tick
        n_samples += count
        hit_rate, ndcg = validate()
        rows.append({
            "epoch": epoch, "loss": loss, f"valid HR@{config.k}": hit_rate,
            f"valid NDCG@{config.k}": ndcg, "seconds": time.perf_counter() - tick,
        })  # fmt: skip
        epochs.set_postfix(loss=f"{loss:.4f}", ndcg=f"{ndcg:.4f}")
        log.debug(
            "%s epoch %d: loss %.4f, valid NDCG@%d %.4f",
            name,
            epoch,
            loss,
            config.k,
            ndcg,
        )
        if ndcg > best_score:
            best_score, best_epoch = ndcg, epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= config.patience and epoch < config.epochs:
            log.info("%s: early stop at epoch %d (best %d)", name, epoch, best_epoch)
            break

    model.load_state_dict(best_state)
    if checkpoint is not None:
        save_checkpoint(model, checkpoint)
    log.info(
        "%s: best valid NDCG@%d %.4f at epoch %d",
        name,
        config.k,
        best_score,
        best_epoch,
    )
    return TrainResult(
        history=pd.DataFrame(rows),
        best_epoch=best_epoch,
        best_score=best_score,
        seconds=time.perf_counter() - started,
        samples_per_second=n_samples / max(train_seconds, 1e-9),
    )


def candidate_scores(
    model: nn.Module, users: np.ndarray, candidates: np.ndarray, batch_users: int = 1024
) -> np.ndarray:
    """Score each user's candidate row with ``model(user, item)``; same shape as input.

    Scoring only the candidates is 16 times cheaper than scoring every item on
    ML-100K, which matters for validation after every epoch.
    """
    device = next(model.parameters()).device
    n_candidates = candidates.shape[1]
    blocks = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(users), batch_users):
            rows = slice(start, start + batch_users)
            user_grid = torch.tensor(users[rows], device=device).repeat_interleave(
                n_candidates
            )
            item_grid = torch.tensor(candidates[rows], device=device).reshape(-1)
            logits = model(user_grid, item_grid).reshape(-1, n_candidates)
            blocks.append(logits.float().cpu().numpy())
    return np.concatenate(blocks)


def _validator(model, split, valid_candidates, k, scorer, device):
    """Return a function computing validation (HR@k, NDCG@k) on the sampled protocol."""
    users = split.valid["user_idx"].to_numpy()

    def validate() -> tuple[float, float]:
        if scorer is None:
            ranks = target_ranks(candidate_scores(model, users, valid_candidates))
        else:
            scores = np.asarray(scorer(users), dtype=np.float64)
            ranks = target_ranks(np.take_along_axis(scores, valid_candidates, axis=1))
        return float(hit_rate_at_k(ranks, k).mean()), float(ndcg_at_k(ranks, k).mean())

    return validate


def _train_epoch(
    model, arrays, optimizer, config, device, generator
) -> tuple[float, int]:
    """Train one pass over ``arrays`` in mini-batches; return mean loss and count.

    The arrays are shuffled once, so each batch is a contiguous slice. The loss
    is summed on the device and read back once per epoch, not once per batch.
    """
    model.train()
    n = len(arrays[0])
    order = torch.randperm(n, generator=generator)
    tensors = [torch.as_tensor(a)[order].to(device) for a in arrays]
    total = torch.zeros((), device=device)
    for start in range(0, n, config.batch_size):
        batch = [t[start : start + config.batch_size] for t in tensors]
        loss = _loss(model, batch, config.loss)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(batch[0])
    return float(total) / n, n


def save_checkpoint(model: nn.Module, path: str | os.PathLike) -> Path:
    """Save ``model.state_dict()`` atomically (tensors only, no pickled code)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(path.suffix + ".tmp")
    torch.save(model.state_dict(), temp)
    os.replace(temp, path)
    return path


def load_checkpoint(
    model: nn.Module, path: str | os.PathLike, device=None
) -> nn.Module:
    """Load a ``state_dict`` from :func:`save_checkpoint` with ``weights_only=True``."""
    state = torch.load(path, map_location=device or "cpu", weights_only=True)
    model.load_state_dict(state)
    return model
