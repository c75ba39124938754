"""Quick-mode papermill execution shared by the notebook tests."""

from __future__ import annotations

import json
from pathlib import Path

import papermill as pm

from helpers.config import NOTEBOOKS_DIR

# Top-level keys of every results file.
RESULT_KEYS = ("notebook", "quick", "dataset", "parameters", "versions", "seconds",
               "metrics", "comparisons", "extra")  # fmt: skip


def run_quick_notebook(name: str, out: Path, **parameters) -> dict:
    """Execute ``notebooks/<name>.ipynb`` in quick mode with every output in ``out``.

    Returns:
        The recorded ``<name>.json``, plus ``_figures``: the sorted names of the
        PNG files the run saved.
    """
    notebook = NOTEBOOKS_DIR / f"{name}.ipynb"
    pm.execute_notebook(
        str(notebook),
        str(out / notebook.name),
        parameters={
            "QUICK": True,
            "RESULTS_DIR": str(out),
            "FIGURES_DIR": str(out / "figures"),
            "PROGRESS": False,
            **parameters,
        },
        cwd=str(NOTEBOOKS_DIR),
        kernel_name="python3",
        progress_bar=False,
    )
    results = json.loads((out / f"{name}.json").read_text())
    results["_figures"] = sorted(p.name for p in (out / "figures").glob("*.png"))
    return results


def check_schema(recorded: dict, dataset: str, n_interactions: int) -> None:
    """Fail unless a quick run on ``dataset`` recorded every top-level key."""
    for key in RESULT_KEYS:
        assert key in recorded, f"results file lacks {key!r}"
    assert recorded["quick"] is True, "the run was not recorded as quick"
    assert recorded["dataset"]["name"] == dataset, recorded["dataset"]
    assert recorded["dataset"]["n_interactions"] == n_interactions, recorded["dataset"]
    assert recorded["seconds"]["total"] > 0, recorded["seconds"]


def check_band(recorded: dict, bands: dict, model: str, protocol: str, metric: str):
    """Fail unless the recorded mean of ``metric`` lies in its calibrated band."""
    low, high = bands[(model, protocol, metric)]
    value = recorded["metrics"][model][protocol][metric]["mean"]
    assert low <= value <= high, f"{model} {protocol} {metric} = {value:.4f}"
