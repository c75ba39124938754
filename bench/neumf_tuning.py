"""Validation search behind notebook 01's NeuMF recipe (GMF + MLP pre-training).

Usage (from the project root, with the project's .venv):

    .venv/bin/python bench/neumf_tuning.py [--variants "base,8 negatives"]
        [--seeds 42,43,44] [--workers 2] [--out build/neumf_tuning.jsonl]

Each variant changes one setting of ``helpers.recipes`` and trains GMF, MLP and
the pre-trained NeuMF exactly as notebook 01 does, once per seed. The choice
uses only the validation items: a variant replaces the base recipe when its
mean validation NDCG@10 of NeuMF (at the early-stopping epoch) beats the base's
by more than the standard error of the base's mean over seeds. A smaller gain
is within what a change of seed alone moves. Test metrics are printed next to
it for the record, never to choose. Runs are deterministic on CPU with
one torch thread, so a rerun prints the same numbers.

One run took 30 to 50 s on one core of an idle 2-core machine (AMD EPYC).
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRETRAINING = ("GMF_CONFIG", "MLP_CONFIG")
ALL_STAGES = (*PRETRAINING, "NEUMF_PRETRAINED_CONFIG")


def _set(recipes, names: tuple[str, ...], **changes) -> None:
    for name in names:
        setattr(recipes, name, replace(getattr(recipes, name), **changes))


def _factors(recipes, value: int) -> None:
    recipes.FACTORS = value


def _mlp_layers(recipes, value: int) -> None:
    recipes.MLP = functools.partial(recipes.MLP, layers=value)


# Each variant edits the recipes module of the worker process that runs it.
VARIANTS: dict[str, Callable] = {
    "base": lambda r: None,
    "pre-training 40 epochs": lambda r: _set(r, PRETRAINING, epochs=40),
    "pre-training 40 epochs + patience 5": lambda r: (
        _set(r, PRETRAINING, epochs=40, patience=5),
        _set(r, ("NEUMF_PRETRAINED_CONFIG",), patience=5),
    ),
    "pre-training lr 1e-3 + 40 epochs": lambda r: _set(
        r, PRETRAINING, lr=1e-3, epochs=40
    ),
    "pre-training batch 256": lambda r: _set(r, PRETRAINING, batch_size=256),
    "pre-training weight decay 1e-6": lambda r: _set(r, PRETRAINING, weight_decay=1e-6),
    "NeuMF SGD lr 0.01": lambda r: _set(r, ("NEUMF_PRETRAINED_CONFIG",), lr=0.01),
    "NeuMF SGD lr 0.02": lambda r: _set(r, ("NEUMF_PRETRAINED_CONFIG",), lr=0.02),
    "NeuMF SGD lr 0.1": lambda r: _set(r, ("NEUMF_PRETRAINED_CONFIG",), lr=0.1),
    "2 negatives": lambda r: _set(r, ALL_STAGES, n_negatives=2),
    "8 negatives": lambda r: _set(r, ALL_STAGES, n_negatives=8),
    "32 factors": lambda r: _factors(r, 32),
    "MLP 3 layers": lambda r: _mlp_layers(r, 3),
}


def run_one(variant: str, seed: int) -> dict:
    """Train one variant on one seed; return validation and test metrics."""
    import torch

    from helpers import recipes, train
    from helpers.data import load_movielens
    from helpers.evaluation import summarize
    from helpers.protocol import prepare_protocol

    torch.set_num_threads(1)
    VARIANTS[variant](recipes)
    protocol = prepare_protocol(load_movielens("ml-100k").ratings)
    valid: dict[str, dict] = {}

    def recording_fit(*args, **kwargs):
        result = train.fit(*args, **kwargs)
        model = kwargs["name"].rsplit(" seed ", 1)[0]
        valid[model] = {
            "NDCG@10": result.best_score,
            "best epoch": result.best_epoch,
            "epochs run": len(result.history),
        }
        return result

    recipes.fit = recording_fit
    started = time.perf_counter()
    runs, _ = recipes.train_ncf_family(protocol, seed, recipes.FACTORS, scratch=False)
    test = {
        run.name: {
            metric: summarize(run.per_user)["sampled"][metric]
            for metric in ("HR@10", "NDCG@10")
        }
        for run in runs
    }
    return {
        "variant": variant,
        "seed": seed,
        "seconds": time.perf_counter() - started,
        "valid": valid,
        "test": test,
    }


def summary(rows: list[dict]) -> str:
    """Build a Markdown table, one line per variant by mean validation NDCG@10.

    With several base runs, a last line says whether the best variant replaces
    the base recipe.
    """
    import numpy as np

    by_variant: dict[str, list[dict]] = {}
    for row in rows:
        by_variant.setdefault(row["variant"], []).append(row)

    def mean(runs, part, model, metric):
        return float(np.mean([run[part][model][metric] for run in runs]))

    lines = [
        "| variant | seeds | valid NDCG@10 (NeuMF) | test HR@10 | test NDCG@10 |",
        "|---|---:|---:|---:|---:|",
    ]
    ranked = sorted(
        by_variant.items(),
        key=lambda item: -mean(item[1], "valid", "NeuMF", "NDCG@10"),
    )
    for variant, runs in ranked:
        lines.append(
            f"| {variant} | {len(runs)} "
            f"| {mean(runs, 'valid', 'NeuMF', 'NDCG@10'):.4f} "
            f"| {mean(runs, 'test', 'NeuMF', 'HR@10'):.4f} "
            f"| {mean(runs, 'test', 'NeuMF', 'NDCG@10'):.4f} |"
        )
    if "base" in by_variant and len(by_variant["base"]) > 1:
        base = [run["valid"]["NeuMF"]["NDCG@10"] for run in by_variant["base"]]
        margin = float(np.std(base, ddof=1) / np.sqrt(len(base)))
        best, runs = ranked[0]
        gain = mean(runs, "valid", "NeuMF", "NDCG@10") - float(np.mean(base))
        verdict = best if gain > margin else "base"
        lines.append(
            f"\nBest variant {best!r}: {gain:+.4f} validation NDCG@10 over base "
            f"(standard error of the base mean {margin:.4f}); keep: {verdict}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help="comma-separated variant names (default: all)",
    )
    parser.add_argument("--seeds", default="42,43,44", help="comma-separated seeds")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "build" / "neumf_tuning.jsonl",
        help="one JSON line per run is appended here",
    )
    args = parser.parse_args()

    variants = [name.strip() for name in args.variants.split(",") if name.strip()]
    unknown = [name for name in variants if name not in VARIANTS]
    if unknown or not variants:
        found = f"unknown variant(s) {unknown}" if unknown else "no variant given"
        parser.error(f"{found}; choose from {list(VARIANTS)}")
    try:
        seeds = sorted({int(seed) for seed in args.seeds.split(",")})
    except ValueError:
        parser.error(f"invalid --seeds {args.seeds!r}; expected integers like 42,43")
    if min(seeds) < 0 or args.workers < 1:
        parser.error("seeds must be >= 0 and --workers >= 1")
    jobs = [(variant, seed) for variant in variants for seed in seeds]
    args.out.parent.mkdir(parents=True, exist_ok=True)

    rows = []
    # One fresh process per run, because a variant edits the recipes module.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, context, max_tasks_per_child=1) as pool:
        futures = [pool.submit(run_one, variant, seed) for variant, seed in jobs]
        for number, future in enumerate(futures, start=1):
            row = future.result()
            rows.append(row)
            with args.out.open("a", encoding="utf-8") as out:
                out.write(json.dumps(row) + "\n")
            print(
                f"[{number}/{len(jobs)}] {row['variant']}, seed {row['seed']}: "
                f"valid NDCG@10 {row['valid']['NeuMF']['NDCG@10']:.4f} "
                f"({row['seconds']:.0f} s)",
                flush=True,
            )
    print(summary(rows))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
