"""Execute the notebooks with papermill, summarise the run and build the PDF.

``python -m helpers run`` (``make run``) is a full run: every notebook executes
on real data, writes ``results/<notebook>.json`` and its figures under
``presentation/figures/``, and is saved back into ``notebooks/`` with its
outputs, so the committed notebooks show the numbers of the last full run.
Each notebook first executes into ``build/notebooks/`` and replaces the
committed copy only when every cell succeeded, so a failure leaves the
committed notebook untouched and the partial one in ``build/notebooks/``.

``--quick`` (``make quick``) passes ``QUICK=True`` and sends everything to
``build/quick/`` (executed notebooks, results, figures and the PDF) unless
``--results-dir`` or ``--figures-dir`` point elsewhere, so a quick run never
overwrites committed notebooks, results, figures or the presentation.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat
import papermill
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError

from helpers import report
from helpers.config import (
    FIGURES_DIR,
    NOTEBOOKS_DIR,
    PRESENTATION_DIR,
    PROJECT_ROOT,
    RESULTS_DIR,
    setup_logging,
)

log = logging.getLogger(__name__)

BUILD_DIR = PROJECT_ROOT / "build"
STAGING_DIR = BUILD_DIR / "notebooks"
QUICK_DIR = BUILD_DIR / "quick"
PRESENTATION_PDF = PRESENTATION_DIR / "presentation.pdf"
KERNEL_NAME = "python3"
NOTEBOOK_NAME = re.compile(r"^\d{2}_\w+\.ipynb$")


@dataclass
class RunSettings:
    """Folders and mode of one run of the notebooks.

    Attributes:
        notebooks_dir: folder with the ``NN_name.ipynb`` notebooks; papermill
            runs each kernel with this folder as its working directory.
        output_dir: folder that receives each executed notebook.
        results_dir: folder passed to the notebooks as ``RESULTS_DIR``.
        figures_dir: folder passed to the notebooks as ``FIGURES_DIR``.
        pdf: path of the presentation, or ``None`` to skip it.
        quick: pass ``QUICK=True`` to the notebooks.
        in_place: copy each successfully executed notebook back over its source.
    """

    notebooks_dir: Path
    output_dir: Path
    results_dir: Path
    figures_dir: Path
    pdf: Path | None
    quick: bool
    in_place: bool


@dataclass
class NotebookRun:
    """Outcome of one notebook: ``status`` is ``ok``, ``failed`` or ``not run``."""

    name: str
    status: str
    seconds: float | None = None
    key_metric: str = "-"
    source_path: Path | None = None
    output_path: Path | None = None
    error: PapermillExecutionError | DeadKernelError | CellTimeoutError | None = None


def find_notebooks(notebooks_dir: Path) -> list[Path]:
    """Return the ``NN_name.ipynb`` files of ``notebooks_dir``, sorted by name."""
    return sorted(
        p for p in notebooks_dir.glob("*.ipynb") if NOTEBOOK_NAME.match(p.name)
    )


def select_notebooks(available: Sequence[Path], only: str | None) -> list[Path]:
    """Pick the notebooks named in ``only`` (``"01,03"`` or full names), in run order.

    Raises:
        ValueError: a requested notebook does not exist; the message lists the
            available notebooks.
    """
    if not available:
        raise ValueError("no notebooks named NN_name.ipynb found")
    if only is None:
        return list(available)
    wanted = [token.strip() for token in only.split(",") if token.strip()]
    if not wanted:
        names = ", ".join(p.stem for p in available)
        raise ValueError(f"--only {only!r} names no notebook; available: {names}")
    chosen: set[Path] = set()
    for token in wanted:
        matches = [p for p in available if _matches(p.stem, token)]
        if not matches:
            names = ", ".join(p.stem for p in available)
            raise ValueError(
                f"no notebook matches --only {token!r}; available: {names}"
            )
        chosen.update(matches)
    return [p for p in available if p in chosen]


def _matches(stem: str, token: str) -> bool:
    if token.isdigit():
        return stem.startswith(f"{int(token):02d}_")
    return stem == token.removesuffix(".ipynb")


def notebook_parameters(settings: RunSettings) -> dict:
    """Build the papermill parameters, with folders relative to the notebooks folder.

    Relative paths keep the machine's absolute paths out of the committed
    notebooks, and the kernel resolves them against its working directory.
    """
    parameters = {
        "RESULTS_DIR": _relative_to(settings.results_dir, settings.notebooks_dir),
        "FIGURES_DIR": _relative_to(settings.figures_dir, settings.notebooks_dir),
    }
    if settings.quick:
        parameters = {"QUICK": True, **parameters}
    return parameters


def _relative_to(path: Path, start: Path) -> str:
    try:
        return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
    except ValueError:  # another drive on Windows: no relative path exists
        return path.resolve().as_posix()


def execute_one(notebook: Path, settings: RunSettings) -> NotebookRun:
    """Execute ``notebook`` with papermill and return how it went.

    A failing cell, a kernel that dies (for example out of memory) or a cell
    timeout does not raise: the run has status ``failed`` and carries the error
    and the path of the partially executed notebook.
    """
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    output = settings.output_dir / notebook.name
    started = time.time()
    run = NotebookRun(
        name=notebook.stem, status="ok", source_path=notebook, output_path=output
    )
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=notebook_parameters(settings),
            kernel_name=KERNEL_NAME,
            cwd=str(settings.notebooks_dir),
            progress_bar=False,
        )
    except (PapermillExecutionError, DeadKernelError, CellTimeoutError) as error:
        run.status, run.error = "failed", error
    run.seconds = time.time() - started
    if run.status == "ok":
        run.output_path = _finish(output, notebook, settings)
        run.key_metric = read_key_metric(notebook.stem, settings.results_dir, started)
    return run


def _finish(output: Path, notebook: Path, settings: RunSettings) -> Path:
    """Make papermill's path metadata portable and move the notebook into place."""
    target = notebook if settings.in_place else output
    executed = nbformat.read(output, as_version=nbformat.NO_CONVERT)
    papermill_meta = executed.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if key in papermill_meta:
            papermill_meta[key] = _display_path(
                notebook if key == "input_path" else target
            )
    temporary = target.with_name(f".{target.name}.tmp")
    nbformat.write(executed, temporary)
    os.replace(temporary, target)
    if target != output:
        output.unlink()
    return target


def _interpreter() -> str:
    """Return this interpreter's path, relative when run from the project root.

    Symbolic links are kept, because a virtual environment's ``python`` is a link
    to a base interpreter that lacks the environment's packages.
    """
    executable = Path(sys.executable)
    from_root = Path.cwd().resolve() == PROJECT_ROOT.resolve()
    if from_root and executable.is_relative_to(PROJECT_ROOT):
        return shlex.quote(executable.relative_to(PROJECT_ROOT).as_posix())
    return shlex.quote(str(executable))


def _display_path(path: Path) -> str:
    """Show ``path`` relative to the project root when inside it, else absolute."""
    path = path.resolve()
    try:
        return path.relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def read_key_metric(notebook: str, results_dir: Path, since: float) -> str:
    """Format the key metric of results that the notebook just wrote.

    The text reads ``"name = 0.1234"``.

    Results older than ``since`` (a ``time.time()`` value) come from an earlier
    run and are not shown.
    """
    path = results_dir / f"{notebook}.json"
    # One second of slack for file systems that store coarse modification times.
    if not path.is_file() or path.stat().st_mtime < since - 1.0:
        log.warning("%s wrote no results to %s", notebook, _display_path(path))
        return "no results written"
    metric = report.key_metric(report.read_results(path))
    if metric is None:
        return "-"
    name, value = metric
    return f"{name} = {report.format_number(value)}"


def format_summary(runs: Sequence[NotebookRun]) -> str:
    """Format a plain-text table of notebook, seconds, status and key metric."""
    header = ("notebook", "seconds", "status", "key metric")
    rows = [
        (
            run.name,
            "-" if run.seconds is None else f"{run.seconds:.1f}",
            run.status,
            run.key_metric,
        )
        for run in runs
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    lines = []
    for name, seconds, status, metric in [header, *rows]:
        cells = (
            name.ljust(widths[0]),
            seconds.rjust(widths[1]),
            status.ljust(widths[2]),
        )
        lines.append("  ".join((*cells, metric)))
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def format_failure(run: NotebookRun) -> str:
    """Describe the failing cell, its error and the partially executed notebook."""
    error = run.error
    if error is None:
        raise ValueError(
            f"{run.name} has status {run.status!r}; only failed runs have an error"
        )
    partial = f"  partially executed notebook: {_display_path(run.output_path)}"
    if not isinstance(error, PapermillExecutionError):
        return f"{run.name} failed: {type(error).__name__}: {error}\n{partial}"
    index = source_cell_index(run.source_path, error) if run.source_path else None
    where = f"In [{error.exec_count}]"
    if index is not None:
        where += f", cell {index} (0-based) of {_display_path(run.source_path)}"
    lines = [f"{run.name} failed at {where}: {error.ename}: {error.evalue}"]
    # Skip test markers such as "# NBVAL_CHECK_OUTPUT": they are not code.
    first_line = [
        line
        for line in (error.source or "").strip().splitlines()
        if line.strip() and not line.startswith("# NBVAL")
    ][:1]
    if first_line:
        lines.append(f"  cell starts with: {first_line[0]}")
    lines.append(partial)
    return "\n".join(lines)


def source_cell_index(notebook: Path, error: PapermillExecutionError) -> int | None:
    """Find the failing cell's index in the source notebook by its source text.

    Papermill's own ``cell_index`` counts the injected parameters cell, and the
    partial notebook adds error banners, so neither matches the file the
    reader edits. ``None`` when no code cell of ``notebook`` has that source.
    """
    try:
        cells = nbformat.read(notebook, as_version=4).cells
    except (OSError, ValueError):
        return None
    for index, cell in enumerate(cells):
        if cell.cell_type == "code" and cell.source == error.source:
            return index
    return None


def build_parser() -> argparse.ArgumentParser:
    """Build the command line parser of ``python -m helpers``."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers",
        description="Execute the project notebooks with papermill, then build the PDF.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="execute notebooks/NN_*.ipynb in order and build the presentation",
        description=(
            "Execute notebooks/NN_*.ipynb in order (kernel python3, working "
            "directory notebooks/), print one progress line per notebook with its "
            "wall-clock time in seconds, a summary table, then build the PDF. Full "
            "runs save the executed notebooks over the committed ones; quick runs "
            "write everything under build/quick/."
        ),
    )
    run.add_argument(
        "--quick",
        action="store_true",
        help="pass QUICK=True: real data, fewer epochs and seeds, a check of the "
        "pipeline rather than results; outputs go to build/quick/",
    )
    run.add_argument(
        "--only",
        metavar="NN[,NN...]",
        help="comma-separated notebook numbers or names to run, e.g. 01,03 "
        "(default: all)",
    )
    run.add_argument(
        "--results-dir",
        type=Path,
        metavar="DIR",
        help="folder for results/<notebook>.json files (default: results/, "
        "or build/quick/results/ with --quick)",
    )
    run.add_argument(
        "--figures-dir",
        type=Path,
        metavar="DIR",
        help="folder for the PNG figures (default: presentation/figures/, "
        "or build/quick/figures/ with --quick)",
    )
    run.add_argument(
        "--no-pdf", action="store_true", help="skip building the presentation PDF"
    )
    run.add_argument(
        "--pdf",
        type=Path,
        metavar="FILE",
        help="where to write the presentation (default: presentation/presentation.pdf; "
        "build/quick/presentation.pdf with --quick; <results-dir>/presentation.pdf "
        "when a full run has --results-dir or --figures-dir)",
    )
    run.add_argument(
        "--notebooks-dir",
        type=Path,
        default=NOTEBOOKS_DIR,
        metavar="DIR",
        help="folder holding the NN_name.ipynb notebooks (default: notebooks/)",
    )
    run.add_argument(
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="folder for the executed notebooks; setting it also keeps a full "
        "run from saving over the committed notebooks (default: "
        "build/notebooks/ as staging for full runs, build/quick/notebooks/ "
        "with --quick)",
    )
    slides = commands.add_parser(
        "report",
        help="build the presentation PDF from recorded results, without running",
    )
    slides.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR, metavar="DIR",
        help="folder with <notebook>.json results (default: results/)",
    )  # fmt: skip
    slides.add_argument(
        "--figures-dir", type=Path, default=FIGURES_DIR, metavar="DIR",
        help="folder with the PNG figures (default: presentation/figures/)",
    )  # fmt: skip
    slides.add_argument(
        "--pdf", type=Path, metavar="FILE",
        help="output file (default: presentation/presentation.pdf, or "
        "<results-dir>/presentation.pdf for another --results-dir)",
    )  # fmt: skip
    slides.add_argument(
        "--readme-table",
        action="store_true",
        help="print the README results table (Markdown) instead of building the PDF",
    )
    return parser


def build_report(args: argparse.Namespace) -> int:
    """Build the PDF from existing results (``python -m helpers report``).

    Without ``--pdf``, results from a folder other than ``results/`` go to
    ``<results-dir>/presentation.pdf``, so they never replace the committed deck.
    """
    product = "README table" if args.readme_table else "presentation"
    pdf = args.pdf
    if pdf is None:
        default = args.results_dir.resolve() == RESULTS_DIR.resolve()
        pdf = PRESENTATION_PDF if default else args.results_dir / "presentation.pdf"
    try:
        if args.readme_table:
            print(report.readme_table(args.results_dir))
            return 0
        pdf = report.build_presentation(args.results_dir, args.figures_dir, pdf)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {product} not built: {error}", file=sys.stderr)
        return 1
    print(f"Presentation: {_display_path(pdf)}")
    return 0


def settings_from_args(args: argparse.Namespace) -> RunSettings:
    """Resolve the folders of a run from the command line and the mode."""
    if args.quick:
        default_results, default_figures = QUICK_DIR / "results", QUICK_DIR / "figures"
        default_output, default_pdf = (
            QUICK_DIR / "notebooks",
            QUICK_DIR / "presentation.pdf",
        )
    else:
        default_results, default_figures = RESULTS_DIR, FIGURES_DIR
        default_output, default_pdf = STAGING_DIR, PRESENTATION_PDF
    results_dir = (args.results_dir or default_results).resolve()
    figures_dir = (args.figures_dir or default_figures).resolve()
    pdf = args.pdf or default_pdf
    if not args.pdf and not args.quick and (args.results_dir or args.figures_dir):
        # Results from other folders never overwrite the committed presentation.
        pdf = results_dir / "presentation.pdf"
    return RunSettings(
        notebooks_dir=args.notebooks_dir.resolve(),
        output_dir=(args.output_dir or default_output).resolve(),
        results_dir=results_dir,
        figures_dir=figures_dir,
        pdf=None if args.no_pdf else pdf.resolve(),
        quick=args.quick,
        in_place=not args.quick and args.output_dir is None,
    )


def run_all(notebooks: Sequence[Path], settings: RunSettings) -> list[NotebookRun]:
    """Execute ``notebooks`` in order, printing progress; stop at the first failure.

    Each progress line is printed whole when its notebook ends, because the
    kernels write warnings to the same terminal while they run. The start of
    each notebook goes to the log instead.
    """
    runs: list[NotebookRun] = []
    for index, notebook in enumerate(notebooks, start=1):
        log.info("executing %s", _display_path(notebook))
        run = execute_one(notebook, settings)
        runs.append(run)
        prefix = f"[{index}/{len(notebooks)}] {notebook.stem} ..."
        if run.status == "failed":
            print(f"{prefix} failed after {run.seconds:.1f} s", flush=True)
            break
        print(f"{prefix} {run.seconds:.1f} s", flush=True)
    runs.extend(
        NotebookRun(name=p.stem, status="not run") for p in notebooks[len(runs) :]
    )
    return runs


PATH_OPTIONS = ("--notebooks-dir", "--results-dir", "--figures-dir", "--output-dir",
                "--pdf")  # fmt: skip


def rerun_command(argv: Sequence[str], notebook: str, python: str = "python") -> str:
    """Return the command that reruns ``notebook`` alone with the options of ``argv``.

    ``argv`` is the argument list after ``python -m helpers``; any ``--only``
    in it is replaced by the number of ``notebook`` (e.g. ``01`` for ``01_neumf``).
    Folder and file options become absolute paths, so the command works from any
    folder. ``python`` is the interpreter to show, such as ``.venv/bin/python``.
    """
    # Split "--option=value" so that every value follows its option.
    tokens = []
    for arg in argv:
        tokens.extend(arg.split("=", 1) if arg.startswith("--") else [arg])
    options, index = [], 0
    while index < len(tokens):
        arg = tokens[index]
        if arg == "--only":
            index += 2
        elif arg in PATH_OPTIONS and index + 1 < len(tokens):
            options += [arg, str(Path(tokens[index + 1]).resolve())]
            index += 2
        else:
            options.append(arg)
            index += 1
    options = [shlex.quote(option) for option in options]
    return " ".join([python, "-m helpers", *options, "--only", notebook[:2]])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the process exit status (0 on success).

    Exit status 1 means a notebook failed or the PDF found no results, 2 a usage
    error such as an unknown notebook in ``--only``.
    """
    args = build_parser().parse_args(argv)
    setup_logging()
    if args.command == "report":
        return build_report(args)
    settings = settings_from_args(args)
    try:
        notebooks = select_notebooks(find_notebooks(settings.notebooks_dir), args.only)
    except ValueError as error:
        print(
            f"error: {error} (in {_display_path(settings.notebooks_dir)})",
            file=sys.stderr,
        )
        return 2
    mode = "quick" if settings.quick else "full"
    destination = _display_path(settings.results_dir)
    print(
        f"Running {len(notebooks)} notebook(s), {mode} mode, results in {destination}"
    )
    try:
        runs = run_all(notebooks, settings)
    except KeyboardInterrupt:
        print(
            "\nInterrupted. Notebooks that finished were saved; the partial output "
            f"of the interrupted one is in {_display_path(settings.output_dir)}.",
            file=sys.stderr,
        )
        return 130
    print()
    print(format_summary(runs))
    failed = [run for run in runs if run.status == "failed"]
    if failed:
        print()
        print(format_failure(failed[0]), file=sys.stderr)
        rerun = rerun_command(
            sys.argv[1:] if argv is None else argv, failed[0].name, _interpreter()
        )
        print(f"Stopped. After the fix, rerun with: {rerun}", file=sys.stderr)
        return 1
    if settings.pdf is None:
        return 0
    try:
        pdf = report.build_presentation(
            settings.results_dir, settings.figures_dir, settings.pdf
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"error: presentation not built: {error}", file=sys.stderr)
        return 1
    print(f"\nPresentation: {_display_path(pdf)}")
    return 0
