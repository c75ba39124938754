"""Results files: JSON round trip, NaN as null, NumPy types, missing-file message."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from helpers.results import load_results, record_results


def record(results_dir, **overrides) -> Path:
    arguments = {
        "quick": True,
        "dataset": {"name": "ml-100k", "source": "local", "n_users": np.int64(943)},
        "parameters": {"SEED": 42, "SEEDS": np.array([42, 43])},
        "seconds": {"total": np.float32(1.5)},
        "metrics": {
            "NeuMF": {
                "sampled": {
                    "HR@10": {
                        "mean": np.float64(0.65432),
                        "std": float("nan"),
                        "per_seed": np.array([0.65432]),
                    }
                }
            }
        },
        "results_dir": results_dir,
    }
    return record_results("01_neumf", **{**arguments, **overrides})


def test_record_results_round_trip(tmp_path):
    path = record(tmp_path, comparisons={"A vs B": {"p_value": np.float64(0.01)}})

    got = load_results("01_neumf", tmp_path)

    assert path == tmp_path / "01_neumf.json"
    assert got["notebook"] == "01_neumf"
    assert got["quick"] is True
    assert got["dataset"]["n_users"] == 943
    assert got["parameters"]["SEEDS"] == [42, 43]
    assert got["seconds"]["total"] == 1.5
    hr = got["metrics"]["NeuMF"]["sampled"]["HR@10"]
    assert hr["mean"] == 0.65432
    assert hr["per_seed"] == [0.65432]
    assert got["comparisons"]["A vs B"]["p_value"] == 0.01
    assert got["extra"] == {}
    assert "python" in got["versions"]
    recorded = datetime.fromisoformat(got["recorded_at"])
    assert recorded.tzinfo is not None
    assert abs((datetime.now(UTC) - recorded).total_seconds()) < 60


def test_record_results_nan_and_inf_become_null(tmp_path):
    record(tmp_path, extra={"ratio": float("inf"), "score": np.float32("nan")})

    text = (tmp_path / "01_neumf.json").read_text(encoding="utf-8")
    got = json.loads(text)

    assert "NaN" not in text
    assert "Infinity" not in text
    assert got["metrics"]["NeuMF"]["sampled"]["HR@10"]["std"] is None
    assert got["extra"] == {"ratio": None, "score": None}


def test_record_results_paths_and_keys_become_strings(tmp_path):
    record(tmp_path, extra={"figure": Path("figures") / "01_a.png", 10: "ten"})

    assert load_results("01_neumf", tmp_path)["extra"] == {
        "figure": "figures/01_a.png",
        "10": "ten",
    }


def test_record_results_leaves_no_temporary_files(tmp_path):
    record(tmp_path)
    record(tmp_path, quick=False)

    assert [p.name for p in tmp_path.iterdir()] == ["01_neumf.json"]
    assert load_results("01_neumf", tmp_path)["quick"] is False


def test_load_results_missing_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m helpers run --only 03"):
        load_results("03_graph_embeddings", tmp_path)
