"""Plot helpers: each draws on the Axes it is given and returns it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from helpers.config import FIGURES_DIR

log = logging.getLogger(__name__)


def save_figure(
    fig: plt.Figure, name: str, figures_dir: str | os.PathLike = FIGURES_DIR
) -> Path:
    """Write ``fig`` as ``<figures_dir>/<name>.png`` at 200 dpi and return the path.

    Names start with the notebook number (``01_training_curves``) so that the
    presentation can find each notebook's figures.
    """
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    path = figures_dir / f"{name}.png"
    fig.savefig(path, dpi=200, bbox_inches="tight")
    log.info("saved figure %s", path.name)
    return path


def plot_history(
    history: pd.DataFrame,
    column: str,
    label: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Plot ``column`` against ``epoch`` as one line."""
    ax = ax or plt.subplots(figsize=(5, 3.2), layout="constrained")[1]
    ax.plot(history["epoch"], history[column], marker="o", markersize=3, label=label)
    ax.set(xlabel="epoch", ylabel=column)
    return ax
