"""Recorded results: one JSON per notebook run, read by tests, README and the PDF."""

from __future__ import annotations

import json
import logging
import os
import platform
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from helpers.config import RESULTS_DIR

log = logging.getLogger(__name__)

VERSIONED_PACKAGES = (
    "torch", "numpy", "pandas", "scipy", "scikit-learn", "networkx", "captum",
    "shap", "lime", "gensim",
)  # fmt: skip


def library_versions() -> dict[str, str]:
    """Python and installed versions of the main libraries (missing ones skipped)."""
    versions = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _to_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return _to_json(value.tolist())
    if isinstance(value, np.generic):
        return _to_json(value.item())  # so NumPy NaN and infinity also become null
    if isinstance(value, float) and not np.isfinite(value):
        return None  # JSON has no NaN or infinity
    if isinstance(value, Path):
        return value.as_posix()
    return value


def record_results(
    notebook: str,
    *,
    quick: bool,
    dataset: dict,
    parameters: dict,
    seconds: dict[str, float],
    metrics: dict,
    comparisons: dict | None = None,
    extra: dict | None = None,
    results_dir: str | os.PathLike = RESULTS_DIR,
) -> Path:
    """Write ``results/<notebook>.json`` atomically and return its path.

    The layout (``notebook, quick, dataset, parameters, versions, recorded_at,
    seconds, metrics, comparisons, extra``) is the one every consumer reads.
    ``recorded_at`` is the UTC time of writing in ISO 8601; NaN and infinite
    floats are stored as ``null``.
    """
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "notebook": notebook,
        "quick": bool(quick),
        "dataset": dataset,
        "parameters": parameters,
        "versions": library_versions(),
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": seconds,
        "metrics": metrics,
        "comparisons": comparisons or {},
        "extra": extra or {},
    }
    target = results_dir / f"{notebook}.json"
    handle, temp = tempfile.mkstemp(prefix=f".{notebook}-", dir=results_dir)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(_to_json(payload), out, indent=2)
        out.write("\n")
    os.chmod(temp, 0o644)  # mkstemp creates the file readable by its owner only
    os.replace(temp, target)
    log.info("recorded %s", target.name)
    return target


def load_results(notebook: str, results_dir: str | os.PathLike = RESULTS_DIR) -> dict:
    """Read ``<results_dir>/<notebook>.json``.

    Raises:
        FileNotFoundError: the notebook has not recorded results there yet.
    """
    path = Path(results_dir) / f"{notebook}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"no results at {path}; run the notebook first (python -m helpers run "
            f"--only {notebook[:2]})"
        )
    return json.loads(path.read_text(encoding="utf-8"))
