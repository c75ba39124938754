"""The evaluation protocol of notebooks 01, 02 and 04, built in one call.

Every model in those notebooks is trained on the same split and ranked against
the same candidates, because both come from :func:`prepare_protocol` with the
same data and the fixed ``CANDIDATE_SEED``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.sampling import eval_candidates
from helpers.splits import Split, leave_last_out

CANDIDATE_SEED = 2017  # fixed for every notebook, independent of the model SEED
N_EVAL_NEGATIVES = 99
TOP_K = 10


@dataclass
class Protocol:
    """Split plus the fixed validation and test candidates (target in column 0)."""

    split: Split
    valid_candidates: np.ndarray
    test_candidates: np.ndarray

    def describe(self) -> pd.DataFrame:
        """Sizes of the split and the candidate lists, one row per part."""
        split = self.split
        return pd.DataFrame(
            {
                "interactions": [len(split.train), len(split.valid), len(split.test)],
                "users": [
                    split.train["user_idx"].nunique(),
                    len(split.valid),
                    len(split.test),
                ],
                "candidates per user": [None, self.valid_candidates.shape[1],
                                        self.test_candidates.shape[1]],
            },
            index=["train", "valid", "test"],
        )  # fmt: skip


def prepare_protocol(
    ratings: pd.DataFrame,
    n_negatives: int = N_EVAL_NEGATIVES,
    seed: int = CANDIDATE_SEED,
) -> Protocol:
    """Leave-last-out split and sampled candidates for validation and test.

    Validation and test candidates come from separate streams of the same seed,
    so adding a model or changing the model seed never changes them.
    """
    split = leave_last_out(ratings)
    valid_rng, test_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)
    )
    return Protocol(
        split=split,
        valid_candidates=eval_candidates(split, n_negatives, valid_rng, target="valid"),
        test_candidates=eval_candidates(split, n_negatives, test_rng, target="test"),
    )
