"""Project paths, seeding and device selection."""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

import numpy as np
import torch

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
RESULTS_DIR = PROJECT_ROOT / "results"
PRESENTATION_DIR = PROJECT_ROOT / "presentation"
FIGURES_DIR = PRESENTATION_DIR / "figures"

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> np.random.Generator:
    """Seed ``random``, NumPy and torch, and return a NumPy Generator for ``seed``.

    Notebooks call this once and pass the returned Generator to every helper that
    draws random numbers, so that a run is reproducible from its ``SEED``.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """Return ``prefer`` if given, else CUDA when available, else CPU."""
    if prefer:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def setup_logging(level: int = logging.INFO) -> None:
    """Send ``helpers`` log records to stderr with a short format.

    Helpers never configure logging at import time; notebooks and the runner opt
    in with this call.
    """
    logger = logging.getLogger("helpers")
    logger.setLevel(level)
    if not any(getattr(h, "_helpers_handler", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._helpers_handler = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def env_flag(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable (``1``, ``true``, ``yes`` are true)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}
