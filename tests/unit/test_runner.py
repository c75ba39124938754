"""Runner tests on tiny notebooks in tmp_path, run by a real kernel, no MovieLens."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from papermill.exceptions import PapermillExecutionError

from helpers import runner

PARAMETERS = 'QUICK = False\nRESULTS_DIR = "../results"\nFIGURES_DIR = "../figures"'
WRITE_RESULTS = """\
import json, pathlib
folder = pathlib.Path(RESULTS_DIR)
folder.mkdir(parents=True, exist_ok=True)
hr = {"mean": 0.65432, "std": 0.01, "per_seed": [0.64432, 0.66432]}
metrics = {"NeuMF": {"sampled": {"HR@10": hr}}, "EASE": {"sampled": {"HR@10": hr}}}
payload = {"notebook": NAME, "quick": QUICK, "metrics": metrics, "extra": {}}
(folder / f"{NAME}.json").write_text(json.dumps(payload))
print("quick" if QUICK else "full")
"""


def write_notebook(folder: Path, name: str, *body: str) -> Path:
    """A notebook with a tagged parameters cell, then one code cell per ``body``."""
    parameters = new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]})
    cells = [
        new_markdown_cell(f"# {name}"),
        parameters,
        new_code_cell(f"NAME = {name!r}"),
    ]
    cells += [new_code_cell(source) for source in body]
    notebook = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3",
                "language": "python",
            }
        },
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return path


def cli_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--notebooks-dir",
        str(tmp_path / "notebooks"),
        "--results-dir",
        str(tmp_path / "results"),
        "--figures-dir",
        str(tmp_path / "figures"),
        *extra,
    ]


@pytest.fixture
def staging(tmp_path, monkeypatch) -> Path:
    """Keep a full run's staging folder out of the repository's build/."""
    folder = tmp_path / "staging"
    monkeypatch.setattr(runner, "STAGING_DIR", folder)
    return folder


def test_run_quick_failure_reports_cell_and_stops(tmp_path, capsys):
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks, "01_ok", WRITE_RESULTS)
    write_notebook(
        notebooks, "02_broken", "x = 1", 'raise ValueError("planted failure")'
    )
    write_notebook(notebooks, "03_after", "print('never runs')")
    output = tmp_path / "executed"

    args = cli_args(tmp_path, "--quick", "--output-dir", str(output), "--no-pdf")
    status = runner.main(args)
    out, err = capsys.readouterr()

    assert status == 1
    assert re.search(r"^\[1/3\] 01_ok \.\.\. \d+\.\d s$", out, re.MULTILINE)
    assert re.search(r"^\[2/3\] 02_broken \.\.\. failed after \d+\.\d s$", out, re.M)
    assert "[3/3]" not in out
    assert re.search(r"^01_ok +\d+\.\d +ok +NeuMF sampled HR@10 = 0\.6543$", out, re.M)
    assert re.search(r"^02_broken +\d+\.\d +failed +-$", out, re.M)
    assert re.search(r"^03_after +- +not run +-$", out, re.M)
    assert "ValueError: planted failure" in err
    source = (notebooks / "02_broken.ipynb").resolve()
    assert f"02_broken failed at In [5], cell 4 (0-based) of {source}:" in err
    assert 'cell starts with: raise ValueError("planted failure")' in err
    executed = nbformat.read(output / "01_ok.ipynb", as_version=4)
    assert "quick\n" in [o.get("text") for o in executed.cells[-1].outputs]
    untouched = nbformat.read(notebooks / "01_ok.ipynb", as_version=4)
    assert all(not cell.get("outputs") for cell in untouched.cells)
    partial = (output / "02_broken.ipynb").resolve()
    assert f"partially executed notebook: {partial}" in err
    assert partial.is_file()
    assert not (output / "03_after.ipynb").exists()
    assert not (tmp_path / "results" / "presentation.pdf").exists()
    assert " -m helpers run --notebooks-dir" in err
    assert "rerun with: python -m" not in err  # the interpreter that ran, not "python"
    assert err.rstrip().endswith(
        "--quick --output-dir " + str(output) + " --no-pdf --only 02"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--quick", "--only", "01,02"],
        ["run", "--only=01,02", "--quick"],
        ["run", "--quick"],
    ],
)
def test_rerun_command_keeps_options(argv):
    assert runner.rerun_command(argv, "02_explain") == (
        "python -m helpers run --quick --only 02"
    )


def test_rerun_command_absolute_quoted_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--output-dir", "my runs", "--pdf=deck.pdf", "--quick"]
    command = runner.rerun_command(argv, "03_graph")
    assert command == (
        f"python -m helpers run --output-dir '{tmp_path / 'my runs'}' "
        f"--pdf {tmp_path / 'deck.pdf'} --quick --only 03"
    )


def test_interpreter_absolute_outside_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runner._interpreter() == sys.executable


def test_run_interrupted_exits_130(tmp_path, capsys, monkeypatch):
    write_notebook(tmp_path / "notebooks", "01_ok", WRITE_RESULTS)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_all", interrupt)
    status = runner.main(cli_args(tmp_path, "--quick", "--no-pdf"))
    _, err = capsys.readouterr()

    assert status == 130
    assert "Interrupted." in err


def test_report_elsewhere_keeps_committed_pdf(tmp_path, capsys, monkeypatch):
    results = tmp_path / "quick-results"
    results.mkdir()
    payload = {"notebook": "01_ok", "quick": True, "metrics": {}, "extra": {}}
    (results / "01_ok.json").write_text(json.dumps(payload))
    committed = tmp_path / "presentation.pdf"
    monkeypatch.setattr(runner, "PRESENTATION_PDF", committed)

    status = runner.main(["report", "--results-dir", str(results)])
    out, _ = capsys.readouterr()

    assert status == 0
    assert (results / "presentation.pdf").is_file()
    assert not committed.exists()
    assert "presentation.pdf" in out


def test_report_bad_results_file_exits_1(tmp_path, capsys):
    results = tmp_path / "results"
    results.mkdir()
    (results / "01_bad.json").write_text("[]")

    status = runner.main(["report", "--results-dir", str(results), "--readme-table"])
    _, err = capsys.readouterr()

    assert status == 1
    assert "error: README table not built:" in err
    assert "01_bad.json is not a results file" in err


def test_run_full_saves_in_place_and_builds_pdf(tmp_path, capsys, staging):
    source = write_notebook(tmp_path / "notebooks", "01_ok", WRITE_RESULTS)
    pdf = tmp_path / "deck.pdf"

    status = runner.main(cli_args(tmp_path, "--pdf", str(pdf)))
    out, _ = capsys.readouterr()

    assert status == 0, out
    assert re.search(r"^\[1/1\] 01_ok \.\.\. \d+\.\d s$", out, re.MULTILINE)
    assert pdf.is_file()
    executed = nbformat.read(source, as_version=4)
    printed = [o.get("text") for c in executed.cells for o in c.get("outputs", [])]
    assert "full\n" in printed  # QUICK was not passed, so the default False held
    assert executed.metadata.papermill.parameters == {
        "RESULTS_DIR": "../results",
        "FIGURES_DIR": "../figures",
    }
    assert list(staging.iterdir()) == []
    assert not list(source.parent.glob(".*.tmp"))


def test_run_only_unknown_lists_available(tmp_path, capsys):
    write_notebook(tmp_path / "notebooks", "01_ok", "pass")
    write_notebook(tmp_path / "notebooks", "03_graph", "pass")

    status = runner.main(cli_args(tmp_path, "--only", "01,05", "--no-pdf"))
    _, err = capsys.readouterr()

    assert status == 2
    assert "no notebook matches --only '05'" in err
    assert "available: 01_ok, 03_graph" in err


def test_select_notebooks_by_number_and_name(tmp_path):
    available = [tmp_path / f"{n}.ipynb" for n in ("01_a", "02_b", "03_c")]

    assert runner.select_notebooks(available, None) == available
    assert runner.select_notebooks(available, "3,1") == [available[0], available[2]]
    assert runner.select_notebooks(available, "02_b.ipynb") == [available[1]]


def test_select_notebooks_empty_folder_raises():
    with pytest.raises(ValueError, match="no notebooks named NN_name.ipynb"):
        runner.select_notebooks([], None)


def test_find_notebooks_skips_other_names(tmp_path):
    for name in ("02_b.ipynb", "01_a.ipynb", "scratch.ipynb", "1_x.ipynb", "01_a.py"):
        (tmp_path / name).write_text("{}")

    assert [p.name for p in runner.find_notebooks(tmp_path)] == [
        "01_a.ipynb",
        "02_b.ipynb",
    ]


def test_quick_settings_stay_in_build(tmp_path):
    args = runner.build_parser().parse_args(["run", "--quick"])
    settings = runner.settings_from_args(args)

    for path in (settings.output_dir, settings.results_dir, settings.figures_dir):
        assert path.is_relative_to(runner.QUICK_DIR)
    assert settings.pdf == runner.QUICK_DIR / "presentation.pdf"
    assert not settings.in_place
    assert runner.notebook_parameters(settings) == {
        "QUICK": True,
        "RESULTS_DIR": "../build/quick/results",
        "FIGURES_DIR": "../build/quick/figures",
    }


def test_full_settings_use_committed_folders():
    settings = runner.settings_from_args(runner.build_parser().parse_args(["run"]))

    assert settings.in_place
    assert settings.pdf == runner.PRESENTATION_PDF
    assert runner.notebook_parameters(settings) == {
        "RESULTS_DIR": "../results",
        "FIGURES_DIR": "../presentation/figures",
    }


def test_full_run_custom_results_keeps_committed_pdf(tmp_path):
    args = runner.build_parser().parse_args(["run", "--results-dir", str(tmp_path)])

    assert (
        runner.settings_from_args(args).pdf == tmp_path.resolve() / "presentation.pdf"
    )


def test_read_key_metric_ignores_stale_results(tmp_path):
    hr = {"mean": 0.5, "std": 0.0, "per_seed": [0.5]}
    path = tmp_path / "01_old.json"
    path.write_text(json.dumps({"metrics": {"GMF": {"sampled": {"HR@10": hr}}}}))
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))

    assert (
        runner.read_key_metric("01_old", tmp_path, time.time()) == "no results written"
    )
    assert (
        runner.read_key_metric("01_old", tmp_path, an_hour_ago)
        == "GMF sampled HR@10 = 0.5000"
    )


def test_format_summary_aligns_columns():
    runs = [
        runner.NotebookRun("01_neumf", "ok", 412.31, "NeuMF sampled HR@10 = 0.6543"),
        runner.NotebookRun("02_explainability", "not run"),
    ]

    lines = runner.format_summary(runs).splitlines()

    assert lines[0].split() == ["notebook", "seconds", "status", "key", "metric"]
    assert set(lines[1]) == {"-"}
    assert len(lines[1]) == max(len(line) for line in lines)
    assert (
        lines[2] == "01_neumf             412.3  ok       NeuMF sampled HR@10 = 0.6543"
    )
    assert lines[3] == "02_explainability        -  not run  -"


def test_help_states_units(capsys):
    with pytest.raises(SystemExit):
        runner.build_parser().parse_args(["run", "--help"])

    assert "seconds" in capsys.readouterr().out


def test_format_failure_skips_test_markers(tmp_path):
    source = "# NBVAL_CHECK_OUTPUT\n\nsummary = table(results)\nprint(summary)"
    error = PapermillExecutionError(
        cell_index=3, exec_count=4, source=source, ename="NameError",
        evalue="table", traceback=[],
    )  # fmt: skip
    run = runner.NotebookRun("01_x", "failed", 1.0, output_path=tmp_path, error=error)

    message = runner.format_failure(run)

    assert "cell starts with: summary = table(results)" in message


def test_format_failure_dead_kernel(tmp_path):
    partial = (tmp_path / "02_big.ipynb").resolve()
    run = runner.NotebookRun(
        "02_big",
        "failed",
        3.0,
        output_path=partial,
        error=DeadKernelError("Kernel died"),
    )

    message = runner.format_failure(run)

    assert message.startswith("02_big failed: DeadKernelError: Kernel died")
    assert f"partially executed notebook: {partial}" in message
