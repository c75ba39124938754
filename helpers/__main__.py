"""Command line entry point: ``python -m helpers run [--quick] [--only 01,03]``."""

from helpers.runner import main

raise SystemExit(main())
