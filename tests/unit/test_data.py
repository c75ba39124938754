"""Tests for helpers.data: parsing, validation and the order of data sources.

Source tests use tiny copies in the real formats, served through ``file://``
URLs with checksums pinned to them; they never reach the network.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from helpers import data
from helpers.data import (
    ChecksumError,
    DataNotFoundError,
    load_movielens,
    parse_title,
    safe_extract,
)

# ---------------------------------------------------------------- helpers


def _digest(path: Path, algorithm: str) -> str:
    return hashlib.new(algorithm, path.read_bytes()).hexdigest()


def _pin(monkeypatch, folder: Path) -> None:
    """Pin the key file of the copy in ``folder`` so that the loader accepts it."""
    spec = data.DATASETS[folder.name]
    pinned = replace(spec, key_sha256=_digest(folder / spec.key_file, "sha256"))
    monkeypatch.setitem(data.DATASETS, folder.name, pinned)


def _load_tiny(monkeypatch, tmp_path, folder: Path) -> data.MovieLens:
    _pin(monkeypatch, folder)
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    return load_movielens(folder.name, data_dir=folder.parent, cache_dir=tmp_path / "c")


def _zip_folder(folder: Path, archive: Path) -> Path:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(folder.iterdir()):
            zipped.write(path, f"{folder.name}/{path.name}")
    return archive


def _write_recbole_wheel(wheel: Path, u_data: bytes) -> Path:
    """A wheel with RecBole's ML-100K files: tab-separated, typed headers, UTF-8."""
    inter = b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n" + u_data
    item = (
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "1\tToy Story\t1995\tAnimation Children's Comedy\n"
        "2\tMisérables, Les\t1995\tDrama Musical\n"
        "3\tLand Before Time III: The Time of the Great Giving\t1995\tAnimation\n"
        "4\tunkonwn\t\tunknown\n"
    )
    user = (
        "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
        "1\t24\tM\ttechnician\t85711\n2\t53\tF\tother\t94043\n3\t23\tM\twriter\t32067\n"
    )
    with zipfile.ZipFile(wheel, "w") as zipped:
        zipped.writestr(data.RECBOLE_MEMBER_DIR + "ml-100k.inter", inter)
        zipped.writestr(data.RECBOLE_MEMBER_DIR + "ml-100k.item", item)
        zipped.writestr(data.RECBOLE_MEMBER_DIR + "ml-100k.user", user)
    return wheel


def _messages(caplog) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


@pytest.fixture
def sources(tmp_path, monkeypatch, movielens_files):
    """A tiny ML-100K behind every source, with checksums pinned to it.

    The GroupLens URL and the wheel URL point at local files; any other URL
    fails the test, so nothing here reaches the network.
    """
    local = movielens_files("ml-100k", root=tmp_path / "local")
    archive = _zip_folder(local, tmp_path / "mirror" / "ml-100k.zip")
    wheel = _write_recbole_wheel(
        tmp_path / "mirror" / data.RECBOLE_WHEEL, (local / "u.data").read_bytes()
    )
    spec = replace(
        data.DATASETS["ml-100k"],
        url=archive.as_uri(),
        zip_size=archive.stat().st_size,
        zip_md5=_digest(archive, "md5"),
        key_sha256=_digest(local / "u.data", "sha256"),
    )
    monkeypatch.setitem(data.DATASETS, "ml-100k", spec)
    monkeypatch.setattr(data, "RECBOLE_URL", wheel.as_uri())
    monkeypatch.setattr(data, "RECBOLE_SHA256", _digest(wheel, "sha256"))
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.delenv(data.OFFLINE_ENV_VAR, raising=False)

    real_urlopen = urllib.request.urlopen

    def local_only(url, *args, **kwargs):
        if not str(url).startswith("file:"):
            raise AssertionError(f"a unit test tried to download {url}")
        return real_urlopen(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", local_only)
    return SimpleNamespace(
        local_root=local.parent,
        local=local,
        archive=archive,
        wheel=wheel,
        cache=tmp_path / "cache",
        spec=spec,
        missing_url=(tmp_path / "nowhere" / "missing.zip").as_uri(),
    )


def _no_downloads(monkeypatch) -> None:
    def fail(url, *args, **kwargs):
        raise AssertionError(f"no download expected, got one for {url}")

    monkeypatch.setattr(data, "_download", fail)


# ---------------------------------------------------------------- real data


@pytest.mark.data
def test_u_item_real_has_1682_movies(ml100k):
    assert len(ml100k.items) == 1682
    assert ml100k.items["item_id"].is_unique
    assert ml100k.summary() == {
        "name": "ml-100k",
        "source": ml100k.source,
        "n_users": 943,
        "n_items": 1682,
        "n_interactions": 100_000,
    }


@pytest.mark.data
def test_u_item_real_accented_title_parsed(ml100k):
    match = ml100k.items[ml100k.items["title"] == "Misérables, Les"]
    assert len(match) == 1
    assert match["year"].iat[0] == 1995


@pytest.mark.data
def test_u_item_real_has_no_replacement_character(ml100k):
    assert not ml100k.items["title"].str.contains("\ufffd").any()
    genres = {genre for genres in ml100k.items["genres"] for genre in genres}
    assert not any("\ufffd" in genre for genre in genres)
    for column in ("gender", "occupation", "zip_code"):
        assert not ml100k.users[column].str.contains("\ufffd").any()


@pytest.mark.data
def test_u_item_real_267_unknown_has_missing_year(ml100k):
    row = ml100k.items.set_index("item_id").loc[267]
    assert row["title"] == "unknown"
    assert pd.isna(row["year"])
    assert row["genres"] == []


@pytest.mark.data
def test_u_item_real_video_note_keeps_year(ml100k):
    row = ml100k.items.set_index("item_id").loc[1412]
    assert row["title"] == "Land Before Time III: The Time of the Great Giving"
    assert row["year"] == 1995


@pytest.mark.data
def test_ml100k_real_frames_have_contract_dtypes(ml100k):
    assert list(ml100k.ratings.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert ml100k.ratings.dtypes.astype(str).tolist() == [
        "int64",
        "int64",
        "float32",
        "int64",
    ]
    assert str(ml100k.items["year"].dtype) == "Int64"
    assert list(ml100k.users.columns) == [
        "user_id",
        "age",
        "gender",
        "occupation",
        "zip_code",
    ]
    assert len(ml100k.users) == 943


@pytest.mark.data
def test_latest_small_real_loads_every_table(ml_latest_small):
    data_set = ml_latest_small
    assert data_set.summary()["n_interactions"] == 100_836
    assert data_set.summary()["n_users"] == 610
    assert len(data_set.items) == 9_742
    assert len(data_set.tags) == 3_683
    assert len(data_set.links) == 9_742
    assert data_set.users is None
    items = data_set.items.set_index("item_id")
    assert items.loc[1, "title"] == "Toy Story"
    assert items.loc[1, "year"] == 1995
    assert items.loc[1, "genres"] == [
        "Adventure",
        "Animation",
        "Children",
        "Comedy",
        "Fantasy",
    ]
    assert pd.isna(items.loc[40697, "year"])  # "Babylon 5" has no year
    assert items.loc[171749, "year"] == 2006  # "(2006–2007)"
    assert items.loc[114335, "genres"] == []  # "(no genres listed)"
    links = data_set.links.set_index("item_id")
    assert links.loc[1, "imdb_id"] == "0114709"  # leading zero kept
    assert links.loc[1, "tmdb_id"] == 862


# ---------------------------------------------------------------- small files


def test_ml100k_small_files_parse(monkeypatch, tmp_path, movielens_files):
    loaded = _load_tiny(monkeypatch, tmp_path, movielens_files("ml-100k"))
    assert loaded.source == "local"
    assert len(loaded.ratings) == 8
    items = loaded.items.set_index("item_id")
    assert items.loc[2, "title"] == "Misérables, Les"  # written as ISO-8859-1
    assert items.loc[3, "year"] == 1995
    assert items.loc[1, "genres"] == ["Animation", "Children's", "Comedy"]
    assert items.loc[4, "genres"] == []  # the "unknown" flag is not a genre
    assert pd.isna(items.loc[4, "year"])
    assert loaded.users["occupation"].tolist() == ["technician", "other", "writer"]


@pytest.mark.parametrize(
    ("name", "removed"),
    [("ml-100k", ["u.item"]), ("ml-100k", ["u.item", "u.user"]),
     ("ml-latest-small", ["tags.csv"])],
)  # fmt: skip
def test_missing_file_names_each(monkeypatch, tmp_path, movielens_files, name, removed):
    folder = movielens_files(name)
    for file in removed:
        (folder / file).unlink()
    with pytest.raises(data.DataNotFoundError) as raised:
        _load_tiny(monkeypatch, tmp_path, folder)
    message = str(raised.value)
    assert f"missing {', '.join(removed)}." in message
    assert f"Extract {name}.zip there again" in message


@pytest.mark.parametrize("name", ["ml-100k", "ml-latest-small"])
def test_rated_movie_without_metadata_raises(
    monkeypatch, tmp_path, movielens_files, name
):
    items = [(1, "Toy Story (1995)", ["Animation"]), (2, "Heat (1995)", ["Action"])]
    folder = movielens_files(name, items=items)
    with pytest.raises(ValueError) as raised:
        _load_tiny(monkeypatch, tmp_path, folder)
    message = str(raised.value)
    assert "2 rated movie(s) missing from the movie file (ids 3, 4)" in message
    assert "extract the data set again" in message


def test_latest_small_no_genres_listed_is_empty(monkeypatch, tmp_path, movielens_files):
    items = [
        (1, "Toy Story (1995)", ["Adventure", "Animation"]),
        (2, "City of Lost Children, The (Cité des enfants perdus, La) (1995)", []),
        (3, "Babylon 5", ["Sci-Fi"]),
        (4, "Death Note: Desu nôto (2006–2007)", []),
    ]
    folder = movielens_files("ml-latest-small", items=items)
    assert "(no genres listed)" in (folder / "movies.csv").read_text(encoding="utf-8")
    loaded = _load_tiny(monkeypatch, tmp_path, folder).items.set_index("item_id")
    assert loaded.loc[2, "genres"] == []
    assert loaded.loc[4, "genres"] == []
    every_genre = {genre for genres in loaded["genres"] for genre in genres}
    assert every_genre == {"Adventure", "Animation", "Sci-Fi"}


def test_latest_small_loader_reads_all_tables(monkeypatch, tmp_path, movielens_files):
    loaded = _load_tiny(monkeypatch, tmp_path, movielens_files("ml-latest-small"))
    assert loaded.name == "ml-latest-small"
    assert loaded.ratings.shape == (8, 4)
    assert loaded.ratings["rating"].dtype == "float32"
    items = loaded.items.set_index("item_id")
    assert items.loc[2, "title"] == "Misérables, Les"
    assert items.loc[2, "year"] == 1995
    assert items.loc[2, "genres"] == ["Drama", "Musical"]
    assert items.loc[4, "genres"] == []  # "unknown" is a no-genre label
    assert list(loaded.tags.columns) == ["user_id", "item_id", "tag", "timestamp"]
    assert loaded.tags["tag"].tolist() == ["pixar"]
    assert list(loaded.links.columns) == ["item_id", "imdb_id", "tmdb_id"]
    assert loaded.links["imdb_id"].iat[0] == "0114709"
    assert pd.isna(loaded.links["tmdb_id"].iat[-1])  # empty tmdbId stays missing
    assert loaded.users is None


# ---------------------------------------------------------------- malformed input


def _load_bad_u_data(monkeypatch, tmp_path, movielens_files, lines: str):
    folder = movielens_files("ml-100k", ratings=lines)
    with pytest.raises(ValueError) as caught:
        _load_tiny(monkeypatch, tmp_path, folder)
    return str(caught.value), folder / "u.data"


def test_u_data_three_fields_raises(monkeypatch, tmp_path, movielens_files):
    lines = "1\t1\t5\t881250949\n1\t2\t3\n"
    message, path = _load_bad_u_data(monkeypatch, tmp_path, movielens_files, lines)
    assert str(path) in message
    assert "line 2:" in message
    assert repr("1\t2\t3") in message


def test_u_data_non_numeric_id_raises(monkeypatch, tmp_path, movielens_files):
    lines = "1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\tabc\t4\t881250951\n"
    message, path = _load_bad_u_data(monkeypatch, tmp_path, movielens_files, lines)
    assert str(path) in message
    assert "line 3:" in message
    assert "'item_id'" in message
    assert "'abc'" in message


def test_u_data_rating_7_raises(monkeypatch, tmp_path, movielens_files):
    lines = "1\t1\t5\t881250949\n1\t2\t7\t881250950\n"
    message, path = _load_bad_u_data(monkeypatch, tmp_path, movielens_files, lines)
    assert str(path) in message
    assert "line 2:" in message
    assert "rating 7 " in message
    assert "1..5" in message


def test_u_data_duplicate_pair_raises(monkeypatch, tmp_path, movielens_files):
    lines = "1\t1\t5\t881250949\n1\t2\t3\t881250950\n1\t1\t4\t881250951\n"
    message, path = _load_bad_u_data(monkeypatch, tmp_path, movielens_files, lines)
    assert str(path) in message
    assert "line 3:" in message
    assert "(1, 1)" in message


def test_u_data_line_number_counts_blank_lines(monkeypatch, tmp_path, movielens_files):
    lines = "1\t1\t5\t881250949\n\n1\t2\tx\t881250950\n"
    message, _ = _load_bad_u_data(monkeypatch, tmp_path, movielens_files, lines)
    assert "line 3:" in message
    assert "'x'" in message


def test_ratings_csv_line_numbers_count_header(monkeypatch, tmp_path, movielens_files):
    folder = movielens_files(
        "ml-latest-small", ratings="1,1,4.0,964982703\n1,2,5.5,9\n"
    )
    with pytest.raises(ValueError) as caught:
        _load_tiny(monkeypatch, tmp_path, folder)
    assert str(folder / "ratings.csv") in str(caught.value)
    assert "line 3:" in str(caught.value)  # line 1 is the header
    assert "5.5" in str(caught.value)


def test_unknown_data_set_raises():
    with pytest.raises(ValueError, match="ml-1m.*ml-100k"):
        load_movielens("ml-1m")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Misérables, Les (1995)", ("Misérables, Les", 1995)),
        (
            "Land Before Time III: The Time of the Great Giving (1995) (V)",
            ("Land Before Time III: The Time of the Great Giving", 1995),
        ),
        (
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
            ("City of Lost Children, The (Cité des enfants perdus, La)", 1995),
        ),
        ("Death Note: Desu nôto (2006–2007)", ("Death Note: Desu nôto", 2006)),
        (
            "The Godfather Trilogy: 1972-1990 (1992)",
            ("The Godfather Trilogy: 1972-1990", 1992),
        ),
        ("Ben-hur (2016) ", ("Ben-hur", 2016)),
        ("Babylon 5", ("Babylon 5", None)),
        ("unknown", ("unknown", None)),
    ],
)
def test_parse_title_cases(raw, expected):
    assert parse_title(raw) == expected


# ---------------------------------------------------------------- source order


def test_source_explicit_folder_beats_env(
    sources, monkeypatch, movielens_files, caplog
):
    env_copy = movielens_files("ml-100k", root=sources.local_root.parent / "env")
    monkeypatch.setenv(data.ENV_VAR, str(env_copy.parent))
    caplog.set_level(logging.INFO, logger="helpers.data")
    loaded = load_movielens(
        "ml-100k", data_dir=sources.local_root, cache_dir=sources.cache
    )
    assert loaded.source == "local"
    assert loaded.path == sources.local
    assert "ml-100k: using the local copy" in _messages(caplog)


def test_source_env_folder_beats_cache(sources, monkeypatch):
    shutil.copytree(sources.local, sources.cache / "ml-100k")
    monkeypatch.setenv(data.ENV_VAR, str(sources.local_root))
    _no_downloads(monkeypatch)
    loaded = load_movielens("ml-100k", cache_dir=sources.cache)
    assert loaded.source == "local"
    assert loaded.path == sources.local


def test_source_cache_beats_download(sources, monkeypatch, caplog):
    shutil.copytree(sources.local, sources.cache / "ml-100k")
    _no_downloads(monkeypatch)
    caplog.set_level(logging.INFO, logger="helpers.data")
    loaded = load_movielens("ml-100k", cache_dir=sources.cache)
    assert loaded.source == "cache"
    assert loaded.path == sources.cache / "ml-100k"
    assert "ml-100k: using the cache copy" in _messages(caplog)


def test_source_cached_wheel_copy_is_used(sources, monkeypatch):
    data._from_recbole_wheel(sources.cache)
    _no_downloads(monkeypatch)
    loaded = load_movielens("ml-100k", cache_dir=sources.cache)
    assert loaded.source == "cache"
    assert loaded.path == sources.cache / data.RECBOLE_CACHE
    assert loaded.items.set_index("item_id").loc[4, "title"] == "unkonwn"


def test_source_local_zip_verified_and_extracted(sources, monkeypatch, tmp_path):
    root = tmp_path / "zips"
    root.mkdir()
    shutil.copy(sources.archive, root / "ml-100k.zip")
    monkeypatch.setenv(data.ENV_VAR, str(root))
    loaded = load_movielens("ml-100k", cache_dir=sources.cache)
    assert loaded.source == "local"
    assert loaded.path == sources.cache / "ml-100k"
    assert len(loaded.ratings) == 8


def test_source_grouplens_download_when_no_copy(sources, caplog):
    caplog.set_level(logging.INFO, logger="helpers.data")
    loaded = load_movielens("ml-100k", cache_dir=sources.cache)
    assert loaded.source == "grouplens"
    assert loaded.path == sources.cache / "ml-100k"
    # Only the extracted folder stays: the zip and temporary files are gone.
    assert sorted(os.listdir(sources.cache)) == ["ml-100k"]
    assert f"ml-100k: downloading {sources.archive.as_uri()}" in _messages(caplog)
    assert "ml-100k: using the grouplens copy" in _messages(caplog)


@pytest.mark.parametrize("failure", ["missing", "checksum"])
def test_source_wheel_when_grouplens_fails(sources, monkeypatch, caplog, failure):
    if failure == "missing":
        broken = replace(sources.spec, url=sources.missing_url)
    else:
        broken = replace(sources.spec, zip_md5="0" * 32)
    monkeypatch.setitem(data.DATASETS, "ml-100k", broken)
    caplog.set_level(logging.INFO, logger="helpers.data")
    loaded = load_movielens("ml-100k", cache_dir=sources.cache)
    assert loaded.source == "pypi-mirror"
    assert loaded.path == sources.cache / data.RECBOLE_CACHE
    assert loaded.ratings["user_id"].tolist() == [1, 1, 1, 2, 2, 2, 3, 3]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("GroupLens download failed" in r.getMessage() for r in warnings)
    assert "downloading the recbole 1.2.1 wheel" in _messages(caplog)
    assert "ml-100k: using the pypi-mirror copy" in _messages(caplog)
    assert sorted(os.listdir(sources.cache)) == [data.RECBOLE_CACHE]


def test_offline_flag_skips_downloads(sources, monkeypatch):
    monkeypatch.setenv(data.OFFLINE_ENV_VAR, "1")
    _no_downloads(monkeypatch)
    with pytest.raises(DataNotFoundError, match="downloads: disabled"):
        load_movielens("ml-100k", cache_dir=sources.cache)


@pytest.mark.parametrize("value", ["1", "true", "yes", "on"])
def test_offline_flag_values_all_disable(sources, monkeypatch, value):
    monkeypatch.setenv(data.OFFLINE_ENV_VAR, value)
    _no_downloads(monkeypatch)
    with pytest.raises(DataNotFoundError, match="downloads: disabled"):
        load_movielens("ml-100k", cache_dir=sources.cache)


def test_missing_env_folder_warns(sources, monkeypatch, tmp_path, caplog):
    missing = tmp_path / "no-such-folder"
    monkeypatch.setenv(data.ENV_VAR, str(missing))
    monkeypatch.setenv(data.OFFLINE_ENV_VAR, "1")
    with pytest.raises(DataNotFoundError):
        load_movielens("ml-100k", cache_dir=sources.cache)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"ml-100k: data folder {missing} does not exist" in warnings


def test_all_sources_fail_one_error_names_each(sources, monkeypatch, tmp_path, caplog):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(data.ENV_VAR, str(empty))
    monkeypatch.setitem(
        data.DATASETS, "ml-100k", replace(sources.spec, url=sources.missing_url)
    )
    monkeypatch.setattr(data, "RECBOLE_URL", sources.missing_url + ".whl")
    caplog.set_level(logging.INFO, logger="helpers.data")
    with pytest.raises(DataNotFoundError) as caught:
        load_movielens("ml-100k", cache_dir=sources.cache)
    message = str(caught.value)
    assert f"local folder {empty}: no ml-100k/ or ml-100k.zip there" in message
    assert f"cache {sources.cache / 'ml-100k'}" in message
    assert f"GroupLens {sources.missing_url}" in message
    assert f"PyPI wheel {sources.missing_url}.whl" in message
    assert "To fix:" in message
    assert f"set {data.ENV_VAR}" in message
    assert "GroupLens download failed" in _messages(caplog)
    assert "PyPI mirror failed" in _messages(caplog)


def test_all_sources_fail_without_env_says_unset(sources, monkeypatch):
    monkeypatch.setenv(data.OFFLINE_ENV_VAR, "1")
    with pytest.raises(DataNotFoundError, match=f"{data.ENV_VAR} is not set"):
        load_movielens("ml-100k", cache_dir=sources.cache)


# ---------------------------------------------------------------- checksums, cache


def test_checksum_mismatch_local_shows_both_values(sources):
    with open(sources.local / "u.data", "a", encoding="utf-8") as handle:
        handle.write("4\t1\t3\t881250999\n")
    actual = _digest(sources.local / "u.data", "sha256")
    with pytest.raises(ChecksumError) as caught:
        load_movielens("ml-100k", data_dir=sources.local_root, cache_dir=sources.cache)
    assert f"expected {sources.spec.key_sha256}" in str(caught.value)
    assert f"got {actual}" in str(caught.value)


def test_download_checksum_failure_leaves_no_file(sources):
    target = sources.cache / "ml-100k.zip"
    target.parent.mkdir(parents=True)

    def reject(path: Path) -> None:
        data._verify(path, "md5", "0" * 32)

    with pytest.raises(ChecksumError) as caught:
        data._download(sources.archive.as_uri(), target, reject)
    assert "0" * 32 in str(caught.value)
    assert _digest(sources.archive, "md5") in str(caught.value)
    assert not target.exists()
    assert os.listdir(sources.cache) == []  # no temporary file either


def test_grouplens_bad_checksum_leaves_cache_empty(sources, monkeypatch):
    monkeypatch.setitem(
        data.DATASETS, "ml-100k", replace(sources.spec, zip_md5="0" * 32)
    )
    monkeypatch.setattr(data, "RECBOLE_URL", sources.missing_url)
    with pytest.raises(DataNotFoundError) as caught:
        load_movielens("ml-100k", cache_dir=sources.cache)
    assert f"expected {'0' * 32}" in str(caught.value)
    assert f"got {sources.spec.zip_md5}" in str(caught.value)
    assert os.listdir(sources.cache) == []


def test_corrupt_cache_logged_and_replaced(sources, caplog):
    shutil.copytree(sources.local, sources.cache / "ml-100k")
    (sources.cache / "ml-100k" / "u.data").write_text("1\t1\t5\t0\n", encoding="utf-8")
    caplog.set_level(logging.INFO, logger="helpers.data")
    loaded = load_movielens("ml-100k", cache_dir=sources.cache)
    assert loaded.source == "grouplens"
    assert len(loaded.ratings) == 8
    restored = sources.cache / "ml-100k" / "u.data"
    assert _digest(restored, "sha256") == sources.spec.key_sha256
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("is corrupt; replacing it" in message for message in warnings)


@pytest.mark.parametrize(
    "member", ["../evil", "/tmp/evil", "ml-100k/../../evil", "C:/evil"]
)
def test_safe_extract_rejects_escaping_member(tmp_path, member):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("ml-100k/u.data", "1\t1\t5\t0\n")
        zipped.writestr(member, "payload")
    destination = tmp_path / "out" / "inner"
    destination.mkdir(parents=True)
    with pytest.raises(ValueError, match="unsafe member"):
        safe_extract(archive, destination)
    assert list(destination.iterdir()) == []  # checked before anything is written
    assert not (tmp_path / "out" / "evil").exists()


def test_safe_extract_accepts_plain_members(tmp_path):
    archive = tmp_path / "good.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("ml-100k/u.data", "1\t1\t5\t0\n")
    safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "ml-100k" / "u.data").read_text() == "1\t1\t5\t0\n"


# ---------------------------------------------------------------- both ML-100K copies


@pytest.fixture(scope="session")
def recbole_cache(tmp_path_factory) -> Path:
    """A cache folder containing the ML-100K files of the real recbole 1.2.1 wheel.

    Downloaded once per session from PyPI by the loader's own mirror code. An
    HTTP error status fails the test (the pinned URL would be wrong); only a
    connection that cannot be made skips it.
    """
    if os.environ.get(data.OFFLINE_ENV_VAR, "").lower() in {"1", "true"}:
        pytest.skip(f"{data.OFFLINE_ENV_VAR} is set, so the wheel is not downloaded")
    cache = tmp_path_factory.mktemp("recbole-cache")
    try:
        data._from_recbole_wheel(cache)
    except urllib.error.HTTPError:
        raise
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        pytest.skip(f"cannot reach PyPI to download {data.RECBOLE_WHEEL}: {error}")
    return cache


@pytest.mark.data
def test_ml100k_sources_identical_but_item_267(ml100k, recbole_cache, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    mirror = load_movielens("ml-100k", cache_dir=recbole_cache, download=False)
    assert mirror.source == "cache"
    assert mirror.path.name == data.RECBOLE_CACHE

    pd.testing.assert_frame_equal(mirror.ratings, ml100k.ratings)
    pd.testing.assert_frame_equal(mirror.users, ml100k.users)

    grouplens = ml100k.items.set_index("item_id")
    recbole = mirror.items.set_index("item_id")
    assert recbole.index.equals(grouplens.index)
    same_genres = recbole["genres"].map(tuple) == grouplens["genres"].map(tuple)
    assert same_genres.all()
    same_year = recbole["year"].fillna(-1) == grouplens["year"].fillna(-1)
    assert same_year.all()
    differs = set(recbole.index[recbole["title"] != grouplens["title"]])
    assert differs == {267}
    assert recbole.loc[267, "title"] == "unkonwn"  # RecBole's spelling
    assert grouplens.loc[267, "title"] == "unknown"
