"""Notebook 01 in quick mode on real ML-100K: it runs and records sane numbers."""

from __future__ import annotations

import pytest
from quick_run import check_band, check_schema, run_quick_notebook

CHANCE_HR10 = 10 / 100  # one target among 100 candidates
# Quick mode trains each model for 2 epochs on one seed. Observed quick-run means
# over SEEDS = [42], [43], [44] on ML-100K: NeuMF sampled HR@10 0.522 to 0.544,
# NDCG@10 0.295 to 0.309, full HR@10 0.091 to 0.107; EASE 0.650 and Popularity
# 0.392 (both deterministic). The bands add about +-0.1 (+-0.05 for full HR@10)
# for machine differences in 2-epoch training, and +-0.03 for the deterministic
# baselines. Recalibrate them when a recipe changes.
BANDS = {
    ("NeuMF", "sampled", "HR@10"): (0.40, 0.65),
    ("NeuMF", "sampled", "NDCG@10"): (0.20, 0.40),
    ("NeuMF", "full", "HR@10"): (0.03, 0.16),
    ("EASE", "sampled", "HR@10"): (0.62, 0.68),
    ("Popularity", "sampled", "HR@10"): (0.36, 0.42),
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict:
    return run_quick_notebook("01_neumf", tmp_path_factory.mktemp("nb01"))


@pytest.mark.notebooks
def test_quick_run_records_schema(recorded):
    check_schema(recorded, "ml-100k", 100_000)
    assert recorded["dataset"]["n_users"] == 943


@pytest.mark.notebooks
@pytest.mark.parametrize(("model", "protocol", "metric"), sorted(BANDS))
def test_quick_run_metric_in_band(recorded, model, protocol, metric):
    check_band(recorded, BANDS, model, protocol, metric)


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
