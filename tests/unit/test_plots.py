"""Plot helpers: figures saved as 200 dpi PNG files, plots drawn on given Axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from PIL import Image

from helpers.plots import plot_history, save_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_save_figure_writes_png_at_200_dpi(tmp_path):
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])

    path = save_figure(fig, "01_line", tmp_path / "figures")
    plt.close(fig)

    assert path == tmp_path / "figures" / "01_line.png"
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        assert image.info["dpi"] == pytest.approx((200, 200), abs=0.1)


def test_plot_history_draws_on_given_axes():
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.9, 0.5, 0.4]})
    fig, ax = plt.subplots()

    returned = plot_history(history, "loss", label="NeuMF", ax=ax)
    plt.close(fig)

    assert returned is ax
    assert list(ax.lines[0].get_ydata()) == [0.9, 0.5, 0.4]
    assert ax.get_xlabel() == "epoch"
    assert ax.get_ylabel() == "loss"
