"""The decoded-tile cache of the Rust core (``rasteret.read.engine.TileCache``), through real
reads of GDAL-written COGs served over HTTP Range requests, checked against rasterio."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
from rasteret import errors
from rasteret.read import engine as _read
from support.oracle import read_window as rio_read
from support.range_server import RangeServer


def _entries(cog_corpus, count: int):
    entries = [
        e
        for e in cog_corpus.entries
        if "tiled" in e.tags
        and not ({"mask", "ycbcr", "float16"} & e.tags)
        and not e.lossy
        and e.width > 64
        and e.height > 64
    ]
    # several tile grids and sample layouts: partial edge tiles, planar and chunky bands
    picked = [e for e in entries if "partial_tiles" in e.tags][:2]
    picked += [e for e in entries if "multiband" in e.tags and e not in picked][:2]
    picked += [e for e in entries if e not in picked]
    assert len(picked) >= count
    return picked[:count]


def _windows(entry) -> list[tuple[int, int, int, int]]:
    """Windows across tile borders, past the image edges and wholly inside one tile."""
    w, h = entry.width, entry.height
    return [
        (-7, -5, 40, 33),
        (w // 2 - 20, h // 2 - 15, 41, 37),
        (w - 25, h - 19, 50, 45),
        (3, 4, 8, 8),
    ]


def _expected(entry, window, band: int) -> np.ndarray:
    """rasterio's pixels of ``window`` (boundless: 0 outside the image)."""
    col, row, w, h = window
    out = np.zeros((h, w), dtype=entry.dtype)
    c0, r0 = max(col, 0), max(row, 0)
    c1, r1 = min(col + w, entry.width), min(row + h, entry.height)
    inside = rio_read(entry.path, (c0, r0, c1 - c0, r1 - r0), indexes=band + 1)
    out[r0 - row : r1 - row, c0 - col : c1 - col] = inside
    return out


def _read_all(urls, layouts, entries, cache, failures=None):
    plan = [
        (i, b, win) for i, e in enumerate(entries) for b in range(e.count) for win in _windows(e)
    ]
    return plan, _read.read_flat(
        [urls[i] for i, _, _ in plan],
        layouts.take([i for i, _, _ in plan]),
        [b for _, b, _ in plan],
        [win for _, _, win in plan],
        [np.dtype(entries[i].dtype) for i, _, _ in plan],
        [0] * len(plan),
        tile_cache=cache,
        failures=failures,
    )


def test_cached_reads_match_rasterio_and_the_second_read_fetches_nothing(cog_corpus):
    entries = _entries(cog_corpus, 6)
    with RangeServer(cog_corpus.root) as server:
        urls = [server.url(e.path.name) for e in entries]
        layouts = _read.parse_headers(urls).column("metadata")
        cache = _read.TileCache(64 * 1024 * 1024)
        server.reset_log()
        plan, first = _read_all(urls, layouts, entries, cache)
        fetched = server.count()
        misses = cache.misses
        server.reset_log()
        _, second = _read_all(urls, layouts, entries, cache)
        again = server.count()
    assert fetched > 0 and misses > 0 and len(cache) > 0
    assert again == 0, "every tile of the second read comes from the cache"
    assert cache.misses == misses and cache.hits >= misses
    for (i, band, win), a, b in zip(plan, first, second, strict=True):
        expected = _expected(entries[i], win, band)
        np.testing.assert_array_equal(a, expected, err_msg=f"{entries[i].name} band {band} {win}")
        np.testing.assert_array_equal(b, expected, err_msg=f"{entries[i].name} cached")


def test_a_missing_file_fails_its_windows_alone(cog_corpus, http_server):
    entries = _entries(cog_corpus, 2)
    urls = [http_server.url(e.path.name) for e in entries]
    layouts = _read.parse_headers(urls).column("metadata")
    urls[1] = http_server.url("no-such-file.tif")
    cache = _read.TileCache(1 << 26)
    failures: dict[int, BaseException] = {}
    plan, outs = _read_all(urls, layouts, entries, cache, failures)
    assert sorted(failures) == [k for k, (i, _, _) in enumerate(plan) if i == 1]
    assert all(isinstance(e, errors.RemoteNotFoundError) for e in failures.values())
    assert "no-such-file.tif" in str(next(iter(failures.values())))
    for k, (i, band, win) in enumerate(plan):
        if i == 0:
            np.testing.assert_array_equal(outs[k], _expected(entries[0], win, band))
    with pytest.raises(errors.RemoteNotFoundError, match="no-such-file"):
        _read_all(urls, layouts, entries, cache)


def test_caches_sharing_a_directory_reuse_tiles_within_its_budget(cog_corpus, tmp_path):
    entries = _entries(cog_corpus, 4)
    with RangeServer(cog_corpus.root) as server:
        urls = [server.url(e.path.name) for e in entries]
        layouts = _read.parse_headers(urls).column("metadata")
        writer = _read.TileCache(1 << 26)
        writer.share(tmp_path / "tiles", 1 << 26)
        plan, expected = _read_all(urls, layouts, entries, writer)
        assert len(list((tmp_path / "tiles").glob("*.tile"))) == len(writer)

        reader = _read.TileCache(1 << 26)  # another process would start like this
        reader.share(tmp_path / "tiles", 1 << 26)
        server.reset_log()
        _, got = _read_all(urls, layouts, entries, reader)
        assert server.count() == 0
        assert reader.shared_hits == reader.hits > 0 and reader.misses == 0
        for a, b in zip(expected, got, strict=True):
            np.testing.assert_array_equal(a, b)

        # a budget of a few tiles: the directory stays near it, the newest tile is kept
        budget = 3 * max(f.stat().st_size for f in (tmp_path / "tiles").glob("*.tile"))
        small = _read.TileCache(1 << 26)
        small.share(tmp_path / "small", budget)
        _read_all(urls, layouts, entries, small)
    sizes = [f.stat().st_size for f in (tmp_path / "small").glob("*.tile")]
    assert 0 < len(sizes) < len(small) and sum(sizes) <= budget


def _child_len(cache, queue) -> None:
    queue.put((len(cache), cache.nbytes, cache.max_bytes))


def test_a_forked_process_starts_with_an_empty_cache(cog_corpus, http_server):
    entries = _entries(cog_corpus, 1)
    urls = [http_server.url(e.path.name) for e in entries]
    layouts = _read.parse_headers(urls).column("metadata")
    cache = _read.TileCache(1 << 26, readahead_rows=True)
    _read_all(urls, layouts, entries, cache)
    assert len(cache) > 0
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child_len, args=(cache, queue))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == (0, 0, 1 << 26)
    assert len(cache) > 0  # the parent's tiles are its own
    assert "readahead_rows=True" in repr(cache)
    with pytest.raises(ValueError, match="max_bytes must be >= 0"):
        _read.TileCache(-1)
