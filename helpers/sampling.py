"""Negative sampling: fixed evaluation candidates and per-epoch training negatives."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from helpers.splits import Split


def sample_negatives(
    seen: sp.csr_matrix, n_per_user: int, rng: np.random.Generator, users=None
) -> np.ndarray:
    """Draw, per user, ``n_per_user`` distinct items the user never interacted with.

    Args:
        seen: binary user x item matrix of every interaction to avoid.
        n_per_user: draws per user, without replacement.
        users: user indices to draw for (default: every row of ``seen``).

    Returns:
        Int array of shape ``(len(users), n_per_user)``.

    Raises:
        ValueError: a user has fewer unseen items than ``n_per_user``.
    """
    n_items = seen.shape[1]
    users = np.arange(seen.shape[0]) if users is None else np.asarray(users)
    out = np.empty((len(users), n_per_user), dtype=np.int64)
    for row, user in enumerate(users):
        history = seen.indices[seen.indptr[user] : seen.indptr[user + 1]]
        n_unseen = n_items - len(history)
        if n_unseen < n_per_user:
            raise ValueError(
                f"user {user} has {n_unseen} unseen items but {n_per_user} negatives "
                "were requested; lower n_per_user or use a larger data set"
            )
        if n_per_user * 4 < n_unseen:
            out[row] = _draw_by_rejection(history, n_items, n_per_user, rng)
        else:
            pool = np.setdiff1d(np.arange(n_items), history, assume_unique=True)
            out[row] = rng.choice(pool, size=n_per_user, replace=False)
    return out


def _draw_by_rejection(history, n_items, n_draws, rng) -> np.ndarray:
    chosen: list[int] = []
    taken = set(history.tolist())
    while len(chosen) < n_draws:
        for item in rng.integers(0, n_items, size=2 * n_draws).tolist():
            if item not in taken:
                taken.add(item)
                chosen.append(item)
                if len(chosen) == n_draws:
                    break
    return np.asarray(chosen, dtype=np.int64)


def eval_candidates(
    split: Split, n_negatives: int, rng: np.random.Generator, target: str = "test"
) -> np.ndarray:
    """Candidate lists for sampled evaluation, drawn once and shared by every model.

    Column 0 contains the held-out ``target`` item (``"test"`` or ``"valid"``), the
    other ``n_negatives`` columns items outside the user's whole history (train,
    validation and test), so no candidate is a hidden positive.

    Returns:
        Int array of shape ``(n_evaluated_users, 1 + n_negatives)``, rows in the
        order of ``split.<target>``.
    """
    held_out = getattr(split, target)
    seen = split.matrix("train", "valid", "test")
    users = held_out["user_idx"].to_numpy()
    negatives = sample_negatives(seen, n_negatives, rng, users)
    return np.column_stack([held_out["item_idx"].to_numpy(), negatives])


class TrainingSampler:
    """Pointwise training batches with negatives redrawn every epoch.

    Negatives come from the items a user has not interacted with *in train*: the
    sampler is never shown validation or test interactions, so a held-out item
    can be drawn as a negative just like any other unobserved item.
    """

    def __init__(
        self, train: sp.csr_matrix, n_negatives: int, rng: np.random.Generator
    ):
        if n_negatives < 0:
            raise ValueError(f"n_negatives must be >= 0, got {n_negatives}")
        self.train = train.tocsr()
        self.n_negatives = n_negatives
        self.rng = rng
        coo = self.train.tocoo()
        self.users = coo.row.astype(np.int64)
        self.items = coo.col.astype(np.int64)
        self.n_items = train.shape[1]
        full = np.flatnonzero(np.diff(self.train.indptr) >= self.n_items)
        if n_negatives and len(full):
            raise ValueError(
                f"user {full[0]} interacted with all {self.n_items} items in train, so "
                "no negative exists; drop such users or use n_negatives=0"
            )
        self._keys = np.sort(self.users * self.n_items + self.items)

    def negatives_for(self, users: np.ndarray) -> np.ndarray:
        """Draw one unobserved item per entry of ``users`` by rejection sampling."""
        items = self.rng.integers(0, self.n_items, size=len(users))
        bad = self._is_positive(users, items)
        while bad.any():
            items[bad] = self.rng.integers(0, self.n_items, size=int(bad.sum()))
            bad[bad] = self._is_positive(users[bad], items[bad])
        return items

    def _is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = users * self.n_items + items
        position = np.searchsorted(self._keys, keys)
        position = np.minimum(position, len(self._keys) - 1)
        return self._keys[position] == keys

    def epoch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Shuffled ``(users, items, labels)`` for one epoch.

        Each positive appears once with label 1, followed by ``n_negatives``
        fresh negatives for the same user with label 0.
        """
        neg_users = np.repeat(self.users, self.n_negatives)
        neg_items = self.negatives_for(neg_users)
        users = np.concatenate([self.users, neg_users])
        items = np.concatenate([self.items, neg_items])
        labels = np.concatenate(
            [np.ones(len(self.users), np.float32), np.zeros(len(neg_users), np.float32)]
        )
        order = self.rng.permutation(len(users))
        return users[order], items[order], labels[order]

    def triples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Shuffled ``(users, positives, negatives)`` for pairwise (BPR) losses."""
        order = self.rng.permutation(len(self.users))
        users = self.users[order]
        return users, self.items[order], self.negatives_for(users)
