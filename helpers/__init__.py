"""Helpers shared by the Movie Recommendation AI notebooks.

Modules: ``config`` (paths, seeding, device), ``data`` (MovieLens loading),
``splits`` and ``sampling`` (the leave-one-out protocol), ``metrics`` and
``evaluation`` (ranking metrics), ``models``, ``baselines`` and ``train``,
``results`` (recorded metrics), ``plots``, ``report`` (the PDF) and ``runner``
(papermill execution of the notebooks).
"""

__version__ = "0.1.0"
