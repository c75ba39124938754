"""README.md quotes the committed results files, never numbers typed by hand."""

from __future__ import annotations

import pytest

from helpers.config import PROJECT_ROOT, RESULTS_DIR
from helpers.report import readme_table

README = PROJECT_ROOT / "README.md"


def test_readme_results_table_matches_results_files():
    if not any(RESULTS_DIR.glob("*.json")):
        pytest.skip("results/ holds no results files yet; run `make run`")
    table = readme_table(RESULTS_DIR)
    assert table in README.read_text(encoding="utf-8"), (
        "README results table is stale; regenerate it with "
        "`python -m helpers report --readme-table`"
    )


def test_readme_names_both_commands():
    text = README.read_text(encoding="utf-8")
    assert "make run" in text
    assert "make test" in text
