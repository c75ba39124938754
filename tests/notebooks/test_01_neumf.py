"""Notebook 01 in quick mode on real ML-100K: it runs and records sane numbers."""

from __future__ import annotations

import json

import papermill as pm
import pytest

from helpers.config import NOTEBOOKS_DIR

NOTEBOOK = NOTEBOOKS_DIR / "01_neumf.ipynb"
CHANCE_HR10 = 10 / 100  # one target among 100 candidates
# Quick mode trains 2 epochs on one seed. Bands: min/max over seeds 42-44 of
# quick runs, widened by 0.03; recalibrate when the recipe changes.
BANDS = {
    ("NeuMF", "sampled", "HR@10"): (0.30, 0.70),
    ("NeuMF", "sampled", "NDCG@10"): (0.15, 0.42),
    ("EASE", "sampled", "HR@10"): (0.63, 0.69),
    ("Popularity", "sampled", "HR@10"): (0.40, 0.46),
    ("NeuMF", "full", "HR@10"): (0.01, 0.15),
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("nb01")
    pm.execute_notebook(
        str(NOTEBOOK),
        str(out / NOTEBOOK.name),
        parameters={
            "QUICK": True,
            "RESULTS_DIR": str(out),
            "FIGURES_DIR": str(out / "figures"),
            "PROGRESS": False,
        },
        cwd=str(NOTEBOOKS_DIR),
        kernel_name="python3",
        progress_bar=False,
    )
    return json.loads((out / "01_neumf.json").read_text())


@pytest.mark.notebooks
def test_quick_run_records_schema(recorded):
    for key in ("notebook", "quick", "dataset", "parameters", "versions", "seconds",
                "metrics", "comparisons", "extra"):  # fmt: skip
        assert key in recorded, key
    assert recorded["quick"] is True
    assert recorded["dataset"]["n_users"] == 943
    assert recorded["dataset"]["n_interactions"] == 100_000


@pytest.mark.notebooks
@pytest.mark.parametrize(("model", "protocol", "metric"), sorted(BANDS))
def test_quick_run_metric_in_band(recorded, model, protocol, metric):
    low, high = BANDS[(model, protocol, metric)]
    value = recorded["metrics"][model][protocol][metric]["mean"]
    assert low <= value <= high, f"{model} {protocol} {metric} = {value:.4f}"


@pytest.mark.notebooks
def test_quick_run_neumf_beats_chance_and_popularity(recorded):
    metrics = recorded["metrics"]
    neumf = metrics["NeuMF"]["sampled"]["HR@10"]["mean"]
    assert neumf > CHANCE_HR10 + 0.1
    assert neumf > metrics["Popularity"]["sampled"]["HR@10"]["mean"]


@pytest.mark.notebooks
def test_quick_run_records_every_model(recorded):
    expected = {"Popularity", "ItemKNN", "EASE", "BPR-MF", "GMF", "MLP", "NeuMF",
                "NeuMF (no pre-training)"}  # fmt: skip
    assert expected <= set(recorded["metrics"])


@pytest.mark.notebooks
def test_quick_run_records_paired_test(recorded):
    comparisons = recorded["comparisons"]
    assert comparisons, "no paired test recorded"
    for comparison in comparisons.values():
        assert comparison["test"] == "paired t-test over users"
        assert comparison["p_value"] is None or 0.0 <= comparison["p_value"] <= 1.0
