"""NeuMF training throughput and evaluation time on ML-100K, against RecBole 1.2.1.

Usage (from the project root, with the project's .venv):

    .venv/bin/python bench/neumf_speed.py [--epochs 3] [--seed 42] [--threads 1]
        [--skip-recbole]

Ours: NeuMF with 16 predictive factors (GMF embeddings 16, MLP embeddings 32,
tower 64 -> 32 -> 16), batch 512, 4 negatives per positive, trained from
scratch with Adam for ``--epochs`` epochs; training samples per second and the
seconds to evaluate all 943 users under both protocols.

RecBole: the same sizes, batch and negatives, the leave-last-out split by time
with 99 sampled negatives. RecBole draws its own test candidates, so its best
model is also scored on ours (saved to ``build/neumf_speed_candidates.npz``):
HR@10 is compared on identical candidates.

RecBole 1.2.1 fails to import on numpy 2, so it runs in a separate virtual
environment, ``.venv-recbole`` (numpy<2, pandas<3), that this script creates on
first use; results come back as JSON on stdout. Its checkpoint reload needs
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` under torch >= 2.6,
which is set only inside that subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER_VENV = ROOT / ".venv-recbole"
# Our test candidates in raw ids, so that RecBole's model is also scored on them.
SHARED_CANDIDATES = ROOT / "build" / "neumf_speed_candidates.npz"
PEER_PACKAGES = [
    "recbole==1.2.1",
    "torch==2.13.0",
    "numpy<2",
    "pandas<3",
    "scipy<1.14",
    "ray<2.10",
    "thop",
    "tabulate",
    "plotly",
    "texttable",
    "psutil",
    "colorlog",
    "colorama",
    "tensorboard",
    "pyyaml",
    "scikit-learn",
]

RECBOLE_DRIVER = r"""
import json, sys, tempfile, time
import numpy as np
import torch
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.model.general_recommender import NeuMF
from recbole.trainer import Trainer
from recbole.utils import init_seed

epochs, seed, candidates_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
config = Config(model="NeuMF", dataset="ml-100k", config_dict={
    "load_col": {"inter": ["user_id", "item_id", "rating", "timestamp"]},
    "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "uni100",
                  "group_by": "user"},
    "metrics": ["Hit", "NDCG"], "topk": [10], "valid_metric": "NDCG@10",
    "epochs": epochs, "train_batch_size": 512, "eval_batch_size": 4096,
    "train_neg_sample_args": {"distribution": "uniform", "sample_num": 4},
    "mf_embedding_size": 16, "mlp_embedding_size": 32, "mlp_hidden_size": [32, 16],
    "dropout_prob": 0.0, "learning_rate": 0.001, "use_gpu": False,
    "show_progress": False,
    "checkpoint_dir": tempfile.mkdtemp(), "seed": seed, "reproducibility": True,
    "stopping_step": 1000,
})
init_seed(config["seed"], config["reproducibility"])
dataset = create_dataset(config)
train_data, valid_data, test_data = data_preparation(config, dataset)
model = NeuMF(config, train_data.dataset).to(config["device"])
trainer = Trainer(config, model)
epoch_seconds = []
original = trainer._train_epoch
def timed(*args, **kwargs):
    tick = time.perf_counter()
    out = original(*args, **kwargs)
    epoch_seconds.append(time.perf_counter() - tick)
    return out
trainer._train_epoch = timed
trainer.fit(train_data, valid_data, saved=True, show_progress=False)
tick = time.perf_counter()
result = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
eval_seconds = time.perf_counter() - tick
n_samples = len(train_data.dataset) * 5  # each positive plus 4 negatives

# The best model, scored on the other tool's candidates (raw MovieLens ids,
# held-out movie in column 0) with ties counted against the model. The ranks
# are computed here because helpers is not installed in this environment.
shared = np.load(candidates_file)
users = dataset.token2id("user_id", [str(u) for u in shared["users"]])
items = dataset.token2id("item_id", [str(i) for i in shared["items"].ravel()])
items = np.asarray(items).reshape(shared["items"].shape)
trainer.model.eval()
with torch.no_grad():
    user_grid = torch.as_tensor(np.repeat(users, items.shape[1]))
    scores = trainer.model(user_grid, torch.as_tensor(items.ravel()))
scores = scores.reshape(items.shape).numpy()
ranks = (scores >= scores[:, [0]]).sum(axis=1) - 1
hits = ranks < 10
print(json.dumps({"epoch_seconds": epoch_seconds, "samples_per_epoch": n_samples,
                  "eval_seconds": eval_seconds,
                  "hr@10": float(result["hit@10"]),
                  "ndcg@10": float(result["ndcg@10"]),
                  "shared hr@10": float(hits.mean()),
                  "shared ndcg@10": float((hits / np.log2(ranks + 2)).mean())}))
"""


def ours(epochs: int, seed: int) -> dict:
    """Train our NeuMF from scratch and time training and evaluation."""
    import numpy as np

    from helpers.config import seed_everything
    from helpers.data import load_movielens
    from helpers.evaluation import evaluate, summarize
    from helpers.models import NeuMF
    from helpers.protocol import prepare_protocol
    from helpers.train import TrainConfig, fit, model_scorer

    protocol = prepare_protocol(load_movielens("ml-100k").ratings)
    split = protocol.split
    rng = seed_everything(seed)
    model = NeuMF(split.n_users, split.n_items, factors=16)
    config = TrainConfig(epochs=epochs, batch_size=512, lr=1e-3, n_negatives=4,
                         patience=epochs, progress=False)  # fmt: skip
    result = fit(model, split, protocol.valid_candidates, config, rng, device="cpu")
    tick = time.perf_counter()
    summary = summarize(
        evaluate(model_scorer(model, split.n_items), split, protocol.test_candidates)
    )
    eval_seconds = time.perf_counter() - tick
    epoch_seconds = (result.history["seconds"]).tolist()
    SHARED_CANDIDATES.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        SHARED_CANDIDATES,
        users=split.users.to_id(split.test["user_idx"].to_numpy()),
        items=split.items.to_id(protocol.test_candidates),
    )
    return {
        "samples_per_second": result.samples_per_second,
        "epoch_seconds": epoch_seconds,
        "eval_seconds": eval_seconds,
        "hr@10": summary["sampled"]["HR@10"],
        "ndcg@10": summary["sampled"]["NDCG@10"],
        "median_epoch_seconds_with_validation": float(np.median(epoch_seconds)),
    }


def ensure_peer_venv() -> Path:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print(
            f"creating {PEER_VENV.name} for RecBole (a few minutes, once)",
            file=sys.stderr,
        )
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *PEER_PACKAGES], check=True
        )
    return python


def recbole(epochs: int, threads: int, seed: int) -> dict:
    python = ensure_peer_venv()
    env = {
        **os.environ,
        "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1",
        "OMP_NUM_THREADS": str(threads),
    }
    done = subprocess.run(
        [str(python), "-c", RECBOLE_DRIVER, str(epochs), str(seed),
         str(SHARED_CANDIDATES)],
        env=env, capture_output=True, text=True, cwd=PEER_VENV, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"RecBole run failed:\n{done.stderr[-3000:]}")
    last = [line for line in done.stdout.splitlines() if line.startswith("{")][-1]
    return json.loads(last)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--epochs", type=int, default=3, help="training epochs per tool"
    )
    parser.add_argument(
        "--skip-recbole", action="store_true", help="time our NeuMF only"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads, the same for both tools",
    )
    parser.add_argument(
        "--seed", type=int, default=42, help="seed of both tools' training runs"
    )
    args = parser.parse_args()

    machine = platform.processor() or platform.machine()
    version = platform.python_version()
    print(f"machine: {machine}, {os.cpu_count()} cores, python {version}")
    import torch

    torch.set_num_threads(args.threads)
    mine = ours(args.epochs, args.seed)
    print(f"ours: {mine['samples_per_second']:,.0f} training samples/s; "
          f"evaluation {mine['eval_seconds']:.2f} s (943 users, sampled + full); "
          f"test HR@10 {mine['hr@10']:.4f} after {args.epochs} epoch(s)")  # fmt: skip
    if args.skip_recbole:
        return 0
    theirs = recbole(args.epochs, args.threads, args.seed)
    epoch_seconds = sum(theirs["epoch_seconds"]) / len(theirs["epoch_seconds"])
    their_rate = theirs["samples_per_epoch"] / epoch_seconds
    print(f"RecBole 1.2.1: {their_rate:,.0f} training samples/s "
          f"({epoch_seconds:.2f} s/epoch); "
          f"evaluation {theirs['eval_seconds']:.2f} s (sampled only); "
          f"test HR@10 {theirs['shared hr@10']:.4f} on our candidates "
          f"({theirs['hr@10']:.4f} on its own draw) "
          f"after {args.epochs} epoch(s)")  # fmt: skip
    ratio = mine["samples_per_second"] / their_rate
    print(f"training throughput ratio ours / RecBole: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
