"""Attention over a user's viewing history and across feature fields.

:class:`AttentionRecommender` scores a (user, candidate movie) pair from two kinds
of attention:

* **History attention**: the candidate movie is the query. The keys are the
  user's most recent ``max_history`` movies, oldest first, each tagged with how
  many steps back it lies. Padded slots are masked out, so they get exactly zero
  weight. One extra learned slot, ``nothing``, can take the weight when no past
  movie is relevant; it is also what a user without history attends to, so
  such a user still gets finite scores.
* **Field attention**: one self-attention block (one head by default) over eight field
  vectors (user id, age, gender, occupation, movie id, genres, release year and
  the history summary above), as in AutoInt (Song et al., CIKM 2019).

The history of a training example is built inside the model from the example's
*position*: its index in the user's time-ordered training interactions. Only
the interactions at earlier positions are read, so an example never sees itself
or anything later. Positions follow the split's order (timestamp, then the
split's rule for ratings made in the same second), the same order that decides
which interaction is held out.

At evaluation the history of a user is every training interaction (validation
scores), plus the validation interaction when scoring the test item, because it
is strictly earlier. The test interaction is never stored in the model.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torch import nn

from helpers.config import get_device, seed_everything
from helpers.data import MovieLens
from helpers.evaluation import Scorer, evaluate, mean_per_user
from helpers.features import FIELDS as VIEW_FIELDS
from helpers.features import ITEM_FIELDS, USER_FIELDS, FieldView
from helpers.metrics import paired_test
from helpers.protocol import Protocol
from helpers.results import load_results
from helpers.sampling import TrainingSampler
from helpers.splits import Split
from helpers.train import TrainConfig, TrainResult, fit

log = logging.getLogger(__name__)

# Field tokens, in the order of the field-attention heatmap.
FIELDS = ("user", "age", "gender", "occupation", "movie", "genres", "year", "history")
USER_SIDE = ("age", "gender", "occupation")  # read from FieldView.user_codes
ITEM_SIDE = ("genres", "year")  # read from FieldView.item_codes


@dataclass
class Histories:
    """Every user's interactions in time order, as the model reads them.

    Attributes:
        sequences: ``(n_users, width)`` int64; row ``u`` contains the user's train
            items oldest first, then the validation item (if any), then padding.
            Padding is ``n_items``, an index no movie has.
        n_train: ``(n_users,)`` number of train interactions per user.
        has_valid: ``(n_users,)`` whether the user has a validation item.
        n_items: number of movies; also the padding index.
    """

    sequences: np.ndarray
    n_train: np.ndarray
    has_valid: np.ndarray
    n_items: int

    @property
    def pad(self) -> int:
        return self.n_items

    def positions_of(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Position of each train interaction ``(user, item)`` in its user's sequence.

        Raises:
            ValueError: a pair is not a train interaction.
        """
        users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
        keys, positions = self._train_lookup()
        wanted = users * (self.n_items + 1) + items
        index = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        found = keys[index] == wanted
        if not found.all():
            bad = int(np.flatnonzero(~found)[0])
            raise ValueError(
                f"(user {users[bad]}, item {items[bad]}) is not a train interaction; "
                "positions exist only for split.train rows"
            )
        return positions[index]

    def _train_lookup(self) -> tuple[np.ndarray, np.ndarray]:
        """Return sorted ``user * (n_items + 1) + item`` train keys, and positions."""
        if getattr(self, "_lookup", None) is None:
            users, positions = np.nonzero(
                np.arange(self.sequences.shape[1]) < self.n_train[:, None]
            )
            keys = users * (self.n_items + 1) + self.sequences[users, positions]
            order = np.argsort(keys)
            self._lookup = (keys[order], positions[order])
        return self._lookup

    def eval_positions(self, users: np.ndarray, target: str) -> np.ndarray:
        """Positions that make the history end just before the held-out ``target``.

        ``"valid"``: every train interaction. ``"test"``: train plus the
        validation interaction. Either way the test item is never included.
        """
        users = np.asarray(users)
        if target == "valid":
            return self.n_train[users].copy()
        if target == "test":
            return self.n_train[users] + self.has_valid[users]
        raise ValueError(f"unknown target {target!r}; expected 'valid' or 'test'")


def build_histories(split: Split) -> Histories:
    """Build the time-ordered train (+ validation) sequence of every user.

    Train rows are ordered by ``timestamp`` with a stable sort, so ratings made
    in the same second keep the split's order. The validation item goes last.
    """
    # NOTE: a history can contain a movie rated in the same second as the example
    # (about 1 in 40 history slots on ML-100K). It counts as earlier by the
    # split's order, the rule that also picks the held-out items.
    train = split.train.sort_values(["user_idx", "timestamp"], kind="stable")
    n_train = np.bincount(train["user_idx"], minlength=split.n_users)
    has_valid = np.zeros(split.n_users, dtype=bool)
    has_valid[split.valid["user_idx"].to_numpy()] = True
    width = int((n_train + has_valid).max()) + 1  # at least one padding column
    sequences = np.full((split.n_users, width), split.n_items, dtype=np.int64)
    users = train["user_idx"].to_numpy()
    starts = np.concatenate([[0], np.cumsum(n_train)[:-1]])
    positions = np.arange(len(train)) - starts[users]
    sequences[users, positions] = train["item_idx"].to_numpy()
    valid_users = split.valid["user_idx"].to_numpy()
    sequences[valid_users, n_train[valid_users]] = split.valid["item_idx"].to_numpy()
    return Histories(sequences, n_train, has_valid, split.n_items)


def history_epoch_data(histories: Histories) -> Callable[[TrainingSampler], tuple]:
    """``epoch_data`` for :func:`helpers.train.fit` with position-aware inputs.

    One row per train interaction: ``(users, items, positions, labels)`` where
    ``items`` is ``(n, 1 + n_negatives)``: the positive first, then negatives
    freshly drawn from the user's unobserved movies. All candidates of a row
    share the row's position, hence the history strictly before the positive.
    ``labels`` has the shape of ``items`` (1 for the positive, 0 otherwise).
    """

    def epoch(sampler: TrainingSampler) -> tuple[np.ndarray, ...]:
        users, positives = sampler.users, sampler.items
        positions = histories.positions_of(users, positives)
        k = sampler.n_negatives
        negatives = sampler.negatives_for(np.repeat(users, k)).reshape(len(users), k)
        items = np.column_stack([positives, negatives])  # (n, 1 + k)
        labels = np.zeros(items.shape, dtype=np.float32)
        labels[:, 0] = 1.0
        order = sampler.rng.permutation(len(users))
        return users[order], items[order], positions[order], labels[order]

    return epoch


class AttentionRecommender(nn.Module):
    """History attention (candidate as query) plus self-attention across fields.

    ``forward(users, items, positions)`` returns logits: ``users`` and
    ``positions`` are ``(batch,)``; ``items`` is ``(batch,)`` or ``(batch, n_cand)``
    and the logits have the shape of ``items``. The logit adds two parts:

    * sequence part: ``item bias + <history summary + user vector, movie vector>``
      with ``dim``-sized vectors, where the summary comes from history attention;
    * field part: ``MLP(fields)``, where ``fields`` are the eight small
      (``field_dim``) field tokens after field attention.

    Args:
        histories: from :func:`build_histories`; stored as a buffer.
        view: field codes of users and movies (``helpers.features``).
        dim: size of the id vectors of the sequence part.
        field_dim: size of each field token (small: it is paid per pair).
        max_history: most recent interactions read per example (the cap).
        heads: heads of the field attention.
        hidden: width of the MLP over the flattened field tokens.
        history_attention: False replaces it by the mean of the history
            vectors (ablation).
        field_attention: False feeds the field tokens to the MLP without
            self-attention (ablation).
        dropout: on field tokens and field-attention outputs during training.
    """

    def __init__(
        self,
        histories: Histories,
        view: FieldView,
        dim: int = 32,
        field_dim: int = 16,
        max_history: int = 50,
        heads: int = 1,
        hidden: int = 32,
        history_attention: bool = True,
        field_attention: bool = True,
        dropout: float = 0.1,
    ):
        super().__init__()
        if field_dim % heads:
            raise ValueError(
                f"field_dim={field_dim} must be divisible by heads={heads}"
            )
        n_users, n_items = histories.sequences.shape[0], histories.n_items
        self.n_items, self.max_history = n_items, max_history
        self.history_attention, self.field_attention = (
            history_attention,
            field_attention,
        )
        self.register_buffer("sequences", torch.as_tensor(histories.sequences))
        user_cols = [USER_FIELDS.index(name) for name in USER_SIDE]
        item_cols = [ITEM_FIELDS.index(name) for name in ITEM_SIDE]
        self.register_buffer(
            "user_codes", torch.as_tensor(view.user_codes[:, user_cols])
        )
        self.register_buffer(
            "item_codes", torch.as_tensor(view.item_codes[:, item_cols])
        )
        self.register_buffer("membership", torch.as_tensor(view.genre_membership()))
        cards = dict(zip(VIEW_FIELDS, view.cardinalities, strict=True))
        # Sequence part; item row n_items is padding (a zero vector, never trained).
        self.user = _table(n_users, dim)
        self.item = _table(n_items + 1, dim, padding_idx=n_items)
        self.item_bias = nn.Embedding(n_items + 1, 1, padding_idx=n_items)
        nn.init.zeros_(self.item_bias.weight)
        self.history = HistoryAttention(dim, max_history)
        # Field part.
        self.field_user = _table(n_users, field_dim)
        self.field_item = _table(n_items, field_dim)
        self.side = nn.ModuleList(_table(cards[name], field_dim) for name in USER_SIDE)
        self.genre = nn.Parameter(
            torch.randn(self.membership.shape[1], field_dim) * 0.05
        )
        self.year = _table(cards["year"], field_dim)
        self.summary_token = nn.Linear(dim, field_dim)
        self.fields = FieldAttention(field_dim, heads, dropout)
        self.mlp = nn.Sequential(
            nn.Linear(len(FIELDS) * field_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )
        self.dropout = nn.Dropout(dropout)

    def recent(self, users: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Return the ``max_history`` items before each position, oldest first.

        Returns:
            ``(batch, max_history)`` item indices; slot ``-1`` is the latest
            interaction before the position, and missing slots are ``n_items``.
        """
        offsets = torch.arange(-self.max_history, 0, device=positions.device)
        index = positions[:, None] + offsets  # (batch, max_history)
        items = self.sequences[users[:, None], index.clamp(min=0)]
        return items.masked_fill(index < 0, self.n_items)

    def field_tokens(self, users, items, summary) -> torch.Tensor:
        """Build field tokens ``(batch, n_cand, len(FIELDS), field_dim)``.

        Args:
            summary: history summaries ``(batch, n_cand, dim)``.
        """
        n_cand = items.shape[1]
        codes = self.user_codes[users]  # (batch, 3): age, gender, occupation
        per_user = [self.field_user(users)]
        per_user += [table(codes[:, i]) for i, table in enumerate(self.side)]
        per_user = torch.stack(per_user, dim=1)[:, None].expand(-1, n_cand, -1, -1)
        codes = self.item_codes[items]  # (batch, n_cand, 2): genres, year
        genres = self.membership[codes[..., 0]] @ self.genre  # (batch, n_cand, f)
        per_item = [self.field_item(items), genres, self.year(codes[..., 1])]
        per_pair = torch.stack(per_item + [self.summary_token(summary)], dim=2)
        return torch.cat([per_user, per_pair], dim=2)

    def score(self, users, items, positions, explain: bool = False):
        """Compute logits ``(batch, n_cand)`` of ``items`` ``(batch, n_cand)``.

        With ``explain=True`` also returns a dict with the history items
        ``recent`` ``(batch, max_history)``, the ``history`` weights
        ``(batch, n_cand, max_history + 1)`` (last column: ``nothing``) and the
        ``fields`` weights ``(batch, n_cand, heads, n_fields, n_fields)`` (None
        without field attention).
        """
        recent = self.recent(users, positions)
        padding = recent == self.n_items
        candidates = self.item(items)  # (batch, n_cand, dim)
        values = self.item(recent)  # (batch, max_history, dim)
        summary, history_weights = self.history(
            candidates, values, padding, attend=self.history_attention
        )
        sequence = self.item_bias(items).squeeze(-1)
        sequence = sequence + ((summary + self.user(users)[:, None]) * candidates).sum(
            -1
        )
        tokens = self.dropout(self.field_tokens(users, items, summary))
        field_weights = None
        if self.field_attention:
            tokens, field_weights = self.fields(tokens, return_weights=explain)
        logits = sequence + self.mlp(tokens.flatten(2)).squeeze(-1)
        if not explain:
            return logits
        return logits, {
            "recent": recent,
            "history": history_weights,
            "fields": field_weights,
        }

    def forward(
        self, users: torch.Tensor, items: torch.Tensor, positions: torch.Tensor
    ):
        if items.dim() == 1:
            return self.score(users, items[:, None], positions)[:, 0]
        return self.score(users, items, positions)


class HistoryAttention(nn.Module):
    """Scaled dot-product attention of a candidate over past movies.

    Keys are the history vectors plus a learned recency vector per slot. A
    learned bias per slot adds a prior on recency that does not depend on the
    candidate. Slot ``max_history`` (appended) is ``nothing``: a learned key
    logit and value, which keeps the softmax defined when every slot is padding.
    """

    def __init__(self, dim: int, max_history: int):
        super().__init__()
        self.query = nn.Linear(dim, dim, bias=False)
        self.recency = nn.Parameter(torch.zeros(max_history, dim))
        self.recency_bias = nn.Parameter(torch.zeros(max_history))
        self.nothing_logit = nn.Parameter(torch.zeros(()))
        self.nothing_value = nn.Parameter(torch.zeros(dim))
        self.scale = 1.0 / math.sqrt(dim)

    def forward(self, query, values, padding, attend: bool = True):
        """Compute the history summary ``(batch, n_cand, dim)`` and the weights.

        Args:
            query: candidate vectors ``(batch, n_cand, dim)``.
            values: history vectors ``(batch, max_history, dim)``.
            padding: ``(batch, max_history)``, True where a slot is padding.
            attend: False gives equal weight to every real slot (mean pooling).

        Returns:
            ``(summary, weights)``; ``weights`` is ``(batch, n_cand,
            max_history + 1)``, its last column the ``nothing`` slot.
        """
        batch, n_cand, _ = query.shape
        if attend:
            keys = values + self.recency  # (batch, max_history, dim)
            logits = torch.einsum("bcd,bld->bcl", self.query(query), keys) * self.scale
            logits = (logits + self.recency_bias).masked_fill(
                padding[:, None], -torch.inf
            )
            nothing = self.nothing_logit.expand(batch, n_cand, 1)
            weights = torch.softmax(torch.cat([logits, nothing], dim=-1), dim=-1)
        else:
            real = (~padding).float()
            count = real.sum(-1, keepdim=True)
            mean = real / count.clamp(min=1.0)
            weights = torch.cat([mean, (count == 0).float()], dim=-1)[:, None]
            weights = weights.expand(batch, n_cand, -1)
        summary = torch.einsum("bcl,bld->bcd", weights[..., :-1], values)
        return summary + weights[..., -1:] * self.nothing_value, weights


class FieldAttention(nn.Module):
    """One pre-norm multi-head self-attention block over field tokens, with residual.

    The softmax runs over a middle axis (keys) rather than the last one: with
    eight fields that layout is several times faster on CPU than the usual
    ``(..., heads, queries, keys)`` one, and the result is the same.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.scale = 1.0 / math.sqrt(dim // heads)

    def forward(self, tokens: torch.Tensor, return_weights: bool = False):
        """Mix tokens ``(..., n_fields, dim)`` into the same shape.

        Returns:
            ``(tokens, weights)``. With ``return_weights``, ``weights`` is
            ``(..., heads, n_fields, n_fields)`` (query field, key field, rows
            sum to 1), else None.
        """
        *lead, n_fields, dim = tokens.shape
        flat = self.norm(tokens.reshape(-1, n_fields, dim))
        qkv = self.qkv(flat).reshape(-1, n_fields, 3, self.heads, dim // self.heads)
        q, k, v = qkv.unbind(2)  # each (pairs, n_fields, heads, dim / heads)
        logits = (
            torch.einsum("njhd,nihd->njih", k, q) * self.scale
        )  # (pairs, key, query, heads)
        weights = torch.softmax(logits, dim=1)
        mixed = torch.einsum("njih,njhd->nihd", weights, v).reshape(tokens.shape)
        tokens = tokens + self.dropout(self.out(mixed))
        if not return_weights:
            return tokens, None
        weights = weights.permute(0, 3, 2, 1).reshape(
            *lead, self.heads, n_fields, n_fields
        )
        return tokens, weights


def _table(count: int, dim: int, padding_idx: int | None = None) -> nn.Embedding:
    table = nn.Embedding(count, dim, padding_idx=padding_idx)
    nn.init.normal_(table.weight, std=0.05)
    if padding_idx is not None:
        with torch.no_grad():
            table.weight[padding_idx].zero_()
    return table


def attention_model(
    histories: Histories, view: FieldView, **kwargs
) -> AttentionRecommender:
    """Build an :class:`AttentionRecommender` for ``histories`` and ``view``."""
    return AttentionRecommender(histories, view, **kwargs)


def history_scorer(
    model: AttentionRecommender,
    histories: Histories,
    target: str = "test",
    batch_users: int = 32,
) -> Scorer:
    """Return a scorer of every movie, each history ending before ``target``.

    Returns:
        A function mapping user indices ``(n,)`` to logits ``(n, n_items)``.
    """

    @torch.no_grad()
    def score(users: np.ndarray) -> np.ndarray:
        model.eval()
        device = model.sequences.device
        all_items = torch.arange(histories.n_items, device=device)
        blocks = []
        for start in range(0, len(users), batch_users):
            chunk = np.asarray(users[start : start + batch_users])
            positions = histories.eval_positions(chunk, target)
            items = all_items.expand(len(chunk), -1)  # (chunk, n_items)
            logits = model.score(
                _tensor(chunk, device), items, _tensor(positions, device)
            )
            blocks.append(logits.float().cpu().numpy())
        return np.concatenate(blocks)

    return score


def candidate_scorer(
    model: AttentionRecommender,
    histories: Histories,
    split: Split,
    candidates: np.ndarray,
    target: str = "valid",
) -> Scorer:
    """Return a scorer of each user's sampled candidates (other movies get -inf).

    Ranking 100 candidates instead of every movie makes the per-epoch
    validation of :func:`helpers.train.fit` about 17 times cheaper. Only its
    sampled metrics mean anything; use :func:`history_scorer` for full ranking.
    """
    held_out_users = getattr(split, target)["user_idx"].to_numpy()
    row_of = np.full(split.n_users, -1)
    row_of[held_out_users] = np.arange(len(held_out_users))

    @torch.no_grad()
    def score(users: np.ndarray) -> np.ndarray:
        model.eval()
        device = model.sequences.device
        rows = candidates[row_of[np.asarray(users)]]  # (n, n_cand)
        positions = histories.eval_positions(users, target)
        logits = model.score(
            _tensor(users, device), _tensor(rows, device), _tensor(positions, device)
        )
        out = np.full((len(users), histories.n_items), -np.inf)
        np.put_along_axis(out, rows, logits.double().cpu().numpy(), axis=1)
        return out

    return score


def _tensor(values, device) -> torch.Tensor:
    return torch.tensor(np.asarray(values), dtype=torch.long, device=device)  # a copy


# ---------------------------------------------------------------- training runs

# Variants compared in notebook 04, the slowest to train first.
VARIANTS = {
    "Attention": {"history_attention": True, "field_attention": True},
    "Field attention only": {"history_attention": False, "field_attention": True},
    "History attention only": {"history_attention": True, "field_attention": False},
    "No attention (mean pooling)": {
        "history_attention": False,
        "field_attention": False,
    },
}


@dataclass
class AttentionRun:
    """One trained variant on one seed: model, training log, per-user test metrics."""

    name: str
    seed: int
    model: AttentionRecommender
    result: TrainResult
    per_user: pd.DataFrame
    seconds: float


def train_attention(
    protocol: Protocol,
    histories: Histories,
    view: FieldView,
    variant: str,
    seed: int,
    config: TrainConfig,
    device=None,
    **model_kwargs,
) -> AttentionRun:
    """Train one variant of :data:`VARIANTS` and evaluate it on the test items.

    Training reads the strictly-earlier history of each example, validation
    (early stopping, sampled NDCG@k) the train history, and the test scores
    train plus validation history, with every movie ranked for the full protocol.
    """
    if variant not in VARIANTS:
        raise ValueError(
            f"unknown variant {variant!r}; expected one of {list(VARIANTS)}"
        )
    started = time.perf_counter()
    rng = seed_everything(seed)
    split = protocol.split
    model = attention_model(histories, view, **VARIANTS[variant], **model_kwargs)
    model.to(get_device(device))
    result = fit(
        model,
        split,
        protocol.valid_candidates,
        config,
        rng,
        device=device,
        epoch_data=history_epoch_data(histories),
        scorer=candidate_scorer(model, histories, split, protocol.valid_candidates),
        name=f"{variant} seed {seed}",
    )
    per_user = evaluate(
        history_scorer(model, histories, "test"),
        split,
        protocol.test_candidates,
        config.k,
        "test",
    )
    return AttentionRun(
        variant, seed, model, result, per_user, time.perf_counter() - started
    )


def run_jobs(jobs: Sequence[tuple[Callable, tuple, dict]], workers: int = 1) -> list:
    """Run independent training jobs ``fn(*args, **kwargs)`` in job order.

    With ``workers > 1`` each job runs in a fresh (spawned) process limited to
    one torch thread. On a two-core machine two single-threaded trainings side
    by side finish sooner than one after the other with two threads each,
    because these models run many small tensor operations that barely use a
    second thread. Jobs must be importable functions with picklable arguments.
    """
    if workers <= 1:
        return [fn(*args, **kwargs) for fn, args, kwargs in jobs]
    # NOTE: the gain of two workers over one two-threaded process was estimated
    # from per-run CPU times on a busy machine, not measured on an idle one.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_one_thread
    ) as pool:
        futures = [pool.submit(fn, *args, **kwargs) for fn, args, kwargs in jobs]
        return [future.result() for future in futures]


def train_with_neumf(protocol: Protocol, histories: Histories, view: FieldView,
                     seeds: Sequence[int], config: TrainConfig, sizes: dict,
                     quick: bool = False, progress: bool = False,
                     workers: int = 1) -> tuple[list, list[AttentionRun]]:  # fmt: skip
    """Train every variant of :data:`VARIANTS` and NeuMF on ``seeds``.

    Args:
        sizes: keyword arguments of :class:`AttentionRecommender` (``dim``, ...).
        quick: passed to :func:`helpers.recipes.train_neumf` (two epochs).
        workers: processes side by side (see :func:`run_jobs`).

    Returns:
        ``(neumf_runs, attention_runs)``: :class:`helpers.recipes.Run` per seed,
        and :class:`AttentionRun` per variant and seed (variant-major).
    """
    from helpers.recipes import train_neumf  # the recipes import the baselines

    # NOTE: train_neumf trains GMF, MLP, NeuMF and a NeuMF without pre-training on
    # each seed, and only NeuMF is kept here: roughly 15% of its time is discarded.

    jobs = [(train_neumf, (protocol, seed, quick, progress), {}) for seed in seeds]
    jobs += [
        (train_attention, (protocol, histories, view, variant, seed, config), sizes)
        for variant in VARIANTS
        for seed in seeds
    ]
    done = run_jobs(jobs, workers)
    return [run for _, run in done[: len(seeds)]], done[len(seeds) :]


def runs_table(
    attention_runs: Sequence[AttentionRun], neumf_runs: Sequence
) -> pd.DataFrame:
    """Tabulate each run: best epoch, its validation NDCG@10, seconds, throughput."""
    rows = [
        {"model": r.name, "seed": r.seed, "best epoch": r.result.best_epoch,
         "valid NDCG@10": r.result.best_score, "seconds": r.seconds,
         "examples/s": r.result.samples_per_second}
        for r in attention_runs
    ]  # fmt: skip
    rows += [
        {
            "model": "NeuMF",
            "seed": r.seed,
            "best epoch": r.best_epoch,
            "seconds": r.seconds,
        }
        for r in neumf_runs
    ]
    return pd.DataFrame(rows)


def training_curves(
    attention_runs: Sequence[AttentionRun], neumf_runs: Sequence
) -> pd.DataFrame:
    """Stack every run's per-epoch history, with ``model`` and ``seed`` columns."""
    frames = [
        r.result.history.assign(model=r.name, seed=r.seed) for r in attention_runs
    ]
    frames += [r.history.assign(model="NeuMF", seed=r.seed) for r in neumf_runs]
    return pd.concat(frames, ignore_index=True)


def paired_comparisons(
    grouped: dict[str, list[pd.DataFrame]], pairs: Sequence[tuple[str, str, str]]
) -> dict[str, dict]:
    """Run paired tests over users for ``(model, other, column)`` triples.

    Each user's value of ``column`` is averaged over the model's seeds first
    (:func:`helpers.evaluation.mean_per_user`).

    Returns:
        ``{"<model> vs <other> (<column>)": {"metric", "test", "p_value",
        "wilcoxon_p_value", "mean_difference"}}`` as in the results files.
    """
    out = {}
    for ours, theirs, column in pairs:
        a, b = (
            mean_per_user(grouped[name])[column].to_numpy() for name in (ours, theirs)
        )
        test = paired_test(a, b)
        out[f"{ours} vs {theirs} ({column})"] = {
            "metric": column, "test": "paired t-test over users",
            "p_value": test["t_p_value"], "wilcoxon_p_value": test["wilcoxon_p_value"],
            "mean_difference": test["mean_difference"],
        }  # fmt: skip
    return out


def _one_thread() -> None:
    """Limit a worker process (not the parent) to one intra-op torch thread."""
    torch.set_num_threads(1)


# ---------------------------------------------------------------- reading the weights


def history_weights(
    model: AttentionRecommender,
    histories: Histories,
    users: np.ndarray,
    items: np.ndarray,
    target: str = "test",
) -> pd.DataFrame:
    """Return the weight of each past movie when ``model`` scores a candidate.

    Args:
        users: ``(n,)`` user indices.
        items: ``(n,)`` candidates; ``items[i]`` is scored for ``users[i]``.

    Returns:
        Long frame, one row per (pair, real history slot, plus ``nothing``):
        ``user_idx, item_idx`` (the candidate), ``steps_back`` (1 = the latest
        movie before the target; 0 for ``nothing``), ``past_idx`` (-1 for
        ``nothing``) and ``weight``. Padded slots (weight exactly 0) are left out.
    """
    users, items = np.asarray(users), np.asarray(items)
    device = model.sequences.device
    positions = histories.eval_positions(users, target)
    with torch.no_grad():
        model.eval()
        _, info = model.score(
            _tensor(users, device),
            _tensor(items[:, None], device),
            _tensor(positions, device),
            explain=True,
        )
    recent = info["recent"].cpu().numpy()  # (n, max_history)
    weights = info["history"][:, 0].cpu().numpy()  # (n, max_history + 1)
    n, width = recent.shape
    past = np.column_stack([recent, np.full(n, -1)])
    steps = np.tile(np.append(np.arange(width, 0, -1), 0), (n, 1))
    frame = pd.DataFrame(
        {
            "user_idx": np.repeat(users, width + 1),
            "item_idx": np.repeat(items, width + 1),
            "steps_back": steps.ravel(),
            "past_idx": past.ravel(),
            "weight": weights.ravel(),
        }
    )
    return frame[frame["past_idx"] != histories.pad].reset_index(drop=True)


def field_attention_map(
    model: AttentionRecommender,
    histories: Histories,
    users: np.ndarray,
    candidates: np.ndarray,
    target: str = "test",
) -> pd.DataFrame:
    """Average the field-to-field attention over users, candidates and heads.

    Args:
        users: ``(n,)`` user indices.
        candidates: ``(n, n_cand)`` movies scored for each user.

    Returns:
        ``(n_fields, n_fields)`` frame: row = the field that looks, column = the
        field it looks at; each row sums to 1.
    """
    device = model.sequences.device
    positions = histories.eval_positions(users, target)
    total = torch.zeros(len(FIELDS), len(FIELDS))
    with torch.no_grad():
        model.eval()
        for start in range(0, len(users), 64):
            rows = slice(start, start + 64)
            _, info = model.score(
                _tensor(users[rows], device),
                _tensor(candidates[rows], device),
                _tensor(positions[rows], device),
                explain=True,
            )
            if info["fields"] is None:
                raise ValueError(
                    "this model has no field attention (field_attention=False)"
                )
            total += info["fields"].sum(dim=(0, 1, 2)).cpu()  # over users, cands, heads
    total /= total.sum(dim=1, keepdim=True)
    return pd.DataFrame(total.numpy(), index=list(FIELDS), columns=list(FIELDS))


def recency_profile(weights: pd.DataFrame, max_steps: int = 20) -> pd.DataFrame:
    """Average the weight per ``steps_back`` (1..``max_steps``, 0 = ``nothing``)."""
    n_pairs = weights[["user_idx", "item_idx"]].drop_duplicates().shape[0]
    kept = weights[weights["steps_back"] <= max_steps]
    mean = kept.groupby("steps_back")["weight"].sum() / n_pairs
    return mean.rename("mean weight").reset_index()


# ---------------------------------------------------------------- plots and tables


def plot_history_attention(
    weights: pd.DataFrame,
    titles: Sequence[str],
    top: int = 8,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Draw the ``top`` past movies by weight for one (user, candidate) as bars.

    Args:
        weights: rows of :func:`history_weights` for a single pair.
        titles: movie title of each item index.
    """
    ax = ax or plt.subplots(figsize=(6, 3.2), layout="constrained")[1]
    shown = weights.nlargest(top, "weight").iloc[::-1]
    labels = [
        "(nothing relevant)" if past < 0 else f"{_short(titles[past])}  [{steps} back]"
        for past, steps in zip(shown["past_idx"], shown["steps_back"], strict=True)
    ]
    ax.barh(labels, shown["weight"], color="tab:blue")
    ax.set(xlabel="attention weight", xlim=(0, max(0.05, shown["weight"].max() * 1.1)))
    return ax


def plot_field_attention(matrix: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Draw :func:`field_attention_map` as a heatmap with the weights in the cells."""
    ax = ax or plt.subplots(figsize=(5.5, 4.6), layout="constrained")[1]
    image = ax.imshow(matrix.to_numpy(), cmap="Blues", vmin=0)
    ax.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=45, ha="right")
    ax.set_yticks(range(len(matrix.index)), matrix.index)
    for (row, col), value in np.ndenumerate(matrix.to_numpy()):
        ax.text(
            col,
            row,
            f"{value:.2f}",
            ha="center",
            va="center",
            fontsize=7,
            color="white" if value > 0.6 * matrix.to_numpy().max() else "black",
        )
    ax.grid(False)
    ax.set(xlabel="field attended to", ylabel="field attending")
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label="mean attention weight")
    return ax


def plot_model_metrics(
    metrics: dict, protocol: str, ax: plt.Axes | None = None
) -> plt.Axes:
    """Draw mean HR@10 and NDCG@10 per model as bars, with the std over seeds.

    Args:
        metrics: ``{model: {protocol: {metric: {"mean", "std", ...}}}}``.
        protocol: ``"sampled"`` or ``"full"``.
    """
    ax = ax or plt.subplots(figsize=(6, 3.6), layout="constrained")[1]
    names = list(metrics)
    for offset, metric in ((-0.2, "HR@10"), (0.2, "NDCG@10")):
        values = [metrics[name][protocol][metric] for name in names]
        ax.barh(np.arange(len(names)) + offset, [v["mean"] for v in values], height=0.4,
                xerr=[v["std"] for v in values], label=metric)  # fmt: skip
    ax.set_yticks(range(len(names)), names)
    ends = [  # bar ends; the x range leaves room on the right for the legend
        values[protocol][metric]["mean"] + values[protocol][metric]["std"]
        for values in metrics.values()
        for metric in ("HR@10", "NDCG@10")
    ]
    ax.set(xlabel=f"{protocol} metric on the test items", xlim=(0, 1.35 * max(ends)))
    ax.legend(loc="lower right")
    return ax


def describe_attention(weights: pd.DataFrame, titles: Sequence[str], split: Split,
                       users: pd.DataFrame, top: int = 3) -> list[str]:  # fmt: skip
    """Describe each (user, candidate) of :func:`history_weights` in one sentence.

    Args:
        users: ML-100K user table (``user_id, age, occupation``).
    """
    people = users.set_index("user_id")
    lines = []
    for (user, item), rows in weights.groupby(["user_idx", "item_idx"], sort=False):
        raw = int(split.users.to_id(user))
        best = rows[rows["past_idx"] >= 0].nlargest(top, "weight")
        named = ", ".join(
            f"“{titles[i]}” ({w:.0%}, {s} back)"
            for i, w, s in zip(
                best["past_idx"], best["weight"], best["steps_back"], strict=True
            )
        )
        person = people.loc[raw]
        lines.append(f"User {raw} ({person['age']}, {person['occupation']}): for "
                     f"“{titles[item]}” the model leans on {named}.")  # fmt: skip
    return lines


def movie_titles(data: MovieLens, split: Split) -> list[str]:
    """``"Title (year)"`` of every item index of ``split``."""
    items = data.items.set_index("item_id").loc[split.items.ids]
    return [
        f"{title} ({year})" if pd.notna(year) else str(title)
        for title, year in zip(items["title"], items["year"], strict=True)
    ]


def _short(title: str, width: int = 38) -> str:
    return title if len(title) <= width else title[: width - 1] + "…"


TABLE_COLUMNS = ("sampled HR@10", "sampled NDCG@10", "full HR@10", "full NDCG@10")


def all_models_table(
    own: dict,
    own_notebook: str,
    results_dir,
    others: Sequence[str] = ("01_neumf", "02_explainability"),
    quick: bool = False,
) -> pd.DataFrame:
    """Tabulate the mean test metrics of every model of ``others`` and this one.

    Reads ``<results_dir>/<notebook>.json`` of the other notebooks when present.
    A file recorded in quick mode is skipped unless ``quick`` is True, so a full
    run never mixes in quick-mode numbers.

    Args:
        own: this notebook's ``{model: {protocol: {metric: {"mean", ...}}}}``.

    Returns:
        One row per model: ``model, notebook`` and the columns of
        :data:`TABLE_COLUMNS` (NaN where a notebook did not record a metric).
    """
    sources = []
    for notebook in others:
        try:
            recorded = load_results(notebook, results_dir)
        except FileNotFoundError:
            log.info("no results of %s yet; the table leaves it out", notebook)
            continue
        if recorded.get("quick") and not quick:
            log.warning(
                "%s was recorded in quick mode; the table leaves it out", notebook
            )
            continue
        sources.append((notebook, recorded["metrics"]))
    sources.append((own_notebook, own))
    rows = []
    for notebook, metrics in sources:
        for model, protocols in metrics.items():
            row = {"model": model, "notebook": notebook}
            for column in TABLE_COLUMNS:
                protocol, metric = column.split(" ")
                value = protocols.get(protocol, {}).get(metric, {}).get("mean")
                row[column] = np.nan if value is None else value
            rows.append(row)
    return pd.DataFrame(rows)


def audit_histories(
    model: AttentionRecommender, histories: Histories, split: Split
) -> dict[str, int]:
    """Count history slots of training examples that leak, using timestamps.

    Independent of how :meth:`AttentionRecommender.recent` builds a history,
    this looks up the timestamp of every movie in every training example's
    history and counts the slots that contain the example's own movie, a movie
    rated later, or a validation or test movie. All three must be 0. Movies
    rated in the same second as the example are counted too (they are earlier
    by the split's order, which also decides the held-out items).
    """
    train = split.train
    users = train["user_idx"].to_numpy()
    own = train["item_idx"].to_numpy()
    positions = histories.positions_of(users, own)
    with torch.no_grad():
        device = model.sequences.device
        recent = (
            model.recent(_tensor(users, device), _tensor(positions, device))
            .cpu()
            .numpy()
        )
    filled = recent != histories.pad
    width = histories.n_items + 1
    times = pd.Series(train["timestamp"].to_numpy(), index=users * width + own)
    past_times = times.reindex((users[:, None] * width + recent)[filled]).to_numpy()
    own_times = np.broadcast_to(train["timestamp"].to_numpy()[:, None], recent.shape)[
        filled
    ]
    held_out = pd.concat([split.valid, split.test])
    held_keys = (
        held_out["user_idx"].to_numpy() * width + held_out["item_idx"].to_numpy()
    )
    past_keys = (users[:, None] * width + recent)[filled]
    return {
        "training examples": len(users),
        "history slots filled": int(filled.sum()),
        "own movie": int((recent == own[:, None]).sum()),
        "rated later": int(np.sum(past_times > own_times)),
        "validation or test movie": int(np.isin(past_keys, held_keys).sum()),
        "not a train interaction": int(np.isnan(past_times.astype(float)).sum()),
        "rated in the same second": int(np.sum(past_times == own_times)),
    }
