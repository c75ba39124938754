"""MovieLens loading: find the files, verify them, parse them into tidy frames.

A data set is looked for in this order, and the source used is logged:

1. an explicit folder, or the folder named by ``MOVIELENS_DATA``, holding
   ``<name>/`` or ``<name>.zip`` (source ``local``);
2. the cache in ``data/`` (source ``cache``);
3. the official GroupLens zip, verified by checksum (source ``grouplens``);
4. for ML-100K only, the PyPI wheel ``recbole==1.2.1``, which ships the same
   ratings, verified by the SHA-256 of the wheel and of the ratings
   (source ``pypi-mirror``).

When every source fails, :class:`DataNotFoundError` lists each source tried,
why it failed, and how to provide the files.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.config import DATA_DIR, PROJECT_ROOT, env_flag

log = logging.getLogger(__name__)

ENV_VAR = "MOVIELENS_DATA"
OFFLINE_ENV_VAR = "MOVIELENS_OFFLINE"

ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
# Genre labels that mean "no genre": they become an empty list, never a genre.
NO_GENRE_LABELS = frozenset({"unknown", "(no genres listed)"})


@dataclass(frozen=True)
class DatasetSpec:
    """Download URL and pinned checksums of one MovieLens data set."""

    name: str
    url: str
    zip_size: int | None
    zip_md5: str | None
    zip_sha256: str | None
    # File inside the extracted folder whose SHA-256 identifies a good copy.
    key_file: str
    key_sha256: str
    rating_scale: tuple[float, float]


DATASETS: dict[str, DatasetSpec] = {
    "ml-100k": DatasetSpec(
        name="ml-100k",
        url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        zip_size=4_924_029,
        zip_md5="0e33842e24a9c977be4e0107933c0723",
        zip_sha256=None,
        key_file="u.data",
        key_sha256="06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        rating_scale=(1, 5),
    ),
    "ml-latest-small": DatasetSpec(
        name="ml-latest-small",
        url="https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
        zip_size=None,
        zip_md5="31a303aabbc519bd33d025e44d6c2570",
        zip_sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        key_file="ratings.csv",
        key_sha256="aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
        rating_scale=(0.5, 5.0),
    ),
}

RECBOLE_WHEEL = "recbole-1.2.1-py3-none-any.whl"
RECBOLE_URL = (
    "https://files.pythonhosted.org/packages/ab/fe/"
    "7d606cb7cd2b166a36b100cb9435d21014ceee16c192d972deb0976967a8/" + RECBOLE_WHEEL
)
RECBOLE_SHA256 = "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"
RECBOLE_MEMBER_DIR = "recbole/dataset_example/ml-100k/"
RECBOLE_FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")
RECBOLE_CACHE = "ml-100k-recbole"


class DataNotFoundError(FileNotFoundError):
    """No source could provide a data set; the message lists every attempt."""


class ChecksumError(ValueError):
    """A file's checksum differs from the pinned value."""


@dataclass
class MovieLens:
    """A loaded MovieLens data set.

    ``ratings`` has columns ``user_id, item_id, rating, timestamp``; ``items`` has
    ``item_id, title, year, genres`` (``genres`` a list of strings, ``year`` a
    nullable Int64). ``users`` (``user_id, age, gender, occupation, zip_code``)
    exists for ML-100K only; ``tags`` and ``links`` for ML Latest Small only.
    """

    name: str
    source: str
    path: Path
    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame | None = None
    tags: pd.DataFrame | None = None
    links: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """Name, source and sizes, in the shape of the results files."""
        return {
            "name": self.name,
            "source": self.source,
            "n_users": int(self.ratings["user_id"].nunique()),
            "n_items": int(self.ratings["item_id"].nunique()),
            "n_interactions": int(len(self.ratings)),
        }


# ---------------------------------------------------------------- public API


def load_movielens(
    name: str,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike = DATA_DIR,
    download: bool | None = None,
) -> MovieLens:
    """Find, verify and parse MovieLens data set ``name``.

    Args:
        name: ``"ml-100k"`` or ``"ml-latest-small"``.
        data_dir: folder holding ``<name>/`` or ``<name>.zip``; defaults to the
            ``MOVIELENS_DATA`` environment variable.
        cache_dir: download cache (the project's ``data/`` folder by default).
        download: allow network sources; ``None`` means yes unless the
            environment variable ``MOVIELENS_OFFLINE`` is set.

    Raises:
        ValueError: unknown name, or malformed files (naming file, line, value).
        ChecksumError: a local copy differs from the pinned checksum.
        DataNotFoundError: no source could provide the data set.
    """
    folder, kind, source = find_dataset(name, data_dir, cache_dir, download)
    log.info("%s: using the %s copy at %s", name, source, display_path(folder))
    if kind == "recbole":
        data = _read_recbole_ml100k(folder)
    elif name == "ml-100k":
        data = _read_ml100k(folder)
    else:
        data = _read_ml_latest_small(folder)
    data.source = source
    _check_items_cover_ratings(data)
    return data


def _check_items_cover_ratings(data: MovieLens) -> None:
    """Raise ``ValueError`` when rated movies have no row in the movie table.

    Only the ratings file is checksummed, so this catches a damaged movie file.
    """
    unknown = np.setdiff1d(data.ratings["item_id"].unique(), data.items["item_id"])
    if len(unknown):
        listed = ", ".join(str(item) for item in unknown[:5])
        if len(unknown) > 5:
            listed += ", ..."
        raise ValueError(
            f"{data.name} at {display_path(data.path)}: {len(unknown)} rated "
            f"movie(s) missing from the movie file (ids {listed}). The movie file is "
            "damaged: extract the data set again."
        )


def find_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike = DATA_DIR,
    download: bool | None = None,
) -> tuple[Path, str, str]:
    """Resolve ``name`` to a verified folder.

    Returns:
        ``(folder, kind, source)``: ``kind`` is ``"grouplens"`` for the original
        file layout or ``"recbole"`` for the PyPI copy of ML-100K; ``source`` is
        one of ``local``, ``cache``, ``grouplens``, ``pypi-mirror``.
    """
    spec = _spec(name)
    cache_dir = Path(cache_dir)
    if download is None:
        download = not env_flag(OFFLINE_ENV_VAR)
    tried: list[str] = []

    explicit = data_dir if data_dir is not None else os.environ.get(ENV_VAR)
    if explicit:
        found = _from_local(spec, Path(explicit), cache_dir)
        if found is not None:
            return found, "grouplens", "local"
        if not Path(explicit).is_dir():
            log.warning("%s: data folder %s does not exist", name, explicit)
        tried.append(f"local folder {explicit}: no {name}/ or {name}.zip there")
    else:
        tried.append(f"local folder: none given and {ENV_VAR} is not set")

    found = _from_cache(spec, cache_dir)
    if found is not None:
        return found
    tried.append(f"cache {cache_dir / name}: not present or failed verification")

    if not download:
        tried.append(
            f"downloads: disabled ({OFFLINE_ENV_VAR} is set or download=False)"
        )
    else:
        try:
            return _from_grouplens(spec, cache_dir), "grouplens", "grouplens"
        except (OSError, ChecksumError, zipfile.BadZipFile) as error:
            log.warning("%s: GroupLens download failed: %s", name, error)
            tried.append(f"GroupLens {spec.url}: {error}")
        if name == "ml-100k":
            try:
                return _from_recbole_wheel(cache_dir), "recbole", "pypi-mirror"
            except (OSError, ChecksumError, zipfile.BadZipFile) as error:
                log.warning("%s: PyPI mirror failed: %s", name, error)
                tried.append(f"PyPI wheel {RECBOLE_URL}: {error}")

    raise DataNotFoundError(
        f"could not find MovieLens data set {name!r}. Sources tried:\n  - "
        + "\n  - ".join(tried)
        + f"\nTo fix: download {spec.url} and set {ENV_VAR} to the folder that "
        f"holds {name}.zip (or its extracted {name}/ folder), or copy it into "
        f"{cache_dir}."
    )


def display_path(path: Path) -> str:
    """``path`` relative to the project or to ``$MOVIELENS_DATA`` when inside them.

    Notebook outputs are committed, so they must not show absolute paths of the
    machine that ran them.
    """
    path = Path(path).resolve()
    bases = [(PROJECT_ROOT, "")]
    if os.environ.get(ENV_VAR):
        bases.insert(0, (Path(os.environ[ENV_VAR]).resolve(), f"${ENV_VAR}/"))
    for base, prefix in bases:
        if path.is_relative_to(base):
            return prefix + path.relative_to(base).as_posix()
    return path.name


# ---------------------------------------------------------------- sources


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise ValueError(
            f"unknown data set {name!r}; expected one of {sorted(DATASETS)}"
        )
    return DATASETS[name]


def _from_local(spec: DatasetSpec, root: Path, cache_dir: Path) -> Path | None:
    folder = root / spec.name
    if (folder / spec.key_file).is_file():
        _verify(folder / spec.key_file, "sha256", spec.key_sha256)
        return folder
    archive = root / f"{spec.name}.zip"
    if archive.is_file():
        _verify_zip(spec, archive)
        return _extract(archive, cache_dir, spec)
    return None


def _from_cache(spec: DatasetSpec, cache_dir: Path) -> tuple[Path, str, str] | None:
    folder = cache_dir / spec.name
    if folder.exists():
        if _is_good(folder / spec.key_file, spec.key_sha256):
            return folder, "grouplens", "cache"
        log.warning("%s: cached copy at %s is corrupt; replacing it", spec.name, folder)
        shutil.rmtree(folder)
    if spec.name == "ml-100k":
        folder = cache_dir / RECBOLE_CACHE
        if folder.exists():
            inter = folder / RECBOLE_FILES[0]
            if inter.is_file() and _recbole_ratings_ok(inter):
                return folder, "recbole", "cache"
            log.warning(
                "%s: cached copy at %s is corrupt; replacing it", spec.name, folder
            )
            shutil.rmtree(folder)
    return None


def _from_grouplens(spec: DatasetSpec, cache_dir: Path) -> Path:
    log.info("%s: downloading %s", spec.name, spec.url)
    cache_dir.mkdir(parents=True, exist_ok=True)
    archive = _download(spec.url, cache_dir / f"{spec.name}.zip", _zip_checker(spec))
    folder = _extract(archive, cache_dir, spec)
    archive.unlink()
    return folder


def _from_recbole_wheel(cache_dir: Path) -> Path:
    log.info("ml-100k: downloading the recbole 1.2.1 wheel from PyPI")
    cache_dir.mkdir(parents=True, exist_ok=True)

    def check(path: Path) -> None:
        _verify(path, "sha256", RECBOLE_SHA256)

    wheel = _download(RECBOLE_URL, cache_dir / RECBOLE_WHEEL, check)
    target = cache_dir / RECBOLE_CACHE
    staging = Path(tempfile.mkdtemp(prefix=".recbole-", dir=cache_dir))
    try:
        with zipfile.ZipFile(wheel) as archive:
            for file_name in RECBOLE_FILES:
                data = archive.read(RECBOLE_MEMBER_DIR + file_name)
                (staging / file_name).write_bytes(data)
        if not _recbole_ratings_ok(staging / RECBOLE_FILES[0]):
            raise ChecksumError(
                "ratings in the recbole wheel do not match the pinned u.data SHA-256"
            )
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    wheel.unlink()
    return target


def _download(url: str, target: Path, check, timeout: float = 60.0) -> Path:
    """Download ``url`` to a temporary file, run ``check`` on it, then rename."""
    handle, temp_name = tempfile.mkstemp(prefix=".download-", dir=target.parent)
    temp = Path(temp_name)
    try:
        with (
            os.fdopen(handle, "wb") as out,
            urllib.request.urlopen(url, timeout=timeout) as response,
        ):
            shutil.copyfileobj(response, out)
        check(temp)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target


def _extract(archive: Path, cache_dir: Path, spec: DatasetSpec) -> Path:
    """Safely extract ``archive`` into ``cache_dir/<name>`` and verify it."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=cache_dir))
    target = cache_dir / spec.name
    try:
        safe_extract(archive, staging)
        extracted = staging / spec.name
        _verify(extracted / spec.key_file, "sha256", spec.key_sha256)
        if target.exists():
            shutil.rmtree(target)
        os.replace(extracted, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def safe_extract(archive: Path, destination: Path) -> None:
    """Extract a zip, rejecting absolute members, ``..`` parts and links.

    Raises:
        ValueError: a member would land outside ``destination``.
    """
    destination = destination.resolve()
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            name = member.filename
            parts = Path(name).parts
            is_link = (member.external_attr >> 16) & 0o170000 == 0o120000
            target = (destination / name).resolve()
            if (
                name.startswith(("/", "\\"))
                or re.match(r"^[A-Za-z]:", name)
                or ".." in parts
                or is_link
                or not target.is_relative_to(destination)
            ):
                raise ValueError(
                    f"unsafe member {name!r} in {archive}; refusing to extract"
                )
        zipped.extractall(destination)


def _zip_checker(spec: DatasetSpec):
    def check(path: Path) -> None:
        _verify_zip(spec, path)

    return check


def _verify_zip(spec: DatasetSpec, path: Path) -> None:
    if spec.zip_sha256:
        _verify(path, "sha256", spec.zip_sha256)
    elif spec.zip_md5:
        _verify(path, "md5", spec.zip_md5)


def file_hash(
    path: Path, algorithm: str = "sha256", skip_first_line: bool = False
) -> str:
    """Hex digest of a file, optionally without its first line."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        if skip_first_line:
            handle.readline()
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, algorithm: str, expected: str, skip_first_line=False) -> None:
    actual = file_hash(path, algorithm, skip_first_line)
    if actual != expected:
        raise ChecksumError(
            f"{algorithm.upper()} mismatch for {path}: expected {expected}, got "
            f"{actual}. The file differs from the official GroupLens release; "
            "replace it with a fresh copy of the archive (or unset "
            f"{ENV_VAR} to use the cache and downloads)"
        )


def _is_good(path: Path, sha256: str) -> bool:
    return path.is_file() and file_hash(path) == sha256


def _recbole_ratings_ok(inter: Path) -> bool:
    # The wheel's ml-100k.inter is u.data plus one header line.
    return file_hash(inter, skip_first_line=True) == DATASETS["ml-100k"].key_sha256


# ---------------------------------------------------------------- parsing


def _split_lines(path: Path, sep: str, n_fields: int, encoding: str, header: bool):
    """Yield ``(line_number, fields)``; raise on a wrong field count."""
    with open(path, encoding=encoding, newline="") as handle:
        if header:
            next(handle, None)
        for number, line in enumerate(handle, start=2 if header else 1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split(sep)
            if len(fields) != n_fields:
                raise ValueError(
                    f"{path}, line {number}: expected {n_fields} fields separated by "
                    f"{sep!r}, got {len(fields)}: {line!r}"
                )
            yield number, fields


def _numeric_column(
    values: list[str], lines: np.ndarray, path: Path, column: str, kind: str
) -> np.ndarray:
    """Convert strings to numbers; raise naming the first bad line and value."""
    series = pd.to_numeric(pd.Series(values, dtype="string"), errors="coerce")
    bad = series.isna().to_numpy()
    if kind == "int" and not bad.any():
        bad = (series % 1 != 0).to_numpy()
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}, line {lines[index]}: column {column!r} must be "
            f"{'an integer' if kind == 'int' else 'a number'}, got {values[index]!r}"
        )
    return series.to_numpy(dtype="int64" if kind == "int" else "float64")


def parse_ratings(
    path: Path,
    sep: str,
    header: bool,
    rating_scale: tuple[float, float],
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Parse and validate a ratings file (user, item, rating, timestamp).

    Raises:
        ValueError: naming the file, line and value, for a wrong field count, a
            non-numeric id, a rating outside ``rating_scale`` or a duplicate
            (user, item) pair.
    """
    numbers, rows = [], []
    for number, fields in _split_lines(path, sep, 4, encoding, header):
        numbers.append(number)
        rows.append(fields)
    lines = np.asarray(numbers)
    columns = list(zip(*rows, strict=False)) if rows else [[], [], [], []]
    frame = pd.DataFrame(
        {
            "user_id": _numeric_column(list(columns[0]), lines, path, "user_id", "int"),
            "item_id": _numeric_column(list(columns[1]), lines, path, "item_id", "int"),
            "rating": _numeric_column(list(columns[2]), lines, path, "rating", "float"),
            "timestamp": _numeric_column(
                list(columns[3]), lines, path, "timestamp", "int"
            ),
        }
    )
    low, high = rating_scale
    outside = ~frame["rating"].between(low, high)
    if outside.any():
        index = int(np.flatnonzero(outside.to_numpy())[0])
        raise ValueError(
            f"{path}, line {lines[index]}: rating {frame['rating'].iat[index]:g} is "
            f"outside the scale {low:g}..{high:g}"
        )
    duplicated = frame.duplicated(["user_id", "item_id"])
    if duplicated.any():
        index = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise ValueError(
            f"{path}, line {lines[index]}: duplicate (user, item) pair "
            f"({frame['user_id'].iat[index]}, {frame['item_id'].iat[index]})"
        )
    return frame.astype({"user_id": "int64", "item_id": "int64", "rating": "float32"})


_TITLE_YEAR = re.compile(
    r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[-\u2013]\d{0,4})?\)(?:\s*\([^()]*\))*\s*$"
)


def parse_title(raw: str) -> tuple[str, int | None]:
    """Split ``"Misérables, Les (1995)"`` into ``("Misérables, Les", 1995)``.

    A trailing note after the year, as in ``"... (1995) (V)"``, is dropped with
    the year. A title without a year returns ``(title, None)``.
    """
    raw = raw.strip()
    match = _TITLE_YEAR.match(raw)
    if match is None:
        return raw, None
    return match["title"], int(match["year"])


def _items_frame(ids: list[int], titles: list[str], years, genres) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": pd.array(ids, dtype="int64"),
            "title": pd.array(titles, dtype="string"),
            "year": pd.array(years, dtype="Int64"),
            "genres": pd.Series(genres, dtype="object"),
        }
    )


def _require_files(folder: Path, names: tuple[str, ...], name: str) -> None:
    """Raise ``DataNotFoundError`` listing the ``names`` missing from ``folder``."""
    missing = [file for file in names if not (folder / file).is_file()]
    if missing:
        raise DataNotFoundError(
            f"{name} copy at {display_path(folder)} is incomplete: missing "
            f"{', '.join(missing)}. Extract {name}.zip there again, or delete the "
            "folder so that the next run fetches a fresh copy."
        )


def _read_ml100k(folder: Path) -> MovieLens:
    spec = DATASETS["ml-100k"]
    _require_files(folder, ("u.data", "u.item", "u.user"), "ml-100k")
    ratings = parse_ratings(folder / "u.data", "\t", False, spec.rating_scale)
    items = _read_u_item(folder / "u.item")
    users = _read_u_user(folder / "u.user")
    return MovieLens("ml-100k", "", folder, ratings, items, users)


def _read_u_item(path: Path) -> pd.DataFrame:
    # u.item is ISO-8859-1, not UTF-8.
    ids, titles, years, genres = [], [], [], []
    for number, fields in _split_lines(path, "|", 24, "iso-8859-1", False):
        if not fields[0].isdigit():
            raise ValueError(f"{path}, line {number}: invalid item id {fields[0]!r}")
        title, year = parse_title(fields[1])
        flags = fields[5:]
        ids.append(int(fields[0]))
        titles.append(title)
        years.append(year)
        genres.append(
            [g for g, flag in zip(ML100K_GENRES, flags, strict=False) if flag == "1"
             and g not in NO_GENRE_LABELS]
        )  # fmt: skip
    return _items_frame(ids, titles, years, genres)


def _read_u_user(path: Path) -> pd.DataFrame:
    rows = [fields for _, fields in _split_lines(path, "|", 5, "iso-8859-1", False)]
    return _users_frame(rows, path)


def _users_frame(rows: list[list[str]], path: Path) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["user_id", "age", "gender", "occupation", "zip_code"]
    )
    for column in ("user_id", "age"):
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().any():
            index = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise ValueError(
                f"{path}: user row {index + 1} has a non-numeric {column} "
                f"{frame[column].iat[index]!r}"
            )
        frame[column] = values.astype("int64")
    for column in ("gender", "occupation", "zip_code"):
        frame[column] = frame[column].astype("string")
    return frame


def _read_recbole_ml100k(folder: Path) -> MovieLens:
    spec = DATASETS["ml-100k"]
    _require_files(folder, RECBOLE_FILES, "ml-100k")
    ratings = parse_ratings(folder / "ml-100k.inter", "\t", True, spec.rating_scale)
    ids, titles, years, genres = [], [], [], []
    item_path = folder / "ml-100k.item"
    for number, fields in _split_lines(item_path, "\t", 4, "utf-8", True):
        if not fields[0].isdigit():
            raise ValueError(
                f"{item_path}, line {number}: invalid item id {fields[0]!r}"
            )
        title, year = parse_title(fields[1])
        if year is None and fields[2].isdigit():
            year = int(fields[2])
        ids.append(int(fields[0]))
        titles.append(title)
        years.append(year)
        genres.append([g for g in fields[3].split() if g not in NO_GENRE_LABELS])
    items = _items_frame(ids, titles, years, genres)
    user_path = folder / "ml-100k.user"
    rows = [f for _, f in _split_lines(user_path, "\t", 5, "utf-8", True)]
    users = _users_frame(rows, user_path)
    return MovieLens("ml-100k", "", folder, ratings, items, users)


def _read_csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for row in reader:
            yield reader.line_num, row


def _read_ml_latest_small(folder: Path) -> MovieLens:
    spec = DATASETS["ml-latest-small"]
    files = ("ratings.csv", "movies.csv", "tags.csv", "links.csv")
    _require_files(folder, files, "ml-latest-small")
    ratings_path = folder / "ratings.csv"
    ratings = parse_ratings(ratings_path, ",", True, spec.rating_scale)
    ids, titles, years, genres = [], [], [], []
    for number, row in _read_csv_rows(folder / "movies.csv"):
        if len(row) != 3 or not row[0].isdigit():
            raise ValueError(
                f"{folder / 'movies.csv'}, line {number}: invalid row {row!r}"
            )
        title, year = parse_title(row[1])
        ids.append(int(row[0]))
        titles.append(title)
        years.append(year)
        genres.append([g for g in row[2].split("|") if g and g not in NO_GENRE_LABELS])
    items = _items_frame(ids, titles, years, genres)
    tags = pd.read_csv(
        folder / "tags.csv",
        dtype={
            "userId": "int64",
            "movieId": "int64",
            "tag": "string",
            "timestamp": "int64",
        },
    ).rename(columns={"userId": "user_id", "movieId": "item_id"})
    links = pd.read_csv(
        folder / "links.csv",
        dtype={"movieId": "int64", "imdbId": "string", "tmdbId": "Int64"},
    ).rename(columns={"movieId": "item_id", "imdbId": "imdb_id", "tmdbId": "tmdb_id"})
    return MovieLens(
        "ml-latest-small", "", folder, ratings, items, tags=tags, links=links
    )
