"""Training throughput of the attention recommender (notebook 04) on ML-100K.

Usage (from the project root, with the project's .venv):

    .venv/bin/python bench/attention_speed.py [--epochs 1] [--threads 1]

For each variant of notebook 04 (full attention and the three ablations) and for
NeuMF as a reference, this trains ``--epochs`` epochs with the notebook's
settings and prints a table:

* training examples per second: one example is a positive with its negatives
  (notebook 04: 2 negatives; NeuMF: each scored pair counts, 4 negatives);
* scored pairs per second, the same work counted per (user, movie) pair;
* seconds per epoch (training plus the validation pass) and for one
  full-ranking evaluation of the test items (every movie scored for all 943
  users).

The default is one torch thread, as in notebook 04's training workers. With two
threads on a machine that other processes also use, the threads wait on each
other and throughput can drop several times (try ``--threads 2``).
Machines are noisy: compare rows of one run, not runs on different days.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import torch

from helpers import attention
from helpers.config import seed_everything
from helpers.data import load_movielens
from helpers.evaluation import evaluate
from helpers.features import build_field_view
from helpers.models import NeuMF
from helpers.protocol import prepare_protocol
from helpers.train import TrainConfig, fit, model_scorer

# The settings of notebook 04's parameters cell (and 01's NeuMF batch).
SIZES = dict(dim=32, field_dim=16, max_history=50, heads=1, dropout=0.1)
CONFIG = TrainConfig(batch_size=1024, lr=1e-2, n_negatives=2, progress=False)
NEUMF_CONFIG = TrainConfig(batch_size=512, lr=2e-3, n_negatives=4, progress=False)


def bench_variant(protocol, histories, view, variant: str, epochs: int) -> dict:
    """Train ``variant`` for ``epochs`` epochs and time one full evaluation."""
    seed_everything(0)
    model = attention.attention_model(
        histories, view, **attention.VARIANTS[variant], **SIZES
    )
    config = _epochs(CONFIG, epochs)
    split = protocol.split
    scorer = attention.candidate_scorer(
        model, histories, split, protocol.valid_candidates
    )
    result = fit(model, split, protocol.valid_candidates, config,
                 np.random.default_rng(0), device="cpu", scorer=scorer,
                 epoch_data=attention.history_epoch_data(histories))  # fmt: skip
    tick = time.perf_counter()
    evaluate(attention.history_scorer(model, histories, "test"), split,
             protocol.test_candidates)  # fmt: skip
    return _row(variant, result, 1 + config.n_negatives, time.perf_counter() - tick)


def bench_neumf(protocol, epochs: int) -> dict:
    """Train NeuMF (16 factors, from scratch) with the default pointwise epoch data."""
    seed_everything(0)
    split = protocol.split
    model = NeuMF(split.n_users, split.n_items, factors=16)
    result = fit(model, split, protocol.valid_candidates, _epochs(NEUMF_CONFIG, epochs),
                 np.random.default_rng(0), device="cpu")  # fmt: skip
    tick = time.perf_counter()
    evaluate(model_scorer(model, split.n_items), split, protocol.test_candidates)
    # NeuMF's examples are single pairs.
    return _row("NeuMF (reference)", result, 1, time.perf_counter() - tick)


def _epochs(config: TrainConfig, epochs: int) -> TrainConfig:
    return TrainConfig(**{**config.__dict__, "epochs": epochs, "patience": epochs + 1})


def _row(name, result, pairs_per_example: int, eval_seconds: float) -> dict:
    history = result.history
    per_second = result.samples_per_second
    return {
        "model": name,
        "examples/s": per_second,
        "pairs/s": per_second * pairs_per_example,
        "s/epoch": float(history["seconds"].mean()),
        "full eval s": eval_seconds,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1, help="epochs per model")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--skip-neumf", action="store_true")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)  # this process only
    data = load_movielens("ml-100k")
    protocol = prepare_protocol(data.ratings)
    histories = attention.build_histories(protocol.split)
    view = build_field_view(data, protocol.split)

    rows = [
        bench_variant(protocol, histories, view, variant, args.epochs)
        for variant in attention.VARIANTS
    ]
    if not args.skip_neumf:
        rows.append(bench_neumf(protocol, args.epochs))

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads, "
          f"python {platform.python_version()}")  # fmt: skip
    command = " ".join([os.path.basename(sys.executable), *sys.argv])
    print(f"command: {command}")
    header = ("model", "examples/s", "pairs/s", "s/epoch", "full eval s")
    print(
        f"{header[0]:<30}{header[1]:>12}{header[2]:>12}{header[3]:>10}{header[4]:>13}"
    )
    for row in rows:
        print(f"{row['model']:<30}{row['examples/s']:>12,.0f}{row['pairs/s']:>12,.0f}"
              f"{row['s/epoch']:>10.1f}{row['full eval s']:>13.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
