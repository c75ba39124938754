"""A field view of (user, movie) pairs and a recommender that reads it.

Every pair becomes one row of ``N_FIELDS`` label-encoded fields (user id, age
bucket, gender, occupation, zip region, activity bucket, movie id, genre set,
release-year bucket, popularity bucket). The same integer rows feed training,
ranking and the explainers, so LIME, SHAP and Captum explain the same inputs
in the same units: one attribution per field.

Baseline: every field has one extra category, ``unknown``, whose index equals
the number of real categories (``FieldView.baseline_row()``). Missing values
(a movie without a year or a genre) use it too. :class:`FieldRecommender`
replaces random fields by ``unknown`` during training (field dropout), so the
model learns what to predict without a field and ``unknown`` means "this field
says nothing" rather than an untrained vector.

Statistics that depend on interactions (user activity, movie popularity) come
from the training part of the split only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from helpers.data import MovieLens
from helpers.evaluation import Scorer, evaluate
from helpers.protocol import Protocol
from helpers.sampling import TrainingSampler
from helpers.splits import Split
from helpers.train import TrainConfig, TrainResult, fit

log = logging.getLogger(__name__)

USER_FIELDS = ("user", "age", "gender", "occupation", "region", "activity")
ITEM_FIELDS = ("movie", "genres", "year", "popularity")
FIELDS = USER_FIELDS + ITEM_FIELDS
N_FIELDS = len(FIELDS)
UNKNOWN = "unknown"

# Bucket edges (left-closed) and their labels. Age buckets follow the ones
# GroupLens used for ML-1M; the other edges are set by hand so that on ML-100K
# every bucket contains at least 36 users or 46 movies, except the 4 movies without
# a training rating.
AGE_EDGES = (18, 25, 35, 45, 50, 56)
AGE_LABELS = ("under 18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+")
YEAR_EDGES = (1960, 1970, 1980, 1990, 1995, 1996, 1997, 1998)
YEAR_LABELS = ("before 1960", "1960s", "1970s", "1980s", "1990-94", "1995", "1996",
               "1997", "1998")  # fmt: skip
POPULARITY_EDGES = (1, 5, 20, 50, 100, 200)
POPULARITY_LABELS = ("no ratings", "1-4 ratings", "5-19 ratings", "20-49 ratings",
                     "50-99 ratings", "100-199 ratings", "200+ ratings")  # fmt: skip
ACTIVITY_EDGES = (25, 50, 100, 200)
ACTIVITY_LABELS = ("under 25 ratings", "25-49 ratings", "50-99 ratings",
                   "100-199 ratings", "200+ ratings")  # fmt: skip
# Fields whose categories are ordered (their code can colour a plot).
ORDINAL_FIELDS = ("age", "activity", "year", "popularity")
# Sentence phrase of each field ("{}" is replaced by the category's label). The
# id fields read as rating histories because their vectors are learned from them.
PHRASES = {
    "user": "their rating history", "age": "age {}", "gender": "gender {}",
    "occupation": "occupation {}", "region": "living in {}", "activity": "having {}",
    "movie": "the movie's rating history", "genres": "genres {}",
    "year": "release {}", "popularity": "popularity {}",
}  # fmt: skip
GENDER_WORDS = {"F": "woman", "M": "man"}


def bucketize(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Bucket of each value: 0 below ``edges[0]``, ``len(edges)`` from the last edge."""
    return np.searchsorted(np.asarray(edges), np.asarray(values), side="right")


@dataclass
class FieldView:
    """Label-encoded fields of every user and every movie of a split.

    Attributes:
        labels: per field, the readable name of each category; the last entry
            of every list is ``"unknown"``, the baseline category.
        user_codes: ``(n_users, len(USER_FIELDS))`` int64 codes, rows by ``user_idx``.
        item_codes: ``(n_items, len(ITEM_FIELDS))`` int64 codes, rows by ``item_idx``.
        genre_sets: genre tuple of each ``genres`` category except ``unknown``.
        genre_names: the genres, in the order of the model's genre table.
    """

    labels: dict[str, list[str]]
    user_codes: np.ndarray
    item_codes: np.ndarray
    genre_sets: list[tuple[str, ...]]
    genre_names: list[str]

    @property
    def cardinalities(self) -> list[int]:
        """Number of categories per field, ``unknown`` included."""
        return [len(self.labels[name]) for name in FIELDS]

    def category_names(self) -> dict[int, list[str]]:
        """Per field index, the label of each code (LIME's ``categorical_names``)."""
        return {i: self.labels[name] for i, name in enumerate(FIELDS)}

    def baseline_row(self) -> np.ndarray:
        """Return the all-``unknown`` row, shape ``(N_FIELDS,)``."""
        return np.asarray(self.cardinalities, dtype=np.int64) - 1

    def rows(self, user_idx, item_idx) -> np.ndarray:
        """Rows of (user, movie) pairs: int64 ``(n, N_FIELDS)``, ``FIELDS`` order."""
        user_idx, item_idx = np.asarray(user_idx), np.asarray(item_idx)
        if user_idx.shape != item_idx.shape:
            raise ValueError(
                f"user and item shapes differ: {user_idx.shape} vs {item_idx.shape}"
            )
        return np.concatenate(
            [self.user_codes[user_idx], self.item_codes[item_idx]], axis=-1
        )

    def pairs(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`rows`: ``(user_idx, item_idx)`` of real field rows.

        Raises:
            ValueError: a row is not the field row of any real pair (for example
                a perturbed row or one holding ``unknown``).
        """
        rows = np.asarray(rows)
        users, items = rows[:, FIELDS.index("user")], rows[:, FIELDS.index("movie")]
        n_users, n_items = len(self.user_codes), len(self.item_codes)
        bad = (users < 0) | (users >= n_users) | (items < 0) | (items >= n_items)
        if not bad.any():
            bad = np.any(self.rows(users, items) != rows, axis=1)
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"row {index} ({rows[index].tolist()}) is not the field row of a real "
                "(user, movie) pair; build rows with FieldView.rows"
            )
        return users, items

    def check_rows(self, rows: np.ndarray) -> None:
        """Raise ``ValueError`` unless every entry is a valid category of its field."""
        rows = np.asarray(rows)
        if rows.ndim != 2 or rows.shape[1] != N_FIELDS:
            raise ValueError(
                f"expected rows of shape (n, {N_FIELDS}), got {rows.shape}"
            )
        if not np.array_equal(rows, np.round(rows)):
            raise ValueError("field rows must hold integer category codes")
        high = np.asarray(self.cardinalities)
        bad = (rows < 0) | (rows >= high)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise ValueError(
                f"row {row}: field {FIELDS[col]!r} has code {rows[row, col]}, "
                f"allowed 0..{high[col] - 1}"
            )

    def describe(self, row: np.ndarray) -> dict[str, str]:
        """Readable value of each field of a row, e.g. ``{"gender": "F"}``."""
        return {
            name: self.labels[name][int(code)]
            for name, code in zip(FIELDS, row, strict=True)
        }

    def phrases(self, row: np.ndarray) -> list[str]:
        """Per field, how its value reads in a sentence (order ``FIELDS``)."""
        out = []
        for name, label in self.describe(row).items():
            out.append(
                f"{name} unknown" if label == UNKNOWN else PHRASES[name].format(label)
            )
        return out

    def who(self, row: np.ndarray) -> str:
        """Describe the user of a row, e.g. ``"user 405 (25-34, man, engineer)"``."""
        d = self.describe(row)
        gender = GENDER_WORDS.get(d["gender"], d["gender"])
        return f"user {d['user']} ({d['age']}, {gender}, {d['occupation']})"

    def genre_membership(self) -> np.ndarray:
        """``(n_genre_categories, n_genres + 1)`` float32 weights for the genre bag.

        A genre set's row averages its genres; the ``unknown`` row points at the
        extra last column, a vector of its own.
        """
        n_genres = len(self.genre_names)
        out = np.zeros((len(self.genre_sets) + 1, n_genres + 1), dtype=np.float32)
        position = {g: i for i, g in enumerate(self.genre_names)}
        for row, genres in enumerate(self.genre_sets):
            out[row, [position[g] for g in genres]] = 1.0 / len(genres)
        out[-1, -1] = 1.0
        return out

    def ordinal_values(self, rows: np.ndarray) -> np.ndarray:
        """Float copy of ``rows`` with nominal fields and ``unknown`` set to NaN.

        For plots coloured by field value: only ordered fields keep their code.
        """
        out = np.asarray(rows, dtype=np.float64).copy()
        baseline = self.baseline_row()
        for col, name in enumerate(FIELDS):
            if name not in ORDINAL_FIELDS:
                out[:, col] = np.nan
            else:
                out[out[:, col] == baseline[col], col] = np.nan
        return out


def _encode(values: pd.Series, categories: list[str]) -> np.ndarray:
    """Codes of ``values`` in ``categories``; missing or unseen ones -> ``unknown``."""
    lookup = {c: i for i, c in enumerate(categories)}
    return np.asarray([lookup.get(v, len(categories)) for v in values], dtype=np.int64)


def _zip_region(zip_code: str) -> str:
    zip_code = str(zip_code)
    return f"zip {zip_code[0]}xxxx" if zip_code[:1].isdigit() else "outside the US"


def build_field_view(data: MovieLens, split: Split) -> FieldView:
    """Encode the users and movies of ``split`` with side information from ``data``.

    Args:
        data: ML-100K as loaded by :func:`helpers.data.load_movielens` (needs
            ``users`` with age, gender, occupation and zip code).
        split: the protocol's split; activity and popularity count its train part.

    Returns:
        A :class:`FieldView` whose rows follow ``split``'s user and item indices.
    """
    if data.users is None:
        raise ValueError(f"{data.name} has no user table; the field view needs ML-100K")
    users = data.users.set_index("user_id").loc[split.users.ids]
    items = data.items.set_index("item_id").loc[split.items.ids]
    activity = np.bincount(split.train["user_idx"], minlength=split.n_users)
    popularity = np.bincount(split.train["item_idx"], minlength=split.n_items)
    user_codes, user_labels = _user_fields(users, activity)
    item_codes, item_labels, genre_sets = _item_fields(items, popularity)
    labels = {
        name: values + [UNKNOWN]
        for name, values in {**user_labels, **item_labels}.items()
    }
    genre_names = sorted({g for key in genre_sets for g in key})
    view = FieldView(labels, user_codes, item_codes, genre_sets, genre_names)
    view.check_rows(view.rows(np.zeros(1, int), np.zeros(1, int)))
    cardinalities = dict(zip(FIELDS, view.cardinalities, strict=True))
    log.info("field view: %d fields, cardinalities %s", N_FIELDS, cardinalities)
    return view


def _user_fields(users: pd.DataFrame, activity: np.ndarray):
    """Codes ``(n_users, len(USER_FIELDS))`` and category labels of the user fields."""
    regions = pd.Series([_zip_region(z) for z in users["zip_code"]])
    labels = {
        "user": [str(u) for u in users.index],
        "age": list(AGE_LABELS),
        "gender": sorted(users["gender"].astype(str).unique()),
        "occupation": sorted(users["occupation"].astype(str).unique()),
        "region": sorted(regions.unique()),
        "activity": list(ACTIVITY_LABELS),
    }
    codes = np.column_stack([
        np.arange(len(users)),
        bucketize(users["age"].to_numpy(), AGE_EDGES),
        _encode(users["gender"].astype(str), labels["gender"]),
        _encode(users["occupation"].astype(str), labels["occupation"]),
        _encode(regions, labels["region"]),
        bucketize(activity, ACTIVITY_EDGES),
    ]).astype(np.int64)  # fmt: skip
    return codes, labels


def _item_fields(items: pd.DataFrame, popularity: np.ndarray):
    """Codes ``(n_items, len(ITEM_FIELDS))``, labels and genre sets of the movie fields.

    A movie without genres or without a year gets ``unknown`` in that field.
    """
    genre_keys = [tuple(sorted(g)) if len(g) else None for g in items["genres"]]
    genre_sets = sorted({key for key in genre_keys if key is not None})
    genre_lookup = {key: i for i, key in enumerate(genre_sets)}
    years = items["year"].to_numpy(dtype=float, na_value=np.nan)
    codes = np.column_stack([
        np.arange(len(items)),
        [genre_lookup.get(key, len(genre_sets)) for key in genre_keys],
        np.where(np.isnan(years), len(YEAR_LABELS), bucketize(years, YEAR_EDGES)),
        bucketize(popularity, POPULARITY_EDGES),
    ]).astype(np.int64)  # fmt: skip
    titles = [
        f"{t} ({y})" if pd.notna(y) else str(t)
        for t, y in zip(items["title"], items["year"], strict=True)
    ]
    labels = {
        "movie": titles,
        "genres": ["|".join(key) for key in genre_sets],
        "year": list(YEAR_LABELS),
        "popularity": list(POPULARITY_LABELS),
    }
    return codes, labels, genre_sets


class FieldRecommender(nn.Module):
    """Factorisation machine plus MLP over label-encoded fields.

    ``forward(fields)`` maps an int64 ``(batch, N_FIELDS)`` field matrix to one
    logit per row. It is split in two so that gradient methods can work on the
    embeddings: :meth:`embed` gives ``(batch, N_FIELDS, dim + 1)`` vectors (the
    last coordinate is the field's first-order weight) and :meth:`head` turns
    them into logits. The genre field is an embedding bag: the mean of the
    vectors of the movie's genres.

    Args:
        cardinalities: categories per field, ``unknown`` (the last) included.
        genre_membership: from :meth:`FieldView.genre_membership`.
        dim: embedding size per field.
        hidden: widths of the MLP layers.
        field_dropout: training-time probability of replacing a field by
            ``unknown``; 0 in eval mode.
        active: names of the fields the model may read; the others are always
            ``unknown`` (``("user", "movie")`` gives the ids-only ablation).
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        genre_membership: np.ndarray,
        dim: int = 16,
        hidden: Sequence[int] = (64, 32),
        field_dropout: float = 0.1,
        active: Sequence[str] | None = None,
    ):
        super().__init__()
        if len(cardinalities) != N_FIELDS:
            raise ValueError(
                f"expected {N_FIELDS} cardinalities, got {len(cardinalities)}"
            )
        unknown_fields = [f for f in (active or ()) if f not in FIELDS]
        if unknown_fields:
            raise ValueError(f"unknown fields {unknown_fields}; allowed {FIELDS}")
        self.dim, self.field_dropout = dim, field_dropout
        self.genre_col = FIELDS.index("genres")
        counts = torch.as_tensor(cardinalities, dtype=torch.long)
        self.register_buffer("unknown", counts - 1)
        self.register_buffer("offsets", torch.cumsum(counts, 0) - counts)
        self.register_buffer("membership", torch.as_tensor(genre_membership))
        active_mask = [name in (active or FIELDS) for name in FIELDS]
        self.register_buffer("active", torch.as_tensor(active_mask))
        self.table = nn.Embedding(int(counts.sum()), dim + 1)
        self.genre_table = nn.Parameter(torch.empty(genre_membership.shape[1], dim + 1))
        widths = [N_FIELDS * dim, *hidden]
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(width_in, width_out), nn.ReLU()]
        self.mlp = nn.Sequential(*layers, nn.Linear(widths[-1], 1))
        self.bias = nn.Parameter(torch.zeros(()))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Small normal embeddings, Xavier MLP weights, zero biases."""
        nn.init.normal_(self.table.weight, std=0.01)
        nn.init.normal_(self.genre_table, std=0.01)
        for module in self.mlp:
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.zeros_(self.bias)

    # NOTE: ``unknown`` is a learned category that field dropout trains to mean
    # "no information", not a true absence. Another baseline (the most common
    # category, a mean vector) would change IG, Shapley sampling and deletion.
    def prepare(self, fields: torch.Tensor) -> torch.Tensor:
        """Inactive fields -> ``unknown``; in training mode also field dropout."""
        keep = self.active.expand_as(fields)
        if self.training and self.field_dropout > 0:
            keep = keep & (
                torch.rand(fields.shape, device=fields.device) >= self.field_dropout
            )
        return torch.where(keep, fields, self.unknown.expand_as(fields))

    def embed(self, fields: torch.Tensor) -> torch.Tensor:
        """Field vectors ``(batch, N_FIELDS, dim + 1)`` of codes ``(batch, N_FIELDS)``.

        The last coordinate of each vector is the field's first-order weight.
        """
        return self._embed_part(fields, 0)

    def _embed_part(self, fields: torch.Tensor, start: int) -> torch.Tensor:
        """Vectors of consecutive fields, the first of them being field ``start``."""
        stop = start + fields.shape[1]
        vectors = self.table(fields + self.offsets[start:stop])  # (batch, width, dim+1)
        g = self.genre_col - start
        if not 0 <= g < fields.shape[1]:
            return vectors
        genres = self.membership[fields[:, g]] @ self.genre_table  # (batch, dim + 1)
        return torch.cat([vectors[:, :g], genres[:, None], vectors[:, g + 1 :]], dim=1)

    def head(self, vectors: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch,)`` of field vectors ``(batch, N_FIELDS, dim + 1)``."""
        factors, weights = vectors[..., : self.dim], vectors[..., self.dim]
        linear = weights.sum(dim=1) + self.bias
        summed = factors.sum(dim=1)  # (batch, dim)
        pairwise = 0.5 * (summed.pow(2) - factors.pow(2).sum(dim=1)).sum(dim=-1)
        deep = self.mlp(factors.flatten(1)).squeeze(-1)  # (batch, N_FIELDS * dim) in
        return linear + pairwise + deep

    @torch.no_grad()
    def score_grid(
        self, user_rows: torch.Tensor, item_rows: torch.Tensor
    ) -> torch.Tensor:
        """Eval-mode logits of every (user, movie) combination, ``(n_users, n_items)``.

        Equal to ``forward`` on the concatenated rows, but the user and movie
        halves are embedded once and the first MLP layer is split between them,
        so ranking every movie costs a fraction of the row-by-row forward.

        Args:
            user_rows: int64 ``(U, len(USER_FIELDS))`` user codes.
            item_rows: int64 ``(I, len(ITEM_FIELDS))`` movie codes.
        """
        n_user = user_rows.shape[1]
        parts = []
        for rows, start in ((user_rows, 0), (item_rows, n_user)):
            stop = start + rows.shape[1]
            rows = torch.where(self.active[start:stop], rows, self.unknown[start:stop])
            parts.append(self._embed_part(rows, start))
        (user_v, item_v), d = parts, self.dim
        user_f, item_f = user_v[..., :d], item_v[..., :d]  # (U|I, fields, d)
        first = self.mlp[0]
        cut = user_f.shape[1] * d  # flatten is field-major: user fields come first
        user_h = user_f.flatten(1) @ first.weight[:, :cut].T + first.bias  # (U, H)
        item_h = item_f.flatten(1) @ first.weight[:, cut:].T  # (I, H)
        deep = self.mlp[1:](user_h[:, None] + item_h[None]).squeeze(-1)  # (U, I)
        # FM term split as within-user + within-movie + user-movie cross products.
        half = [
            0.5 * (f.sum(1).pow(2).sum(-1) - f.pow(2).sum((1, 2))) + v[..., d].sum(1)
            for f, v in ((user_f, user_v), (item_f, item_v))
        ]
        cross = user_f.sum(1) @ item_f.sum(1).T  # (U, I)
        return half[0][:, None] + half[1][None, :] + cross + deep + self.bias

    def forward(self, fields: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(self.prepare(fields)))


def field_model(view: FieldView, **kwargs) -> FieldRecommender:
    """Build a :class:`FieldRecommender` sized for ``view`` (``kwargs`` passed on)."""
    return FieldRecommender(view.cardinalities, view.genre_membership(), **kwargs)


def field_epoch_data(view: FieldView):
    """``epoch_data`` for ``fit``: epochs as ``(fields, labels)``."""

    def epoch(sampler: TrainingSampler) -> tuple[np.ndarray, np.ndarray]:
        users, items, labels = sampler.epoch()
        return view.rows(users, items), labels

    return epoch


def field_scorer(
    model: FieldRecommender,
    view: FieldView,
    hide: Sequence[str] = (),
    batch_users: int = 64,
) -> Scorer:
    """Scorer (user indices ``(n,)`` -> logits ``(n, n_items)``) for a field model.

    Uses :meth:`FieldRecommender.score_grid`; the model is put in eval mode.

    Args:
        hide: user fields to replace by ``unknown`` (``("user",)`` scores every
            user as a newcomer known only by demographics).
    """
    bad = [name for name in hide if name not in USER_FIELDS]
    if bad:
        raise ValueError(f"can only hide user fields {USER_FIELDS}, got {bad}")
    user_codes = view.user_codes.copy()
    for name in hide:
        user_codes[:, USER_FIELDS.index(name)] = (
            view.cardinalities[FIELDS.index(name)] - 1
        )

    @torch.no_grad()
    def score(users: np.ndarray) -> np.ndarray:
        model.eval()
        device = next(model.parameters()).device
        items = torch.as_tensor(view.item_codes, device=device)
        blocks = []
        for start in range(0, len(users), batch_users):
            chunk = np.asarray(users[start : start + batch_users])
            rows = torch.as_tensor(user_codes[chunk], device=device)
            blocks.append(model.score_grid(rows, items).float().cpu().numpy())
        return np.concatenate(blocks)

    return score


def train_field_model(
    view: FieldView,
    protocol: Protocol,
    config: TrainConfig,
    seed: int,
    device: torch.device | str | None = None,
    **model_kwargs,
) -> tuple[FieldRecommender, TrainResult, pd.DataFrame]:
    """Build and fit one :class:`FieldRecommender` on the protocol's split.

    Weight initialisation and field dropout draw from a forked torch generator
    seeded with ``seed``, so the caller's torch state is left as it was.
    Negatives and batch order come from ``np.random.default_rng(seed)``.

    Returns:
        The trained model (best validation epoch, eval mode), the
        :class:`TrainResult`, and per-user test metrics from
        :func:`helpers.evaluation.evaluate`.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = field_model(view, **model_kwargs)
        result = fit(
            model, protocol.split, protocol.valid_candidates, config,
            np.random.default_rng(seed), device=device,
            epoch_data=field_epoch_data(view), scorer=field_scorer(model, view),
            name=f"fields seed {seed}",
        )  # fmt: skip
    per_user = evaluate(
        field_scorer(model, view), protocol.split, protocol.test_candidates, config.k
    )
    return model.eval(), result, per_user


def low_activity_users(split: Split, share: float = 0.2) -> np.ndarray:
    """Evaluated users whose train-interaction count is in the lowest ``share``.

    Returns:
        Sorted ``user_idx`` array: evaluated users with at most the
        ``share``-quantile of train interactions (ties included, so it can hold
        slightly more than ``share`` of the users).
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    users = split.test["user_idx"].to_numpy()
    counts = np.bincount(split.train["user_idx"], minlength=split.n_users)[users]
    cutoff = np.quantile(counts, share)
    return np.sort(users[counts <= cutoff])
