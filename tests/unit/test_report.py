"""Presentation tests: a PDF built from fake results and a fake figure in tmp_path."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from pypdf import PdfReader

from helpers import report
from helpers.plots import save_figure
from helpers.results import record_results

NEUMF_HR = 0.65432  # printed as 0.6543 ± 0.0100


def entry(mean: float, std: float) -> dict:
    return {"mean": mean, "std": std, "per_seed": [mean - std, mean, mean + std]}


def model_metrics(sampled_hr: float, full_hr: float) -> dict:
    return {
        "sampled": {"HR@10": entry(sampled_hr, 0.01), "NDCG@10": entry(0.38, 0.005)},
        "full": {"HR@10": entry(full_hr, 0.004), "NDCG@10": entry(0.043, 0.002)},
    }


def write_neumf(results_dir, models=None, extra=None) -> None:
    """Results shaped like notebook 01's: NeuMF first, EASE best on full ranking."""
    metrics = models or {
        "NeuMF": model_metrics(NEUMF_HR, 0.0912),
        "Popularity": model_metrics(0.41, 0.05),
        "EASE": model_metrics(0.64, 0.1011),
    }
    record_results(
        "01_neumf",
        quick=False,
        dataset={"name": "ml-100k", "source": "local", "n_users": 943,
                 "n_items": 1682, "n_interactions": 100000},
        parameters={"SEED": 42, "EPOCHS": 20, "RESULTS_DIR": "../results"},
        seconds={"total": 412.31},
        metrics=metrics,
        comparisons={"NeuMF vs EASE": {"metric": "sampled NDCG@10",
                                       "test": "paired t-test over users",
                                       "p_value": np.float64(0.0123)}},
        extra=extra if extra is not None else {
            "key_figures": ["01_training_curves.png", "01_missing"],
            "chance_hr10": 0.1,
            "best_epoch": {"NeuMF": np.int64(12)},
            "data_note": "Every rating counts as a positive.",
        },
        results_dir=results_dir,
    )  # fmt: skip


def write_later_notebook(results_dir) -> None:
    """A notebook unknown to SECTION_TEXT, without comparisons or figures."""
    record_results(
        "07_new_study",
        quick=True,
        dataset={"name": "ml-latest-small", "source": "cache", "n_users": 610,
                 "n_items": 9724, "n_interactions": 100836},
        parameters={"SEED": 42},
        seconds={"total": 3.5},
        metrics={"DeepWalk": {"link": {"AUC": entry(0.91, 0.01)}},
                 "node2vec": {"link": {"AUC": entry(0.93, float("nan"))}}},
        results_dir=results_dir,
    )  # fmt: skip


def write_figure(figures_dir, name: str) -> None:
    fig, ax = plt.subplots(figsize=(4, 2.5))
    ax.plot([0, 1, 2], [0.2, 0.5, 0.6])
    save_figure(fig, name, figures_dir)
    plt.close(fig)


def write_folders(root):
    results, figures = root / "results", root / "figures"
    write_neumf(results)
    write_later_notebook(results)
    write_figure(figures, "01_training_curves")
    write_figure(figures, "07_unlisted")  # found by its prefix, as 07 lists none
    return results, figures


@pytest.fixture
def folders(tmp_path):
    return write_folders(tmp_path)


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    """One PDF from the fake results, shared by the read-only tests below."""
    root = tmp_path_factory.mktemp("deck")
    results, figures = write_folders(root)
    pdf = report.build_presentation(results, figures, root / "out" / "deck.pdf")
    reader = PdfReader(pdf)
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def pdf_text(path) -> tuple[int, str]:
    reader = PdfReader(path)
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_build_presentation_pages_and_sections(deck):
    reader, text = deck

    # title, data, 01 (method, results, comparisons, more numbers, 1 figure),
    # 07 (method, results, 1 figure), conclusions
    assert len(reader.pages) == 11
    assert "01 · Neural collaborative filtering" in text
    assert "07 · New study" in text
    assert "Data and evaluation protocol" in text
    assert "Conclusions" in text


def test_build_presentation_quotes_neumf_hr(deck):
    _, text = deck

    assert f"{NEUMF_HR:.4f} ± 0.0100" in text


def test_build_presentation_slide_content(deck):
    _, text = deck

    assert "The MovieLens Datasets: History and Context" in text
    assert "100,000" in text
    assert "9,724" in text
    assert "p value" in text
    assert "p_value" not in text
    assert "0.0123" in text
    assert "chance hr10" in text
    assert "best epoch: NeuMF" in text
    assert "Every rating counts as a positive." in text
    assert "best full HR@10: EASE, 0.1011 ± 0.0040" in text
    assert "rank different models first" in text
    assert "0.9300 ± n/a" in text  # NaN std is stored as null
    assert "Quick-mode run" in text
    assert "make run" in text
    assert "RESULTS_DIR" not in text


def test_build_presentation_page_size_is_16_by_9(deck):
    reader, _ = deck

    for page in reader.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert width / height == pytest.approx(16 / 9, rel=1e-3)


def test_key_figures_skip_missing_with_warning(tmp_path, caplog):
    write_figure(tmp_path, "01_curves")
    listed = {"key_figures": ["01_missing", "01_curves"]}

    with caplog.at_level(logging.WARNING, logger="helpers.report"):
        found = report.key_figures("01_neumf", listed, tmp_path)

    assert found == [tmp_path / "01_curves.png"]
    assert "01_missing.png" in caplog.text


def test_key_figures_default_to_prefix_max_four(tmp_path):
    for i in range(6):
        write_figure(tmp_path, f"03_figure_{i}")
    write_figure(tmp_path, "04_other")

    found = report.key_figures("03_graph", {}, tmp_path)

    assert [p.name for p in found] == [f"03_figure_{i}.png" for i in range(4)]


def test_build_presentation_long_table_continues(tmp_path):
    models = {f"Model {i:02d}": model_metrics(0.5 + i / 100, 0.05) for i in range(12)}
    write_neumf(tmp_path, models=models, extra={})

    pdf = report.build_presentation(tmp_path, tmp_path, tmp_path / "d.pdf")
    n_pages, text = pdf_text(pdf)

    # title, data, method, results x2 (10 rows per slide), comparisons, conclusions
    assert n_pages == 7
    assert "results (continued)" in text
    assert "Model 11" in text


def test_build_presentation_core_font_fallback(folders, tmp_path, monkeypatch):
    results, figures = folders
    monkeypatch.setattr(report, "_font_files", lambda: None)
    write_neumf(results, extra={"data_note": "Ratings ≥ 4 → positive — ok"})

    pdf = report.build_presentation(results, figures, tmp_path / "core.pdf")
    _, text = pdf_text(pdf)

    assert f"{NEUMF_HR:.4f} ± 0.0100" in text
    assert "Ratings ? 4 ? positive - ok" in text


def test_build_presentation_without_results_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m helpers run"):
        report.build_presentation(tmp_path, tmp_path, tmp_path / "d.pdf")
    assert not (tmp_path / "d.pdf").exists()


def test_key_metric_first_model_sampled_hr():
    results = {"metrics": {"NeuMF": model_metrics(NEUMF_HR, 0.09)}, "extra": {}}

    assert report.key_metric(results) == ("NeuMF sampled HR@10", NEUMF_HR)


def test_key_metric_extra_overrides():
    results = {
        "metrics": {"NeuMF": model_metrics(NEUMF_HR, 0.09)},
        "extra": {"key_metric": {"name": "LIME-SHAP agreement", "value": 0.71}},
    }

    assert report.key_metric(results) == ("LIME-SHAP agreement", 0.71)


def test_key_metric_absent_is_none():
    assert report.key_metric({"metrics": {}, "extra": {}}) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.65432, "0.6543"), (100000, "100,000"), (512345.04, "512,345.0"),
     (None, "n/a"), (float("nan"), "n/a"), (True, "True")],
)  # fmt: skip
def test_format_number(value, expected):
    assert report.format_number(value) == expected


@pytest.mark.parametrize(
    ("entry", "expected"),
    [({"mean": 0.65432, "std": 0.01, "per_seed": [0.64, 0.66]}, "0.6543 ± 0.0100"),
     ({"mean": 0.65432, "std": 0.0, "per_seed": [0.65432]}, "0.6543"),
     ({"mean": 0.65432}, "0.6543"),
     ({"mean": 0.65432, "std": None, "per_seed": [0.6, 0.7]}, "0.6543 ± n/a")],
)  # fmt: skip
def test_format_mean_std_cases(entry, expected):
    assert report.format_mean_std(entry) == expected


def _write_recorded_at(results_dir, value: str):
    """Write notebook 01's fake results with ``recorded_at`` set to ``value``."""
    write_neumf(results_dir)
    path = results_dir / "01_neumf.json"
    data = json.loads(path.read_text())
    data["recorded_at"] = value
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("value", ["2026-01-02T03:04:05+00:00", "2026-01-02T03:04:05"])
def test_recorded_at_read_from_file(tmp_path, value):
    _write_recorded_at(tmp_path, value)
    (loaded,) = report.load_all_results(tmp_path)
    assert loaded.recorded == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_recorded_at_invalid_uses_file_time(tmp_path, caplog):
    path = _write_recorded_at(tmp_path, "yesterday")
    with caplog.at_level(logging.WARNING):
        (loaded,) = report.load_all_results(tmp_path)
    assert loaded.recorded == datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    assert "invalid recorded_at 'yesterday'" in caplog.text


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"[1, 2]", "expected a JSON object at the top level, got list"),
        (b'{"metrics": []}', "'metrics' must be an object"),
        (b'{"metrics": {"A": {"sampled": {"HR@10": 0.5}}}}',
         "metrics['A']['sampled']['HR@10'] must be an object with a 'mean'"),
        (b'{"metrics": {"A": {"sampled": {"HR@10": {"mean": "high"}}}}}',
         "metrics['A']['sampled']['HR@10']['mean'] must be a number or null"),
        (b"\xff\xfe\x00binary", "is not valid JSON"),
    ],
)  # fmt: skip
def test_read_results_rejects_bad_layout(tmp_path, content, problem):
    path = tmp_path / "01_bad.json"
    path.write_bytes(content)
    with pytest.raises(ValueError) as raised:
        report.read_results(path)
    assert str(path) in str(raised.value)
    assert problem in str(raised.value)


def test_comparison_rows_drop_repeated_field():
    comparisons = {
        "A vs B": {"metric": "sampled NDCG@10", "test": "paired t-test",
                   "p_value": 0.01, "mean_difference": 0.02, "t_p_value": 0.01,
                   "wilcoxon_p_value": 0.2},
        "A vs C": {"metric": "sampled NDCG@10", "test": "paired t-test",
                   "p_value": 0.03, "mean_difference": 0.01, "t_p_value": 0.03,
                   "wilcoxon_p_value": 0.4},
    }  # fmt: skip
    header, rows = report.comparison_rows(comparisons)
    assert header == ["comparison", "metric", "test", "p value", "mean difference",
                      "wilcoxon p value"]  # fmt: skip
    assert rows[0][-1] == "0.2000"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(158.0, "158"), (7.1e-15, "7.1e-15"), (0.5, "0.5000"), (0.0, "0"), (12, "12"),
     (None, "n/a")],
)  # fmt: skip
def test_format_fact(value, expected):
    assert report.format_fact(value) == expected


def test_format_p_value_small_uses_exponent():
    assert report.format_p_value(0.0123) == "0.0123"
    assert report.format_p_value(2e-6) == "2.0e-06"
    assert report.format_p_value(None) == "n/a"


def test_metric_columns_prefer_hr_and_ndcg():
    metrics = {"A": {"sampled": {"MRR": entry(0.3, 0), "HR@10": entry(0.6, 0)}}}

    assert report.metric_columns(metrics) == [("sampled", "HR@10")]


def test_metric_columns_fall_back_to_first_four():
    metrics = {"A": {"link": {"AUC": entry(0.9, 0), "AP": entry(0.8, 0)}}}

    assert report.metric_columns(metrics) == [("link", "AUC"), ("link", "AP")]


def test_scalar_facts_keep_numbers_only():
    extra = {
        "key_figures": ["01_a.png"],
        "walk_steps_per_s": 512345.0,
        "agreement": {"LIME vs SHAP": 0.71, "label": "text"},
        "names": ["a", "b"],
        "title": "text",
    }

    assert report.scalar_facts(extra) == [
        ("walk steps per s", "512,345"),
        ("agreement: LIME vs SHAP", "0.7100"),
    ]


def test_build_presentation_shows_all_models_table(tmp_path):
    rows = [
        {"model": "NeuMF", "notebook": "01_neumf", "sampled HR@10": 0.6458},
        {"model": "Attention", "notebook": "04_attention", "sampled HR@10": 0.7529},
    ]
    record_results(
        "04_attention", quick=False, dataset={"name": "ml-100k"}, parameters={},
        seconds={"total": 1.0}, metrics={}, extra={"all_models_table": rows},
        results_dir=tmp_path,
    )  # fmt: skip
    pdf = report.build_presentation(tmp_path, tmp_path, tmp_path / "deck.pdf")
    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "every model on the same protocol" in text
    assert "0.7529" in text
    assert "04_attention" in text


def test_is_record_list_requires_shared_keys():
    assert report.is_record_list([{"a": 1}, {"a": 2}])
    assert not report.is_record_list([{"a": 1}, {"b": 2}])
    assert not report.is_record_list([])
    assert not report.is_record_list([1, 2])
