"""Build the presentation PDF from ``results/*.json`` and the exported figures.

Every slide after the title and data slides comes from a notebook's results
file: a method slide, the metrics table, comparisons and other numbers from
``extra``, then its key figures. A notebook added later gets its slides without
code changes; only its two-line description belongs in ``SECTION_TEXT``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from helpers.protocol import N_EVAL_NEGATIVES, TOP_K

log = logging.getLogger(__name__)

PROJECT_NAME = "Movie Recommendation AI"
SUBTITLE = "Neural, explainable, graph and attention recommenders on MovieLens"
CITATION = (
    'F. Maxwell Harper and Joseph A. Konstan, "The MovieLens Datasets: History and '
    'Context", ACM TiiS 5(4), 2015'
)
LICENSE_LINE = (
    "MovieLens data sets: GroupLens Research, University of Minnesota. Used under "
    "the GroupLens usage license: research use, no endorsement implied, no "
    "commercial use without permission; publications cite"
)
REPRODUCE = (
    "Reproduce: make run (every notebook on the real data, then this PDF from "
    "results/ and presentation/figures/); make quick runs a fast check that "
    "writes to build/quick/."
)
QUICK_WARNING = (
    "Quick-mode run: fewer epochs and seeds, so these numbers check the pipeline "
    "and are not results."
)
# NOTE: this text describes the leave-last-out protocol of notebooks 01, 02 and 04.
# A notebook with its own split, such as 03, must describe it in its SECTION_TEXT
# entry or in extra["data_note"], because the data slide does not.
PROTOCOL_TEXT = (
    "Implicit feedback: every rated (user, movie) pair is a positive, every other "
    "pair unobserved.",
    "Leave-last-out by time: each user's latest interaction is the test item, the "
    "second latest the validation item, the rest is training data.",
    f"Sampled ranking: the test movie against {N_EVAL_NEGATIVES} movies the user "
    "never rated, drawn once with a fixed seed and shared by every model. Full "
    "ranking: against every movie the user has not rated.",
    f"HR@{TOP_K} and NDCG@{TOP_K}, with ties counted against the model. Mean ± "
    "standard deviation over seeds, and paired tests over users between models.",
)
DATASET_LABELS = {
    "ml-100k": "MovieLens 100K",
    "ml-latest-small": "MovieLens Latest Small",
    "ml-1m": "MovieLens 1M",
    "ml-25m": "MovieLens 25M",
}

# The only per-notebook code: slide title and a short description of the method.
SECTION_TEXT: dict[str, tuple[str, str]] = {
    "01_neumf": (
        "01 · Neural collaborative filtering",
        "GMF, an MLP and their fusion NeuMF (He et al., WWW 2017), with NeuMF "
        "initialised from the pre-trained GMF and MLP, against Popularity, ItemKNN, "
        "BPR-MF and EASE. Every model is trained on the same leave-last-out split "
        "and ranked against the same candidates.",
    ),
    "02_explainability": (
        "02 · Explaining a feature-aware recommender",
        "A model that adds user demographics (age, gender, occupation) and movie "
        "metadata (genres, year, popularity) to the ids. LIME, SHAP and Captum "
        "explain the same predictions field by field. The notebook measures how "
        "far they agree and whether deleting the top fields moves the score more "
        "than deleting random ones, and runs a sanity check on a randomised model.",
    ),
    "03_graph_embeddings": (
        "03 · Graph embeddings of movies",
        "A movie-similarity graph from MovieLens Latest Small, weighted random walks "
        "(DeepWalk, and node2vec with return parameter p and in-out parameter q) and "
        "a Skip-Gram model with negative sampling in PyTorch. The embeddings are "
        "judged by genre coherence of neighbours, link prediction and "
        "recommendation on a held-out split.",
    ),
    "04_attention": (
        "04 · Attention over history and features",
        "Attention over each user's viewing history and across feature fields, "
        "compared on the shared protocol with NeuMF and with an ablation that "
        "removes the attention. Attention weights are shown for real users.",
    ),
}

# Metric columns of the results tables, in this order, when a notebook has them.
PREFERRED_COLUMNS = (
    ("sampled", f"HR@{TOP_K}"),
    ("sampled", f"NDCG@{TOP_K}"),
    ("full", f"HR@{TOP_K}"),
    ("full", f"NDCG@{TOP_K}"),
)
HIGHER_IS_BETTER = re.compile(r"^(HR|NDCG|MRR|AUC|AP|MAP|Recall|Precision)\b", re.I)
RESERVED_EXTRA = frozenset({"key_metric", "key_figures", "data_note"})
HIDDEN_PARAMETERS = frozenset({"RESULTS_DIR", "FIGURES_DIR", "DATA_DIR", "PROGRESS"})
RESULTS_NAME = re.compile(r"^\d{2}_\w+\.json$")
MAX_FIGURES = 4
MAX_TABLE_ROWS = 10
MAX_COMPARISON_COLUMNS = 5

# 16:9 slides, 10 x 5.625 inches, in millimetres.
PAGE_WIDTH, PAGE_HEIGHT = 254.0, 142.875
MARGIN = 12.0
CONTENT_TOP = 27.0
ACCENT = (31, 78, 121)
MUTED = (90, 90, 90)
WARNING = (170, 40, 30)


@dataclass
class NotebookResults:
    """One notebook's results file and when it was written."""

    name: str
    data: dict
    recorded: datetime

    @property
    def title(self) -> str:
        return section_title(self.name)


# ------------------------------------------------------------------ reading


def read_results(path: str | os.PathLike) -> dict:
    """Parse one results JSON file (the layout that ``record_results`` writes).

    Raises:
        ValueError: the file is not UTF-8 JSON, or its top level, ``metrics``,
            ``comparisons`` or ``extra`` do not have that layout; the message
            names the file and the invalid part.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error
    problem = _layout_problem(data)
    if problem:
        raise ValueError(f"{path} is not a results file: {problem}")
    return data


def _layout_problem(data: object) -> str | None:
    """Return a description of the first layout problem, or ``None`` if none."""
    if not isinstance(data, dict):
        return f"expected a JSON object at the top level, got {type(data).__name__}"
    for key in ("metrics", "comparisons", "extra"):
        if not isinstance(data.get(key, {}), dict):
            return f"{key!r} must be an object"
    for model, protocols in data.get("metrics", {}).items():
        if not isinstance(protocols, dict):
            return f"metrics[{model!r}] must map protocols to metrics"
        for protocol, values in protocols.items():
            if not isinstance(values, dict):
                return f"metrics[{model!r}][{protocol!r}] must map metric names"
            for metric, entry in values.items():
                where = f"metrics[{model!r}][{protocol!r}][{metric!r}]"
                if not isinstance(entry, dict) or "mean" not in entry:
                    return f"{where} must be an object with a 'mean'"
                if entry["mean"] is not None and not _is_number(entry["mean"]):
                    return f"{where}['mean'] must be a number or null"
    return None


def load_all_results(results_dir: str | os.PathLike) -> list[NotebookResults]:
    """Read every ``NN_name.json`` in ``results_dir``, sorted by notebook name.

    Raises:
        FileNotFoundError: the folder contains no results files.
    """
    results_dir = Path(results_dir)
    paths = sorted(p for p in results_dir.glob("*.json") if RESULTS_NAME.match(p.name))
    if not paths:
        raise FileNotFoundError(
            f"no NN_name.json results in {results_dir}; run the notebooks first "
            "(python -m helpers run)"
        )
    notebooks = []
    for path in paths:
        data = read_results(path)
        notebooks.append(
            NotebookResults(
                name=path.stem, data=data, recorded=_recorded_at(data, path)
            )
        )
    return notebooks


def _recorded_at(data: dict, path: Path) -> datetime:
    """Return the run's ``recorded_at`` time, else the file's modification time.

    Files written before ``recorded_at`` existed fall back to the modification
    time, which a fresh git checkout resets to the checkout time.
    """
    stamp = data.get("recorded_at")
    if isinstance(stamp, str):
        try:
            recorded = datetime.fromisoformat(stamp)
        except ValueError:
            log.warning("%s: invalid recorded_at %r; using the file time", path, stamp)
        else:
            # A time without a zone is read as UTC, so that all dates compare.
            return recorded if recorded.tzinfo else recorded.replace(tzinfo=UTC)
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def section_title(notebook: str) -> str:
    """Slide title of a notebook: from ``SECTION_TEXT``, else from its file name."""
    if notebook in SECTION_TEXT:
        return SECTION_TEXT[notebook][0]
    number, _, rest = notebook.partition("_")
    return f"{number} · {rest.replace('_', ' ').capitalize()}"


def key_metric(results: dict) -> tuple[str, float] | None:
    """Pick the one number that sums up a notebook run, as ``(label, value)``.

    ``extra["key_metric"] = {"name": ..., "value": ...}`` wins when present;
    otherwise the sampled HR@10 mean of the first model in ``metrics`` that has
    one, so notebooks list their main model first. ``None`` when neither exists.
    """
    chosen = (results.get("extra") or {}).get("key_metric")
    if isinstance(chosen, dict) and "name" in chosen and "value" in chosen:
        return str(chosen["name"]), chosen["value"]
    protocol, metric = PREFERRED_COLUMNS[0]
    for model, protocols in (results.get("metrics") or {}).items():
        mean = (protocols.get(protocol) or {}).get(metric, {}).get("mean")
        if mean is not None:
            return f"{model} {protocol} {metric}", mean
    return None


# --------------------------------------------------------------- formatting


def format_number(value: float | int | None) -> str:
    """Format floats with four decimals (thousands separators from 1,000 on).

    Integers get thousands separators. ``None`` (a NaN stored as JSON ``null``)
    and non-finite values print as ``n/a``; other types print as ``str()``.
    """
    if value is None:
        return "n/a"
    if not _is_number(value):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return "n/a"
    return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.4f}"


def format_fact(value: float | int | None) -> str:
    """Format one fact of ``extra``: whole floats as integers, tiny ones as exponents.

    Anything else prints as :func:`format_number` does (so ``158.0`` prints as
    ``158`` and ``7.1e-15`` as ``7.1e-15``, not as ``0.0000``).
    """
    if isinstance(value, float) and math.isfinite(value):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        if 0 < abs(value) < 1e-4:
            return f"{value:.1e}"
    return format_number(value)


def format_p_value(value: float | None) -> str:
    """Format a p-value with four decimals, or in scientific notation below 0.0001."""
    if not _is_number(value) or not math.isfinite(value):
        return "n/a"
    return f"{value:.1e}" if value < 1e-4 else f"{value:.4f}"


def format_mean_std(entry: dict) -> str:
    """Format a ``{"mean", "std", "per_seed"}`` entry as ``"0.6543 ± 0.0123"``.

    An entry without a ``std`` key, or from a single run (one ``per_seed``
    value), prints its mean only; a ``null`` std prints as ``± n/a``.
    """
    if "std" not in entry or len(entry.get("per_seed") or []) == 1:
        return format_number(entry.get("mean"))
    return f"{format_number(entry.get('mean'))} ± {format_number(entry['std'])}"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _label(key: str) -> str:
    return key.replace("_", " ")


# ------------------------------------------------------------ table content


def metric_columns(metrics: dict) -> list[tuple[str, str]]:
    """Choose the ``(protocol, metric)`` columns of a results table.

    The sampled and full HR@10 and NDCG@10 when the notebook has any of them,
    else the first four pairs found, in order of appearance.
    """
    present: list[tuple[str, str]] = []
    for protocols in metrics.values():
        for protocol, values in protocols.items():
            for metric in values:
                if (protocol, metric) not in present:
                    present.append((protocol, metric))
    preferred = [column for column in PREFERRED_COLUMNS if column in present]
    return preferred or present[:4]


def metrics_rows(metrics: dict, columns: Sequence[tuple[str, str]]):
    """Format one row of ``"mean ± std"`` strings per model and find cells to bold.

    Returns:
        ``(rows, bold)``: rows start with the model name; ``bold`` contains
        ``(row, column)`` positions of the best mean in each column whose
        metric is higher-is-better (HR, NDCG, MRR, AUC, AP, MAP, recall, precision).
    """
    models = list(metrics)
    rows = []
    for model in models:
        cells = [model]
        for protocol, metric in columns:
            entry = (metrics[model].get(protocol) or {}).get(metric)
            cells.append(format_mean_std(entry) if entry else "-")
        rows.append(cells)
    bold = set()
    for col, (protocol, metric) in enumerate(columns, start=1):
        best = best_model(metrics, protocol, metric)
        if best is not None and HIGHER_IS_BETTER.match(metric):
            bold.add((models.index(best[0]), col))
    return rows, bold


def best_model(metrics: dict, protocol: str, metric: str) -> tuple[str, dict] | None:
    """Find the model with the highest mean for ``protocol``/``metric``.

    Returns:
        ``(model, entry)``, or ``None`` when no model has a mean for that metric.
    """
    candidates = [
        (model, (protocols.get(protocol) or {}).get(metric))
        for model, protocols in metrics.items()
    ]
    candidates = [(m, e) for m, e in candidates if e and e.get("mean") is not None]
    if not candidates:
        return None
    return max(candidates, key=lambda item: item[1]["mean"])


def seed_counts(metrics: dict) -> list[int]:
    """Count the seeds behind each entry of ``metrics``; return the distinct counts."""
    counts = {
        len(entry.get("per_seed") or [])
        for protocols in metrics.values()
        for values in protocols.values()
        for entry in values.values()
    }
    return sorted(counts)


def comparison_rows(comparisons: dict) -> tuple[list[str], list[list[str]]]:
    """Build the header and rows of the comparisons table.

    Fields whose name contains ``p_value`` print as p-values, other numbers
    with four decimals and strings as they are. A field that repeats an earlier
    field in every comparison (such as ``t_p_value`` beside ``p_value``) is
    left out, so that the column limit keeps distinct results.
    """
    comparisons = {name: _comparison_fields(v) for name, v in comparisons.items()}
    keys: list[str] = []
    for fields in comparisons.values():
        keys.extend(k for k in fields if k not in keys)

    def repeats_earlier(index: int) -> bool:
        return any(
            all(f.get(keys[index]) == f.get(earlier) for f in comparisons.values())
            for earlier in keys[:index]
        )

    keys = [key for i, key in enumerate(keys) if not repeats_earlier(i)]
    keys = keys[:MAX_COMPARISON_COLUMNS]
    rows = []
    for name, fields in comparisons.items():
        row = [name]
        for key in keys:
            value = fields.get(key)
            if "p_value" in key:
                row.append(format_p_value(value))
            else:
                row.append(
                    format_number(value) if _is_number(value) else str(value or "-")
                )
        rows.append(row)
    return ["comparison", *(_label(k) for k in keys)], rows


def _comparison_fields(value: object) -> dict:
    """Return a comparison's fields; a bare number is taken as its p-value."""
    return value if isinstance(value, dict) else {"p_value": value}


def scalar_facts(extra: dict) -> list[tuple[str, str]]:
    """Collect the numbers of ``extra``: top-level ones and one level of nesting.

    Lists, strings and the reserved keys (key metric, key figures, data note)
    are left out; nested keys print as ``"parent: child"``.
    """
    facts = []
    for key, value in extra.items():
        if key in RESERVED_EXTRA:
            continue
        if _is_number(value) or value is None:
            facts.append((_label(key), format_fact(value)))
        elif isinstance(value, dict):
            facts.extend(
                (f"{_label(key)}: {_label(str(inner))}", format_fact(number))
                for inner, number in value.items()
                if _is_number(number)
            )
    return facts


def key_figures(name: str, extra: dict, figures_dir: Path) -> list[Path]:
    """Find the figures for a notebook's slides, at most ``MAX_FIGURES``.

    The files listed in ``extra["key_figures"]`` (names in ``figures_dir``; a
    name without a suffix means ``.png``), else every ``<NN>_*.png`` there.
    """
    listed = extra.get("key_figures")
    if listed:
        paths = [figures_dir / Path(n).name for n in listed]
        paths = [p if p.suffix else p.with_suffix(".png") for p in paths]
        for missing in (p for p in paths if not p.is_file()):
            log.warning("%s lists figure %s, which is missing", name, missing.name)
        found = [p for p in paths if p.is_file()]
    else:
        found = sorted(figures_dir.glob(f"{name[:2]}_*.png"))
    return found[:MAX_FIGURES]


def conclusion_lines(notebook: NotebookResults) -> list[str]:
    """Write short statements from one notebook's numbers.

    They name the best model per protocol, the key metric and the first three
    comparisons with their p-values.
    """
    data = notebook.data
    metrics = data.get("metrics") or {}
    columns = metric_columns(metrics)
    # The HR@10 column of each protocol; a notebook without one uses its first column.
    headline = [c for c in columns if c[1] == f"HR@{TOP_K}"] or columns[:1]
    lines = []
    winners = {}
    for protocol, metric in headline:
        best = best_model(metrics, protocol, metric)
        if best is not None:
            winners[protocol] = best[0]
            lines.append(
                f"best {protocol} {metric}: {best[0]}, {format_mean_std(best[1])}"
            )
    if len(set(winners.values())) > 1:
        protocols = " and ".join(winners)
        lines.append(f"the {protocols} protocols rank different models first")
    chosen = (data.get("extra") or {}).get("key_metric")
    if isinstance(chosen, dict) and "name" in chosen:
        lines.append(f"{chosen['name']}: {format_number(chosen.get('value'))}")
    for name, fields in list((data.get("comparisons") or {}).items())[:3]:
        lines.extend(_comparison_sentence(name, _comparison_fields(fields)))
    return lines


def _comparison_sentence(name: str, fields: dict) -> list[str]:
    """Return ``["A vs B on <metric>: p value = 0.0123, significant at 0.05"]``.

    The list is empty when the comparison has no p-value field.
    """
    keys = [k for k in fields if "p_value" in k]
    keys.sort(key=lambda k: (k != "p_value", k != "t_p_value"))
    if not keys:
        return []
    p_value = fields[keys[0]]
    metric = f" on {fields['metric']}" if fields.get("metric") else ""
    sentence = f"{name}{metric}: {_label(keys[0])} = {format_p_value(p_value)}"
    if _is_number(p_value) and math.isfinite(p_value):
        verdict = "significant" if p_value < 0.05 else "not significant"
        sentence += f", {verdict} at 0.05"
    return [sentence]


# ------------------------------------------------------------------- slides


def _font_files() -> dict[str, Path] | None:
    """Locate DejaVu Sans in matplotlib's bundled fonts; ``None`` if absent."""
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    files = {
        "": folder / "DejaVuSans.ttf",
        "B": folder / "DejaVuSans-Bold.ttf",
        "I": folder / "DejaVuSans-Oblique.ttf",
    }
    return files if all(p.is_file() for p in files.values()) else None


class Slides(FPDF):
    """16:9 landscape pages with a title bar, a footer and a few text helpers.

    Text uses DejaVu Sans for full Unicode. When matplotlib's copy is missing,
    the core Helvetica font is used and text outside Latin-1 is replaced.
    """

    def __init__(self) -> None:
        super().__init__(orientation="L", unit="mm", format=(PAGE_HEIGHT, PAGE_WIDTH))
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN)
        self.slide_title = ""
        fonts = _font_files()
        if fonts:
            for style, path in fonts.items():
                self.add_font("DejaVu", style, str(path))
            self.text_font = "DejaVu"
        else:
            log.warning("DejaVu Sans not found; using Helvetica, Latin-1 text only")
            self.text_font = "Helvetica"

    def normalize_text(self, text: str) -> str:
        if not self.is_ttf_font:
            swaps = {"–": "-", "—": "-", "’": "'", "“": '"', "”": '"', "•": "-"}
            text = "".join(swaps.get(ch, ch) for ch in text)
            text = text.encode("latin-1", "replace").decode("latin-1")
        return super().normalize_text(text)

    def header(self) -> None:
        if not self.slide_title:
            return
        self.set_xy(MARGIN, 9)
        size = 19.0
        self.set_font(self.text_font, "B", size)
        # Long titles shrink to fit one line, down to 12 pt, then lose their end.
        title = self.slide_title
        while size > 12 and self.get_string_width(title) > self.epw:
            size -= 1
            self.set_font(self.text_font, "B", size)
        while len(title) > 4 and self.get_string_width(title) > self.epw:
            title = title[:-4].rstrip() + "..."
        self.set_text_color(*ACCENT)
        self.cell(0, 10, title)
        self.set_draw_color(*ACCENT)
        self.set_line_width(0.6)
        self.line(MARGIN, 21, PAGE_WIDTH - MARGIN, 21)
        self.set_text_color(0)
        self.set_y(CONTENT_TOP)

    def footer(self) -> None:
        if self.page_no() == 1:
            return
        self.set_xy(MARGIN, PAGE_HEIGHT - 8)
        self.set_font(self.text_font, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 4, PROJECT_NAME)
        self.set_x(MARGIN)
        self.cell(0, 4, str(self.page_no()), align="R")
        self.set_text_color(0)

    def new_slide(self, title: str) -> None:
        self.slide_title = title
        self.add_page()

    def paragraph(self, text: str, size: float = 13, style: str = "", color=(0, 0, 0)):
        self.set_font(self.text_font, style, size)
        self.set_text_color(*color)
        self.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)
        self.ln(size * 0.2)

    def bullets(self, items: Sequence[str], size: float = 12) -> None:
        self.set_font(self.text_font, "", size)
        for item in items:
            self.set_x(MARGIN + 2)
            self.cell(5, size * 0.5, "•")
            self.multi_cell(
                0, size * 0.5, item, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )
            self.ln(size * 0.15)

    def data_table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        col_widths: Sequence[float],
        bold: set[tuple[int, int]] | frozenset = frozenset(),
        size: float = 10,
    ) -> None:
        """Draw a table with a coloured heading; ``bold`` lists ``(row, column)``."""
        self.set_font(self.text_font, "", size)
        heading = FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=ACCENT)
        strong = FontFace(emphasis="BOLD")
        aligns = ("LEFT",) + ("CENTER",) * (len(header) - 1)
        with self.table(
            col_widths=tuple(col_widths),
            text_align=aligns,
            headings_style=heading,
            cell_fill_color=(240, 243, 248),
            cell_fill_mode="ROWS",
            line_height=size * 0.55,
            padding=(1.2, 1.5),
        ) as table:
            table.row(list(header))
            for r, cells in enumerate(rows):
                row = table.row()
                for c, text in enumerate(cells):
                    row.cell(text, style=strong if (r, c) in bold else None)
        self.ln(2)


def _table_slides(pdf, title, header, rows, col_widths, footnote="", bold=frozenset()):
    """Spread a table over as many slides as needed, ``MAX_TABLE_ROWS`` rows each."""
    for index, start in enumerate(range(0, len(rows), MAX_TABLE_ROWS)):
        chunk = rows[start : start + MAX_TABLE_ROWS]
        pdf.new_slide(title if index == 0 else f"{title} (continued)")
        shifted = {(r - start, c) for r, c in bold if start <= r < start + len(chunk)}
        pdf.data_table(header, chunk, col_widths, bold=shifted)
        if footnote:
            pdf.paragraph(footnote, size=9, color=MUTED)


def _datasets(notebook: NotebookResults) -> list[dict]:
    """Return the ``dataset`` entry of a results file as a list of data sets."""
    dataset = notebook.data.get("dataset") or {}
    entries = dataset if isinstance(dataset, list) else [dataset]
    return [e for e in entries if isinstance(e, dict) and e.get("name")]


def _dataset_label(name: str) -> str:
    return DATASET_LABELS.get(name, name)


def title_slide(pdf: Slides, notebooks: Sequence[NotebookResults]) -> None:
    """Add the title slide: project, date of the newest results, data, citation."""
    pdf.slide_title = ""
    pdf.add_page()
    newest = max(nb.recorded for nb in notebooks)
    pdf.set_y(30)
    pdf.paragraph(PROJECT_NAME, size=30, style="B", color=ACCENT)
    pdf.paragraph(SUBTITLE, size=15)
    pdf.ln(4)
    pdf.paragraph(f"Results of {newest:%d %B %Y}", size=12, color=MUTED)
    if any(nb.data.get("quick") for nb in notebooks):
        pdf.paragraph(QUICK_WARNING, size=12, style="B", color=WARNING)
    sets = sorted(
        {(e["name"], e.get("source", "?")) for nb in notebooks for e in _datasets(nb)}
    )
    used = "; ".join(f"{_dataset_label(n)} ({n}, source: {s})" for n, s in sets)
    pdf.paragraph(f"Data: {used or 'not recorded'}", size=11)
    pdf.set_y(PAGE_HEIGHT - 30)
    pdf.paragraph(f"{LICENSE_LINE}: {CITATION}.", size=8.5, color=MUTED)


def data_slide(pdf: Slides, notebooks: Sequence[NotebookResults]) -> None:
    """Add the data slide: recorded data set sizes and the ranking protocol."""
    groups: dict[tuple, list[str]] = {}
    for nb in notebooks:
        for e in _datasets(nb):
            sizes = (e.get("n_users"), e.get("n_items"), e.get("n_interactions"))
            key = (e["name"], e.get("source", "?"), *sizes)
            groups.setdefault(key, []).append(nb.name[:2])
    rows = [
        [
            _dataset_label(name),
            source,
            *(format_number(n) for n in sizes),
            ", ".join(nbs),
        ]
        for (name, source, *sizes), nbs in groups.items()
    ]
    header = ["data set", "source", "users", "movies", "interactions", "notebooks"]
    pdf.new_slide("Data and evaluation protocol")
    if rows:
        pdf.data_table(header, rows, (3, 1.6, 1.2, 1.2, 1.6, 1.6))
    pdf.ln(2)
    pdf.bullets(PROTOCOL_TEXT, size=11)


def run_facts(notebook: NotebookResults) -> list[str]:
    """Describe a run in short lines: data sets, mode, time, seeds, parameters."""
    data = notebook.data
    lines = []
    for e in _datasets(notebook):
        keys = ("n_users", "n_items", "n_interactions")
        users, items, interactions = (format_number(e.get(k)) for k in keys)
        lines.append(
            f"Data: {_dataset_label(e['name'])}, {users} users, {items} movies, "
            f"{interactions} interactions (source: {e.get('source', '?')})"
        )

    total = (data.get("seconds") or {}).get("total")
    total = f"{total:,.1f}" if _is_number(total) else "n/a"
    mode = "quick" if data.get("quick") else "full"
    seeds = "/".join(str(n) for n in seed_counts(data.get("metrics") or {})) or "-"
    lines.append(f"Run: {mode} mode, {total} s in total, {seeds} seed(s) per model")

    parameters = data.get("parameters") or {}
    knobs = [f"{k}={v}" for k, v in parameters.items() if k not in HIDDEN_PARAMETERS]
    if knobs:
        text = ", ".join(knobs)
        lines.append(f"Parameters: {text if len(text) <= 300 else text[:297] + '...'}")
    return lines


def method_slide(pdf: Slides, notebook: NotebookResults) -> None:
    """Add a notebook's method slide: description, run facts and data note."""
    pdf.new_slide(notebook.title)
    fallback = f"See notebooks/{notebook.name}.ipynb for the method."
    pdf.paragraph(SECTION_TEXT.get(notebook.name, ("", fallback))[1], size=13)
    pdf.ln(2)
    pdf.bullets(run_facts(notebook), size=10.5)

    note = (notebook.data.get("extra") or {}).get("data_note")
    if note:
        pdf.paragraph(f"Data note: {note}", size=10.5, style="I")
    if notebook.data.get("quick"):
        pdf.paragraph(QUICK_WARNING, size=10.5, style="B", color=WARNING)


def results_slides(pdf: Slides, notebook: NotebookResults) -> None:
    """Add the metrics table: models as rows, ``mean ± std`` per metric column."""
    metrics = notebook.data.get("metrics") or {}
    if not metrics:
        return
    columns = metric_columns(metrics)
    rows, bold = metrics_rows(metrics, columns)
    seeds = "/".join(str(n) for n in seed_counts(metrics))
    negatives = (notebook.data.get("parameters") or {}).get(
        "N_EVAL_NEGATIVES", N_EVAL_NEGATIVES
    )
    footnote = (
        f"Mean ± sample standard deviation over {seeds} seed(s); best mean per "
        "column in bold."
    )
    if 1 in seed_counts(metrics):
        footnote += " Models run once (deterministic ones) show the value alone."
    protocols = {protocol for protocol, _ in columns}
    if protocols & {"sampled", "full"}:
        footnote += (
            f" Sampled: the held-out movie against {negatives} unrated movies; "
            "full: against every movie the user has not rated."
        )
    header = ["model", *(f"{p} {m}" for p, m in columns)]
    widths = (1.6, *([2] * len(columns)))
    _table_slides(
        pdf, f"{notebook.title}: results", header, rows, widths, footnote, bold
    )


def extra_slides(pdf: Slides, notebook: NotebookResults) -> None:
    """Add slides for the comparisons and the numbers in ``extra``, if any."""
    comparisons = notebook.data.get("comparisons") or {}
    if comparisons:
        header, rows = comparison_rows(comparisons)
        widths = (2.4, *([1.3] * (len(header) - 1)))
        footnote = "p-values below 0.0001 in scientific notation; n/a: undefined."
        title = f"{notebook.title}: comparisons"
        _table_slides(pdf, title, header, rows, widths, footnote)
    extra = notebook.data.get("extra") or {}
    facts = scalar_facts(extra)
    if facts:
        rows = [list(fact) for fact in facts]
        title = f"{notebook.title}: more numbers"
        _table_slides(pdf, title, ["measure", "value"], rows, (3, 1))
    for key, records in extra.items():
        if key in TABLE_TITLES and is_record_list(records):
            header = list(records[0])
            rows = [
                [_cell(record.get(column)) for column in header] for record in records
            ]
            widths = (2.2, *([1.2] * (len(header) - 1)))
            _table_slides(
                pdf, f"{notebook.title}: {TABLE_TITLES[key]}", header, rows, widths
            )


# Keys of ``extra`` holding a list of records (same keys each), shown as a table
# under the given slide title.
TABLE_TITLES = {"all_models_table": "every model on the same protocol"}


def is_record_list(value: object) -> bool:
    """Return whether ``value`` is a non-empty list of dicts that share their keys."""
    if not isinstance(value, list) or not value:
        return False
    if not all(isinstance(item, dict) for item in value):
        return False
    return all(list(item) == list(value[0]) for item in value)


def _cell(value: object) -> str:
    return format_number(value) if _is_number(value) else str(value)


def figure_slides(pdf: Slides, notebook: NotebookResults, figures_dir: Path) -> None:
    """Add one slide per key figure, scaled to fit below the title."""
    extra = notebook.data.get("extra") or {}
    for path in key_figures(notebook.name, extra, figures_dir):
        label = _label(path.stem.partition("_")[2] or path.stem)
        pdf.new_slide(f"{notebook.title}: {label}")
        pdf.image(
            path,
            x=MARGIN,
            y=CONTENT_TOP,
            w=PAGE_WIDTH - 2 * MARGIN,
            h=PAGE_HEIGHT - CONTENT_TOP - MARGIN,
            keep_aspect_ratio=True,
        )


def conclusions_slide(pdf: Slides, notebooks: Sequence[NotebookResults]) -> None:
    """Add the conclusions read off each notebook's numbers, then how to reproduce."""
    pdf.new_slide("Conclusions")
    for notebook in notebooks:
        lines = conclusion_lines(notebook)
        if not lines:
            continue
        pdf.paragraph(notebook.title, size=12, style="B")
        pdf.bullets(lines, size=10.5)
    if any(nb.data.get("quick") for nb in notebooks):
        pdf.paragraph(QUICK_WARNING, size=10.5, style="B", color=WARNING)
    pdf.ln(2)
    pdf.paragraph(REPRODUCE, size=10.5, color=MUTED)


def build_presentation(
    results_dir: str | os.PathLike,
    figures_dir: str | os.PathLike,
    output_pdf: str | os.PathLike,
) -> Path:
    """Write the presentation PDF from results files and figures; return its path.

    The slides are the title and the data protocol, then for each results file a
    method slide, the results table, comparisons and other numbers from
    ``extra`` when present, and up to ``MAX_FIGURES`` figure slides. The
    conclusions come last.

    Raises:
        FileNotFoundError: ``results_dir`` contains no ``NN_name.json`` files.
    """
    notebooks = load_all_results(results_dir)
    figures_dir = Path(figures_dir)
    pdf = Slides()
    pdf.set_title(f"{PROJECT_NAME}: results")
    pdf.set_creation_date(max(nb.recorded for nb in notebooks))
    title_slide(pdf, notebooks)
    data_slide(pdf, notebooks)
    for notebook in notebooks:
        method_slide(pdf, notebook)
        results_slides(pdf, notebook)
        extra_slides(pdf, notebook)
        figure_slides(pdf, notebook, figures_dir)
    conclusions_slide(pdf, notebooks)
    output_pdf = Path(output_pdf)
    output_pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(output_pdf))
    log.info("wrote %s (%d pages)", output_pdf.name, pdf.page_no())
    return output_pdf


# ------------------------------------------------------------------ README table

README_COLUMNS = (
    ("sampled", "HR@10"),
    ("sampled", "NDCG@10"),
    ("full", "HR@10"),
    ("full", "NDCG@10"),
)


def readme_table(results_dir: str | os.PathLike) -> str:
    """Markdown table of every model's test metrics in every results file.

    Cells are ``mean ± std`` over seeds with 4 decimals, or ``-`` where a
    notebook did not record that metric. ``tests/unit/test_readme.py`` checks
    that README.md contains this table as generated from ``results/``.
    """
    header = ["notebook", "data", "model"] + [f"{p} {m}" for p, m in README_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for notebook in load_all_results(results_dir):
        dataset = notebook.data.get("dataset", {}).get("name", "")
        quick = " (quick)" if notebook.data.get("quick") else ""
        for model, protocols in notebook.data.get("metrics", {}).items():
            cells = []
            for protocol, metric in README_COLUMNS:
                entry = protocols.get(protocol, {}).get(metric)
                cells.append(format_mean_std(entry) if entry else "-")
            lines.append(
                f"| {notebook.name}{quick} | {dataset} | {model} | "
                + " | ".join(cells)
                + " |"
            )
    return "\n".join(lines)
