"""Leave-one-out by time: the implicit-feedback split shared by notebooks 01, 02, 04."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

log = logging.getLogger(__name__)


@dataclass
class IdMap:
    """Raw MovieLens ids <-> 0-based indices (``user_id`` vs ``user_idx``)."""

    ids: np.ndarray  # raw id of each index, sorted ascending

    @classmethod
    def from_values(cls, values) -> IdMap:
        return cls(np.unique(np.asarray(values)))

    def __len__(self) -> int:
        return len(self.ids)

    def to_index(self, raw) -> np.ndarray:
        """Indices of raw ids; raises ``KeyError`` for an id not in the map."""
        raw = np.asarray(raw)
        index = np.searchsorted(self.ids, raw)
        index = np.clip(index, 0, len(self.ids) - 1)
        missing = self.ids[index] != raw
        if np.any(missing):
            raise KeyError(
                f"ids not in the map: {np.asarray(raw)[missing][:5].tolist()}"
            )
        return index

    def to_id(self, index) -> np.ndarray:
        return self.ids[np.asarray(index)]


@dataclass
class Split:
    """Train / validation / test interactions as 0-based indices.

    Each frame has columns ``user_idx, item_idx, timestamp, rating``. ``valid``
    and ``test`` hold exactly one row per evaluated user, sorted by ``user_idx``.
    """

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    users: IdMap
    items: IdMap

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def matrix(self, *parts: str) -> sp.csr_matrix:
        """Binary user x item CSR matrix of the named parts (default ``train``)."""
        frames = [getattr(self, part) for part in (parts or ("train",))]
        frame = pd.concat(frames, ignore_index=True)
        data = np.ones(len(frame), dtype=np.float32)
        matrix = sp.csr_matrix(
            (data, (frame["user_idx"].to_numpy(), frame["item_idx"].to_numpy())),
            shape=(self.n_users, self.n_items),
        )
        matrix.data[:] = 1.0
        return matrix

    def sizes(self) -> dict[str, int]:
        return {
            "train": len(self.train),
            "valid": len(self.valid),
            "test": len(self.test),
        }


def to_implicit(ratings: pd.DataFrame) -> pd.DataFrame:
    """Treat every rated (user, movie) pair as a positive, whatever the rating."""
    implicit = ratings[["user_id", "item_id", "timestamp", "rating"]].copy()
    implicit["label"] = np.int8(1)
    return implicit


def leave_last_out(ratings: pd.DataFrame, min_interactions: int = 3) -> Split:
    """Hold out each user's latest interaction for test, the one before for validation.

    Interactions are ordered by ``timestamp``. Ties keep the row order of
    ``ratings`` (a stable sort), which for MovieLens is the order of the ratings
    file, as RecBole orders them: among movies rated in the same second, the one
    further down the file counts as later. About 44% of ML-100K test items share
    their timestamp with the validation item, so this rule changes results.
    Users with fewer than ``min_interactions`` interactions keep all of them in
    train and are not evaluated (their number is logged).

    Args:
        ratings: frame with ``user_id, item_id, timestamp`` (``rating`` optional).

    Returns:
        A :class:`Split` whose id maps cover every user and item in ``ratings``.
    """
    if min_interactions < 3:
        raise ValueError(f"min_interactions must be >= 3, got {min_interactions}")
    users = IdMap.from_values(ratings["user_id"])
    items = IdMap.from_values(ratings["item_id"])
    frame = pd.DataFrame(
        {
            "user_idx": users.to_index(ratings["user_id"].to_numpy()),
            "item_idx": items.to_index(ratings["item_id"].to_numpy()),
            "timestamp": ratings["timestamp"].to_numpy(),
            "rating": ratings["rating"].to_numpy() if "rating" in ratings else 1.0,
        }
    )
    frame = frame.sort_values(["user_idx", "timestamp"], kind="stable")
    # Position from the end within each user: 0 = latest, 1 = second latest.
    from_end = frame.groupby("user_idx").cumcount(ascending=False).to_numpy()
    counts = frame.groupby("user_idx")["item_idx"].transform("size").to_numpy()
    evaluated = counts >= min_interactions
    n_skipped = int(frame.loc[~evaluated, "user_idx"].nunique())
    if n_skipped:
        log.info(
            "%d users with < %d interactions stay in train only",
            n_skipped,
            min_interactions,
        )
    test_mask = evaluated & (from_end == 0)
    valid_mask = evaluated & (from_end == 1)
    parts = {
        name: frame[mask].reset_index(drop=True)
        for name, mask in (
            ("train", ~(test_mask | valid_mask)),
            ("valid", valid_mask),
            ("test", test_mask),
        )
    }
    return Split(parts["train"], parts["valid"], parts["test"], users, items)
