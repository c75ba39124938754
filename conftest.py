"""Root pytest configuration, loaded before any test or notebook is collected.

``pytest --nbval-lax notebooks/...`` re-executes committed notebooks in a kernel
that inherits this process's environment: quick mode and temporary output
folders are set here, so a test run never overwrites the committed results or
figures.
"""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config) -> None:
    scratch = tempfile.mkdtemp(prefix="nbval-")
    # One torch thread per process: the models are small, and two threads on two
    # shared cores slowed training by up to 28 times in measurements here.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("NOTEBOOK_QUICK", "1")
    os.environ.setdefault("NOTEBOOK_RESULTS_DIR", os.path.join(scratch, "results"))
    os.environ.setdefault("NOTEBOOK_FIGURES_DIR", os.path.join(scratch, "figures"))
