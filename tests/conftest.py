"""Shared fixtures: a seeded Generator, the real MovieLens data, small file writers."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.data import ML100K_GENRES, DataNotFoundError, MovieLens, load_movielens
from helpers.splits import IdMap, Split

SEED = 42

# A small, valid data set in either format: (user, item, rating, timestamp).
SMALL_RATINGS = [
    (1, 1, 5, 881250949),
    (1, 2, 3, 881250950),
    (1, 3, 4, 881250951),
    (2, 1, 2, 891717742),
    (2, 3, 1, 891717743),
    (2, 4, 4, 891717744),
    (3, 2, 5, 878887116),
    (3, 4, 3, 878887117),
]
SMALL_ITEMS = [
    (1, "Toy Story (1995)", ["Animation", "Children's", "Comedy"]),
    (2, "Misérables, Les (1995)", ["Drama", "Musical"]),
    (3, "Land Before Time III: The Time of the Great Giving (1995) (V)", ["Animation"]),
    (4, "unknown", ["unknown"]),
]
SMALL_USERS = [
    (1, 24, "M", "technician", "85711"),
    (2, 53, "F", "other", "94043"),
    (3, 23, "M", "writer", "32067"),
]

Rows = Sequence[tuple] | str


@pytest.fixture
def rng() -> np.random.Generator:
    """A NumPy Generator with a fixed seed, fresh for every test."""
    return np.random.default_rng(SEED)


def _load_real(name: str) -> MovieLens:
    # No downloads: unit tests read $MOVIELENS_DATA or the data/ cache only.
    try:
        return load_movielens(name, download=False)
    except DataNotFoundError:
        pytest.skip(
            f"real {name} data not found in $MOVIELENS_DATA or the data/ cache "
            f"(unit tests do not download); set MOVIELENS_DATA to a folder "
            f"containing {name}/ or {name}.zip"
        )


@pytest.fixture(scope="session")
def ml100k() -> MovieLens:
    """Real MovieLens 100K from ``$MOVIELENS_DATA`` or the cache; skip if absent."""
    return _load_real("ml-100k")


@pytest.fixture(scope="session")
def ml_latest_small() -> MovieLens:
    """Real MovieLens Latest Small, found as for :func:`ml100k`; skip if absent."""
    return _load_real("ml-latest-small")


def _write_lines(path: Path, rows: Rows, sep: str, encoding: str = "utf-8") -> None:
    if isinstance(rows, str):
        path.write_text(rows, encoding=encoding)
        return
    text = "".join(sep.join(str(field) for field in row) + "\n" for row in rows)
    path.write_text(text, encoding=encoding)


def write_ml100k(
    folder: Path,
    ratings: Rows = SMALL_RATINGS,
    items: Iterable[tuple] = SMALL_ITEMS,
    users: Rows = SMALL_USERS,
) -> Path:
    """Write ``u.data``, ``u.item`` (ISO-8859-1) and ``u.user`` in the GroupLens layout.

    ``ratings`` and ``users`` are rows, or a string written verbatim (to build
    malformed files). ``items`` rows are ``(item_id, raw_title, genres)``; the
    release date is empty when the title has no year, as for movie 267.
    """
    folder.mkdir(parents=True, exist_ok=True)
    _write_lines(folder / "u.data", ratings, "\t")
    lines = []
    for item_id, raw_title, genres in items:
        flags = ["1" if genre in genres else "0" for genre in ML100K_GENRES]
        date = "01-Jan-1995" if raw_title.rstrip().endswith(")") else ""
        lines.append("|".join([str(item_id), raw_title, date, "", "", *flags]) + "\n")
    (folder / "u.item").write_text("".join(lines), encoding="iso-8859-1")
    _write_lines(folder / "u.user", users, "|")
    return folder


def write_latest_small(
    folder: Path,
    ratings: Rows = SMALL_RATINGS,
    items: Iterable[tuple] = SMALL_ITEMS,
    tags: Sequence[tuple] = ((1, 1, "pixar", 1445714994),),
    links: Sequence[tuple] | None = None,
) -> Path:
    """Write ``ratings.csv``, ``movies.csv``, ``tags.csv`` and ``links.csv``.

    ``items`` rows are ``(movie_id, title, genres)``; an empty genre list is
    written as ``(no genres listed)``, as MovieLens does. ``links`` defaults to
    one row per movie with an IMDb id and no TMDB id for the last movie.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if not isinstance(ratings, str):
        ratings = "".join(",".join(map(str, row)) + "\n" for row in ratings)
    header = "userId,movieId,rating,timestamp\n"
    (folder / "ratings.csv").write_text(header + ratings, encoding="utf-8")
    items = list(items)
    with open(folder / "movies.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["movieId", "title", "genres"])
        for movie_id, title, genres in items:
            writer.writerow([movie_id, title, "|".join(genres) or "(no genres listed)"])
    with open(folder / "tags.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["userId", "movieId", "tag", "timestamp"])
        writer.writerows(tags)
    if links is None:
        links = [(movie_id, f"{114708 + movie_id:07d}", 861 + movie_id)
                 for movie_id, _, _ in items]  # fmt: skip
        links[-1] = (links[-1][0], links[-1][1], "")
    with open(folder / "links.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["movieId", "imdbId", "tmdbId"])
        writer.writerows(links)
    return folder


@pytest.fixture
def movielens_files(tmp_path) -> Callable[..., Path]:
    """Factory writing a small MovieLens copy in the real format under ``tmp_path``.

    Call it as ``movielens_files("ml-100k", ratings=..., root=...)`` with the
    keyword arguments of :func:`write_ml100k` or :func:`write_latest_small`. It
    returns ``<root>/<name>/``, and ``root`` defaults to ``tmp_path``.
    """

    def write(name: str = "ml-100k", root: Path | None = None, **rows) -> Path:
        folder = Path(root or tmp_path) / name
        if name == "ml-100k":
            return write_ml100k(folder, **rows)
        if name == "ml-latest-small":
            return write_latest_small(folder, **rows)
        raise ValueError(f"no writer for {name!r}; expected ml-100k or ml-latest-small")

    return write


def split_from_pairs(
    train: Sequence[tuple[int, int]],
    valid: Sequence[tuple[int, int]] = (),
    test: Sequence[tuple[int, int]] = (),
    items: Iterable[int] = (),
) -> Split:
    """A :class:`Split` built from raw ``(user_id, item_id)`` pairs per part.

    ``items`` adds raw item ids that no user interacted with, so that they exist
    in the id map. Timestamps follow the order train, valid, test.
    """
    parts = {"train": list(train), "valid": list(valid), "test": list(test)}
    every = [pair for pairs in parts.values() for pair in pairs]
    users = IdMap.from_values([user for user, _ in every])
    item_map = IdMap.from_values([item for _, item in every] + list(items))
    frames, clock = {}, 0
    for name, pairs in parts.items():
        frames[name] = pd.DataFrame(
            {
                "user_idx": users.to_index([u for u, _ in pairs]).astype(np.int64),
                "item_idx": item_map.to_index([i for _, i in pairs]).astype(np.int64),
                "timestamp": np.arange(clock, clock + len(pairs), dtype=np.int64),
                "rating": np.ones(len(pairs), dtype=np.float64),
            }
        )
        clock += len(pairs)
    return Split(frames["train"], frames["valid"], frames["test"], users, item_map)


@pytest.fixture
def make_split() -> Callable[..., Split]:
    """Factory for :func:`split_from_pairs`, a hand-made split from raw id pairs."""
    return split_from_pairs
