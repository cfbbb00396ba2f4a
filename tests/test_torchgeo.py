"""TorchGeo integration: RasteretGeoDataset over GDAL-written COGs served over HTTP.

Oracle: ``rasterio.merge.merge([src, ...], bounds=<query box>, res=<query
res>, indexes=[1], resampling=bilinear for floats else nearest)`` on the same files (a
``WarpedVRT`` for south-up files), and ``rasterio.warp.reproject`` for cross-CRS reads.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pytest
import rasteret
import rasterio
import rasterio.merge
import shapely
from rasterio.enums import Resampling
from rasterio.transform import from_origin
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_geom
from shapely.geometry import mapping
from support.range_server import RangeServer

torch = pytest.importorskip(
    "torch", reason="torch is not installed (pip install rasteret[torchgeo])"
)
pytest.importorskip("torchgeo", reason="torchgeo is not installed (pip install rasteret[torchgeo])")

from torch.utils.data import DataLoader  # noqa: E402
from torchgeo.datasets import stack_samples  # noqa: E402
from torchgeo.samplers import GridGeoSampler, RandomGeoSampler  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:uint(16|32) pixels are returned as int(32|64) tensors:UserWarning",
    "ignore:.*records dropped \\(CRS != EPSG:UserWarning",
    # torch's DataLoader forks while the Rust I/O runtime's threads exist (handled: the
    # child rebuilds its own runtime); Python 3.12 warns about forking threaded processes.
    "ignore:This process .* is multi-threaded:DeprecationWarning",
)

W, H = 600, 520  # 10 m bands
ORIGIN_X, ORIGIN_Y = 500_000.0, 5_000_000.0
DATES = [dt.datetime(2024, 5, 1 + 5 * i) for i in range(3)]


def _write(path: Path, data: np.ndarray, crs: str, transform, nodata) -> Path:
    with rasterio.open(
        path,
        "w",
        driver="COG",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
        blocksize=256,
        compress="deflate",
        predictor=2,
    ) as dst:
        dst.write(data, 1)
    return path


def _footprint(path: Path):
    with rasterio.open(path) as src:
        return shapely.geometry.shape(
            transform_geom(src.crs, "EPSG:4326", mapping(shapely.box(*src.bounds)))
        )


class Scenes:
    """Three dates x bands B1, B2 (10 m, uint16, nodata 0) and B3 (20 m) in EPSG:32633,
    shifted by whole pixels so they overlap partly; plus one EPSG:32634 copy of date 0."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[tuple[str, str], Path] = {}
        self.records: list[dict] = []
        rng = np.random.default_rng(7)
        for s, when in enumerate(DATES):
            x0, y0 = ORIGIN_X + 40 * s, ORIGIN_Y - 60 * s
            rid = f"S{s}"
            assets = {}
            for band in ("B1", "B2"):
                data = rng.integers(1, 9000, (H, W)).astype("uint16")
                data[:7, :] = 0  # nodata strip: the next date shows through in a mosaic
                data[rng.random((H, W)) < 0.01] = 0
                p = _write(
                    root / f"{rid}_{band}.tif", data, "EPSG:32633", from_origin(x0, y0, 10, 10), 0
                )
                assets[band] = p
            coarse = rng.integers(1, 9000, (H // 2, W // 2)).astype("uint16")
            assets["B3"] = _write(
                root / f"{rid}_B3.tif", coarse, "EPSG:32633", from_origin(x0, y0, 20, 20), 0
            )
            self.records.append({"id": rid, "datetime": when, "assets": assets})
        # The same pixels as S0 warped into UTM 34N (a record in another CRS)
        assets = {}
        for band in ("B1", "B2", "B3"):
            with rasterio.open(self.records[0]["assets"][band]) as src:
                with WarpedVRT(src, crs="EPSG:32634", resampling=Resampling.nearest) as vrt:
                    data = vrt.read(1)
                    assets[band] = _write(
                        root / f"U34_{band}.tif", data, "EPSG:32634", vrt.transform, 0
                    )
        self.records.append(
            {"id": "U34", "datetime": DATES[0] + dt.timedelta(days=1), "assets": assets}
        )

    def path(self, rid: str, band: str) -> Path:
        return next(r for r in self.records if r["id"] == rid)["assets"][band]

    def table(self, server: RangeServer, ids=None) -> pa.Table:
        rows = []
        for r in self.records:
            if ids is not None and r["id"] not in ids:
                continue
            rows.append(
                {
                    "id": r["id"],
                    "datetime": r["datetime"],
                    "geometry": _footprint(r["assets"]["B1"]).wkb,
                    "label": int(r["id"][-1]) if r["id"][-1].isdigit() else 9,
                    "assets": {
                        b: {"href": server.url(p.relative_to(self.root))}
                        for b, p in r["assets"].items()
                    },
                }
            )
        return pa.Table.from_pylist(rows)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Scenes:
    return Scenes(tmp_path_factory.mktemp("tg_scenes"))


@pytest.fixture(scope="module")
def scene_server(scenes):
    with RangeServer(scenes.root) as server:
        yield server


@pytest.fixture(scope="module")
def collection(scenes, scene_server):
    return rasteret.build_from_table(scenes.table(scene_server), enrich_cog=True)


@pytest.fixture(scope="module")
def dataset(collection):
    with pytest.warns(UserWarning, match="1 of 4 records dropped"):
        return collection.to_torchgeo_dataset(bands=["B1", "B2"], label_field="label")


def _open(path: Path):
    # Full resolution only: rasteret resamples from full-resolution pixels, while GDAL would
    # pick an overview for coarser grids (TorchGeo's RasterDataset does).
    src = rasterio.open(path, OVERVIEW_LEVEL="NONE")
    return WarpedVRT(src) if src.transform.e > 0 else src


def _merge(paths, bbox, res, resampling="nearest"):
    """rasterio.merge.merge of ``paths`` (first wins) on the query grid."""
    srcs = [_open(p) for p in paths]
    try:
        out, _ = rasterio.merge.merge(
            srcs, bounds=bbox, res=res, indexes=[1], resampling=Resampling[resampling]
        )
    finally:
        for s in srcs:
            s.close()
    return out[0]


def _bbox(query):
    x, y = query[0], query[1]
    return (x.start, y.start, x.stop, y.stop)


def _selected(ds, query) -> list[str]:
    x, y, t = ds._disambiguate_slice(query)
    return [ds._plan.records[r].record_id for r in ds._select(x, y, t)]


def _assert_matches_merge(ds, scenes, query, bands=("B1", "B2")):
    sample = ds[query]
    ids = _selected(ds, query)
    assert ids
    image = sample["image"].numpy()
    assert image.shape[0] == len(bands)
    for c, band in enumerate(bands):
        expected = _merge([scenes.path(i, band) for i in ids], _bbox(query), ds.res)
        assert image[c].shape == expected.shape
        np.testing.assert_array_equal(image[c], expected.astype(image.dtype), err_msg=str(query))
    return sample


# -- index ---------------------------------------------------------------------------------


def test_index_crs_res_and_bounds(dataset, scenes):
    assert dataset.epsg == 32633 and dataset.crs.to_epsg() == 32633
    assert dataset.res == (10.0, 10.0)
    assert len(dataset) == 3
    assert list(dataset.index.columns) == ["rid", "geometry"]
    assert dataset.index.index.name == "datetime" and dataset.index.index.closed == "both"
    x, y, t = dataset.bounds
    assert (x.start, y.stop) == (ORIGIN_X, ORIGIN_Y)
    assert x.stop == ORIGIN_X + 80 + W * 10 and y.start == ORIGIN_Y - 120 - H * 10
    assert t.start == DATES[0] and t.stop == DATES[-1]


def test_composition_with_intersection_and_union(dataset, collection):
    from torchgeo.datasets import IntersectionDataset, UnionDataset

    with pytest.warns(UserWarning, match="records dropped"):
        image = collection.to_torchgeo_dataset(bands=["B1", "B2"])
    with pytest.warns(UserWarning, match="records dropped"):
        other = collection.to_torchgeo_dataset(bands=["B2"], is_image=False)
    both = image & other
    assert isinstance(both, IntersectionDataset) and len(both) >= 3
    either = image | other
    assert isinstance(either, UnionDataset)
    query = next(iter(GridGeoSampler(both, size=64, stride=64)))
    sample = both[query]
    assert sample["image"].shape == (2, 64, 64) and sample["mask"].shape == (64, 64)
    np.testing.assert_array_equal(sample["mask"].numpy(), sample["image"][1].numpy())


# -- pixels against rasterio.merge ---------------------------------------------------------


def test_random_sampler_chips_match_merge(dataset, scenes):
    sampler = RandomGeoSampler(
        dataset, size=96, length=12, generator=torch.Generator().manual_seed(3)
    )
    for query in sampler:
        sample = _assert_matches_merge(dataset, scenes, query)
        assert sample["image"].dtype == torch.int32  # uint16 -> int32 like array_to_tensor
        assert sample["label"].dtype == torch.long
        t = sample["transform"].tolist()
        assert t == pytest.approx([10, 0, query[0].start, 0, -10, query[1].stop])


def test_grid_sampler_chips_match_merge(dataset, scenes):
    sampler = GridGeoSampler(dataset, size=128, stride=128)
    queries = list(sampler)
    assert len(queries) >= 12
    for query in queries[::5]:
        _assert_matches_merge(dataset, scenes, query)


def test_batched_fetch_reads_every_chip_like_merge(dataset, scenes):
    """``__getitems__`` (what DataLoader calls per batch): one read for the whole batch, every
    sample equal to rasterio.merge and to the single-query path."""
    queries = list(
        RandomGeoSampler(dataset, size=80, length=6, generator=torch.Generator().manual_seed(9))
    )
    queries += list(GridGeoSampler(dataset, size=128, stride=128))[::4]
    every_date = slice(DATES[0] - dt.timedelta(days=1), DATES[-1])
    queries += [  # mosaics of all three dates, one sticking out of S0's top edge
        (slice(ORIGIN_X + 100, ORIGIN_X + 740), slice(ORIGIN_Y - 610, ORIGIN_Y + 30), every_date),
        (slice(ORIGIN_X + 300, ORIGIN_X + 940), slice(ORIGIN_Y - 900, ORIGIN_Y - 260), every_date),
    ]
    fresh = pickle.loads(pickle.dumps(dataset))  # empty tile cache: the batch read fetches all
    samples = fresh.__getitems__(queries)
    assert len(samples) == len(queries)
    assert any(len(_selected(dataset, q)) > 1 for q in queries)  # mosaics included
    for query, sample in zip(queries, samples, strict=True):
        image = sample["image"].numpy()
        for c, band in enumerate(("B1", "B2")):
            ids = _selected(dataset, query)
            expected = _merge([scenes.path(i, band) for i in ids], _bbox(query), dataset.res)
            np.testing.assert_array_equal(image[c], expected.astype(image.dtype), str(query))
        single = dataset[query]
        assert torch.equal(single["image"], sample["image"])
        assert torch.equal(single["label"], sample["label"])


def test_mosaic_first_record_wins_over_valid_pixels(dataset, scenes):
    # all three dates, a box over S0's nodata strip (rows 0..6) that S1 and S2 cover
    t = slice(DATES[0] - dt.timedelta(days=1), DATES[-1])
    query = (
        slice(ORIGIN_X + 100, ORIGIN_X + 100 + 640),
        slice(ORIGIN_Y - 640 + 30, ORIGIN_Y + 30 - 0),
        t,
    )
    # the query sticks out above S0's top edge: rows there stay fill (0)
    assert _selected(dataset, query) == ["S0", "S1", "S2"]
    sample = _assert_matches_merge(dataset, scenes, query)
    s0_only = _merge([scenes.path("S0", "B1")], _bbox(query), dataset.res)
    image = sample["image"][0].numpy()
    assert (image[:3] == 0).all()
    holes = (s0_only == 0) & (image != 0)  # S0's nodata pixels filled from S1/S2
    assert holes.sum() > 10


def test_unaligned_and_coarser_queries_use_merge_resampling(dataset, scenes):
    t = slice(DATES[1], DATES[1])
    for dx, res in ((3.7, 10.0), (0.0, 20.0), (5.0, 15.0)):
        x0 = ORIGIN_X + 1000 + dx
        y1 = ORIGIN_Y - 900 + dx
        query = (slice(x0, x0 + 64 * res, res), slice(y1 - 64 * res, y1, res), t)
        sample = dataset[query]
        for c, band in enumerate(("B1", "B2")):
            expected = _merge([scenes.path("S1", band)], _bbox(query), (res, res))
            np.testing.assert_array_equal(sample["image"][c].numpy(), expected, err_msg=str(res))


def test_allow_resample_reads_coarse_band_on_the_fine_grid(collection, scenes):
    with pytest.raises(ValueError, match="must share the same resolution"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            collection.to_torchgeo_dataset(bands=["B1", "B3"])
    with pytest.warns(UserWarning, match="records dropped"):
        ds = collection.to_torchgeo_dataset(bands=["B1", "B3"], allow_resample=True)
    sampler = RandomGeoSampler(ds, size=50, length=4, generator=torch.Generator().manual_seed(1))
    for query in sampler:
        _assert_matches_merge(ds, scenes, query, bands=("B1", "B3"))


def test_corpus_files_match_merge(cog_corpus, http_server):
    """Every single-band EPSG corpus file: aligned, unaligned and coarser chips."""
    entries = [
        e
        for e in cog_corpus.entries
        if e.count == 1
        and not e.lossy
        and "striped" not in e.tags
        and "custom_crs" not in e.tags
        and "float16" not in e.tags  # GDAL reads half floats as float32
        and "uint64" not in e.dtype
    ]
    assert len(entries) >= 25
    table = pa.Table.from_pylist(
        [
            {
                "id": e.name,
                "datetime": dt.datetime(2024, 1, 1) + dt.timedelta(days=i),
                "geometry": _footprint(e.path).wkb,
                "assets": {"B1": {"href": http_server.url(e.path.name)}},
            }
            for i, e in enumerate(entries)
        ]
    )
    coll = rasteret.build_from_table(table, enrich_cog=True)
    rng = np.random.default_rng(11)
    checked = 0
    for entry in entries:
        ds = coll.where(pads.field("id") == entry.name).to_torchgeo_dataset(bands=["B1"])
        with rasterio.open(entry.path) as src:
            left, north = src.bounds.left, max(src.bounds.top, src.bounds.bottom)
            width, height = src.width, src.height
            rx, ry = src.res
            kind = np.dtype(src.dtypes[0]).kind
        resampling = "bilinear" if kind == "f" else "nearest"
        for frac, scale in ((0.0, 1.0), (0.37, 1.0), (0.0, 2.0), (0.25, 0.5)):
            res = (rx * scale, ry * scale)
            # a 40x30 chip straddling the raster's edges half of the time
            col = int(rng.integers(-20, width - 10))
            row = int(rng.integers(-15, height - 10))
            x0 = left + (col + frac) * rx
            y1 = north - (row + frac) * ry
            bbox = (x0, y1 - 30 * res[1], x0 + 40 * res[0], y1)
            query = (slice(bbox[0], bbox[2], res[0]), slice(bbox[1], bbox[3], res[1]))
            try:
                expected = _merge([entry.path], bbox, res, resampling)
            except ValueError:
                continue
            try:
                got = ds[query]["image"][0].numpy()
            except IndexError:
                continue  # query misses the footprint (touching only)
            widened = {"uint16": "int32", "uint32": "int64"}.get(expected.dtype.name)
            assert got.dtype == np.dtype(widened or expected.dtype), entry.name  # native dtype
            expected = expected.astype(got.dtype)
            if kind == "f":
                np.testing.assert_allclose(
                    got,
                    expected,
                    rtol=1e-6,
                    atol=0,
                    equal_nan=True,
                    err_msg=f"{entry.name} {frac} {scale} {col} {row}",
                )
            else:
                np.testing.assert_array_equal(
                    got, expected, err_msg=f"{entry.name} {frac} {scale} {col} {row}"
                )
            checked += 1
    assert checked >= 3 * len(entries)


# -- time series and CRS ---------------------------------------------------------------------


def test_time_series_stacks_t_c_h_w(collection, scenes):
    with pytest.warns(UserWarning, match="records dropped"):
        ds = collection.to_torchgeo_dataset(bands=["B1", "B2"], time_series=True)
    t = slice(DATES[0] - dt.timedelta(days=1), DATES[-1])
    query = (
        slice(ORIGIN_X + 1200, ORIGIN_X + 1200 + 640),
        slice(ORIGIN_Y - 2000, ORIGIN_Y - 1360),
        t,
    )
    image = ds[query]["image"]
    assert image.shape == (3, 2, 64, 64)
    for ti, rid in enumerate(("S0", "S1", "S2")):
        for c, band in enumerate(("B1", "B2")):
            expected = _merge([scenes.path(rid, band)], _bbox(query), ds.res)
            np.testing.assert_array_equal(image[ti, c].numpy(), expected.astype(np.int32))


def test_target_crs_reprojects_other_zone_records(collection, scenes):
    ds = collection.to_torchgeo_dataset(bands=["B1"], target_crs=32633, time_series=True)
    assert len(ds) == 4 and ds.epsg == 32633
    day = DATES[0] + dt.timedelta(days=1)  # only the EPSG:32634 record
    bbox = (ORIGIN_X + 1500, ORIGIN_Y - 2140, ORIGIN_X + 1500 + 640, ORIGIN_Y - 1500)
    query = (slice(bbox[0], bbox[2], 10.0), slice(bbox[1], bbox[3], 10.0), slice(day, day))
    image = ds[query]["image"]
    assert image.dtype == torch.float32 and image.shape == (1, 1, 64, 64)
    expected = np.full((64, 64), np.nan, dtype=np.float32)
    with rasterio.open(scenes.path("U34", "B1")) as src:
        rasterio.warp.reproject(
            rasterio.band(src, 1),
            expected,
            src_nodata=0,
            dst_transform=rasterio.transform.from_origin(bbox[0], bbox[3], 10, 10),
            dst_crs="EPSG:32633",
            dst_nodata=np.nan,
            resampling=Resampling.bilinear,
        )
    got = image[0, 0].numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-5, equal_nan=True)
    # same place, the original UTM 33N record: the warped copy agrees away from resampling
    s0 = ds[(query[0], query[1], slice(DATES[0], DATES[0]))]["image"][0, 0].numpy()
    assert np.nanmedian(np.abs(s0 - got)) < 3000  # same scene content, different grids


# -- DataLoader, pickling, training --------------------------------------------------------


def _batches(ds, workers: int, context=None):
    # RandomGeoSampler draws its tile from torch's global RNG, which DataLoader also consumes
    # (worker seeds): seed it and draw the queries before the loader starts.
    torch.manual_seed(5)
    sampler = RandomGeoSampler(ds, size=64, length=16, generator=torch.Generator().manual_seed(5))
    loader = _loader(ds, list(sampler), workers, context)
    return [(b["image"].clone(), b["label"].clone()) for b in loader]


def _loader(ds, queries, workers: int, context=None) -> DataLoader:
    return DataLoader(
        ds,
        sampler=queries,
        batch_size=4,
        num_workers=workers,
        collate_fn=stack_samples,
        multiprocessing_context=context,
    )


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers_yield_the_same_batches(dataset, context):
    dataset[next(iter(GridGeoSampler(dataset, size=32, stride=32)))]  # runtime live in parent
    serial = _batches(dataset, 0)
    parallel = _batches(dataset, 2, context)
    assert len(serial) == len(parallel) == 4
    for (a, la), (b, lb) in zip(serial, parallel, strict=True):
        assert torch.equal(a, b) and torch.equal(la, lb)


def test_pickled_dataset_reads_the_same(dataset):
    query = next(iter(GridGeoSampler(dataset, size=48, stride=48)))
    clone = pickle.loads(pickle.dumps(dataset))
    assert torch.equal(clone[query]["image"], dataset[query]["image"])


def _fresh_dataset(collection):
    with pytest.warns(UserWarning, match="records dropped"):
        return collection.to_torchgeo_dataset(bands=["B1", "B2"], label_field="label")


def _epoch(ds, queries, workers: int) -> list:
    loader = _loader(ds, queries, workers, "fork" if workers else None)
    return [b["image"].clone() for b in loader]


@pytest.mark.parametrize("share", [True, False])
def test_dataloader_workers_share_decoded_tiles(collection, scene_server, share):
    ds = _fresh_dataset(collection)
    ds.share_tiles_between_workers = share
    sampler = RandomGeoSampler(ds, size=64, length=16, generator=torch.Generator().manual_seed(3))
    queries = list(sampler)
    shared_dir = Path(ds._shared_tiles_dir)
    first = _epoch(ds, queries, 2)
    # A new loader forks new workers from this process, whose cache never saw these tiles:
    # with sharing, every tile comes from the files the first workers wrote.
    scene_server.reset_log()
    second = _epoch(ds, queries, 2)
    requests = scene_server.count()
    serial = _epoch(_fresh_dataset(collection), queries, 0)
    for a, b, c in zip(first, second, serial, strict=True):
        assert torch.equal(a, c) and torch.equal(b, c)
    if share:
        assert requests == 0
        assert len(list(shared_dir.glob("*.tile"))) > 0
        ds.close()  # the owner removes the shared tiles
        assert not shared_dir.exists()
    else:
        assert requests > 0
        assert not shared_dir.exists()
    assert ds._tile_cache is None  # the main process itself kept no tiles


def test_shared_tiles_of_dead_owners_are_removed(tmp_path):
    from rasteret.read import shared_tiles as _shared_tiles

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / f"rasteret-tiles-{int(dead.stdout)}-abc"
    live = tmp_path / f"rasteret-tiles-{os.getpid()}-abc"
    for d in (stale, live):
        d.mkdir()
        (d / "x.tile").write_bytes(b"12")
    assert _shared_tiles.remove_stale(tmp_path) == 1
    assert not stale.exists() and live.exists()


def test_tiny_training_loop(dataset):
    torch.manual_seed(0)
    model = torch.nn.Conv2d(2, 1, kernel_size=3, padding=1)
    optim = torch.optim.SGD(model.parameters(), lr=1e-3)
    sampler = RandomGeoSampler(
        dataset, size=64, length=12, generator=torch.Generator().manual_seed(9)
    )
    loader = DataLoader(dataset, sampler=sampler, batch_size=4, collate_fn=stack_samples)
    before = model.weight.detach().clone()
    losses = []
    for batch in loader:
        x = batch["image"].float() / 10_000.0
        target = x.mean(dim=1, keepdim=True)
        loss = torch.nn.functional.mse_loss(model(x), target)
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert not torch.equal(before, model.weight.detach())


# -- errors ----------------------------------------------------------------------------------


def test_errors(collection, dataset):
    with pytest.raises(ValueError, match="At least one band is required"):
        rasteret.integrations.torchgeo.RasteretGeoDataset(collection, [])
    with pytest.raises(ValueError, match=r"Band\(s\) not found: \['B9'\]"):
        collection.to_torchgeo_dataset(bands=["B9"])
    with pytest.raises(ValueError, match="Collection is empty"):
        collection.to_torchgeo_dataset(bands=["B1"], date_range=("2020-01-01", "2020-02-01"))
    with pytest.raises(ValueError, match="Collection is empty"):
        collection.to_torchgeo_dataset(
            bands=["B1"], bbox=(0.0, 0.0, 1.0, 1.0), geometries=(2.0, 2.0, 3.0, 3.0)
        )
    with pytest.raises(IndexError, match="not found in dataset with bounds"):
        dataset[slice(0, 100, 10.0), slice(0, 100, 10.0)]


def test_missing_file_is_skipped_in_mosaic_and_fatal_alone(scenes, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(scenes.root, root)
    local = Scenes.__new__(Scenes)
    local.root = root
    local.records = [
        {**r, "assets": {b: root / p.name for b, p in r["assets"].items()}}
        for r in scenes.records
        if r["id"] in ("S0", "S1")
    ]
    with RangeServer(root) as server:
        coll = rasteret.build_from_table(local.table(server), enrich_cog=True)
        ds = coll.to_torchgeo_dataset(bands=["B1"])
        batched = coll.to_torchgeo_dataset(bands=["B1"])
        t = slice(DATES[0] - dt.timedelta(days=1), DATES[1])
        query = (slice(ORIGIN_X + 800, ORIGIN_X + 1440), slice(ORIGIN_Y - 1500, ORIGIN_Y - 860), t)
        cached = batched[query]["image"]  # tiles (0, 0) of S0 and S1 now cached
        (root / "S0_B1.tif").unlink()
        # a batch: the cached chip is built from tiles at hand, the other one (tile (1, 1),
        # not cached: a miss brings its tile row along, and this is the next row) loses S0
        # and shows S1 alone
        other = (
            slice(ORIGIN_X + 3000, ORIGIN_X + 3640),
            slice(ORIGIN_Y - 3640, ORIGIN_Y - 3000),
            t,
        )
        with pytest.warns(RuntimeWarning, match="skipped failed COG reads"):
            samples = batched.__getitems__([other, query])
        assert torch.equal(samples[1]["image"], cached)
        expected = _merge([local.records[1]["assets"]["B1"]], _bbox(other), ds.res)
        np.testing.assert_array_equal(samples[0]["image"][0].numpy(), expected.astype(np.int32))
        server.reset_log()
        with pytest.warns(RuntimeWarning, match="skipped failed COG reads"):
            image = ds[query]["image"][0].numpy()
        # one read: S0's failure comes back with S1's tiles, neither file is asked again
        # (the chip's tiles of each file are adjacent: one merged request per file)
        asked = sorted(r.path for r in server.requests)
        assert asked == ["S0_B1.tif", "S1_B1.tif"], asked
        expected = _merge([local.records[1]["assets"]["B1"]], _bbox(query), ds.res)
        np.testing.assert_array_equal(image, expected.astype(np.int32))
        alone = (query[0], query[1], slice(DATES[0], DATES[0]))
        with pytest.raises(ValueError, match=r"All 1 COG read request\(s\) failed"):
            ds[alone]
        ts = coll.to_torchgeo_dataset(bands=["B1"], time_series=True)
        with pytest.raises(ValueError, match="1 of 2 COG reads failed for time series sample"):
            ts[query]


def test_without_torchgeo_the_stub_raises_import_error():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torchgeo'] = None\n"
        "from rasteret.integrations.torchgeo import RasteretGeoDataset\n"
        "try:\n"
        "    RasteretGeoDataset(None, ['B1'])\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "TorchGeo integration requires torch + torchgeo. Install rasteret[torchgeo]."
    )


def test_geometries_restrict_the_index(collection):
    # a small box around S2's south-east corner (outside S0 and S1)
    from pyproj import Transformer

    tf = Transformer.from_crs(32633, 4326, always_xy=True)
    x, y = ORIGIN_X + 80 + W * 10 - 20, ORIGIN_Y - 120 - H * 10 + 20
    lon0, lat0 = tf.transform(x - 10, y - 10)
    lon1, lat1 = tf.transform(x + 10, y + 10)
    with pytest.warns(UserWarning, match="records dropped"):
        ds = collection.to_torchgeo_dataset(bands=["B1"], geometries=(lon0, lat0, lon1, lat1))
    assert [ds._plan.records[int(r)].record_id for r in ds.index["rid"]] == ["S2"]


def test_label_and_tensor_conversions():
    from rasteret.integrations.torchgeo import (
        _array_to_image_tensor_torchgeo_compatible,
        _coerce_label_value,
    )

    assert _coerce_label_value(3).dtype == torch.long
    assert _coerce_label_value(True).dtype == torch.long
    assert _coerce_label_value(0.5).dtype == torch.float32
    assert _coerce_label_value(float("nan")) is None
    assert _coerce_label_value([1, 2]).tolist() == [1, 2]
    assert _coerce_label_value(["a", "b"]) == ["a", "b"]
    assert _coerce_label_value("cls") == "cls"
    warned: set = set()
    with pytest.warns(UserWarning, match="uint16 pixels are returned as int32") as caught:
        _array_to_image_tensor_torchgeo_compatible(np.zeros((1, 2, 2), np.uint16), warned)
        _array_to_image_tensor_torchgeo_compatible(np.zeros((1, 2, 2), np.uint16), warned)
    assert len(caught) == 1
    t = _array_to_image_tensor_torchgeo_compatible(np.arange(4, dtype=np.int16).reshape(2, 2))
    assert t.dtype == torch.int16 and t.tolist() == [[0, 1], [2, 3]]


def test_uint16_samples_are_int32_tensors_warned_once_per_dataset(collection, scenes):
    t = slice(DATES[0] - dt.timedelta(days=1), DATES[-1])
    query = (slice(ORIGIN_X + 100, ORIGIN_X + 740), slice(ORIGIN_Y - 900, ORIGIN_Y - 260), t)
    for time_series in (False, True):
        with pytest.warns(UserWarning, match="records dropped"):
            ds = collection.to_torchgeo_dataset(bands=["B1"], time_series=time_series)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            images = [ds[query]["image"]] + [s["image"] for s in ds.__getitems__([query] * 2)]
        widened = [w for w in caught if "uint16 pixels are returned as int32" in str(w.message)]
        assert len(widened) == 1, time_series
        assert all(i.dtype == torch.int32 and torch.equal(i, images[0]) for i in images)
        if time_series:  # date 0 of the stack is S0's window
            expected = _merge([scenes.path("S0", "B1")], _bbox(query), ds.res)
            np.testing.assert_array_equal(images[0][0, 0].numpy(), expected.astype(np.int32))


def test_intersection_with_another_crs_reprojects_the_second_dataset(collection, scenes):
    with pytest.warns(UserWarning, match="records dropped"):
        utm33 = collection.to_torchgeo_dataset(bands=["B1"])
    # only the UTM 34N record, in its own CRS
    u34 = collection.where(pads.field("id") == "U34").to_torchgeo_dataset(
        bands=["B2"], is_image=False
    )
    assert u34.epsg == 32634
    from torchgeo.datasets import IntersectionDataset

    both = IntersectionDataset(utm33, u34, spatial_only=True)  # what `&` does, across dates
    assert u34.epsg == 32633 and u34.crs.to_epsg() == 32633
    day0, day1 = DATES[0] - dt.timedelta(days=1), DATES[0] + dt.timedelta(days=1)
    bbox = (ORIGIN_X + 1500, ORIGIN_Y - 2140, ORIGIN_X + 2140, ORIGIN_Y - 1500)
    query = (slice(bbox[0], bbox[2], 10.0), slice(bbox[1], bbox[3], 10.0), slice(day0, day1))
    sample = both[query]
    mask = sample["mask"].numpy()
    assert mask.dtype == np.float32 and mask.shape == (64, 64)
    expected = np.full((64, 64), np.nan, dtype=np.float32)
    with rasterio.open(scenes.path("U34", "B2")) as src:
        rasterio.warp.reproject(
            rasterio.band(src, 1),
            expected,
            src_nodata=0,
            dst_transform=rasterio.transform.from_origin(bbox[0], bbox[3], 10, 10),
            dst_crs="EPSG:32633",
            dst_nodata=np.nan,
            resampling=Resampling.bilinear,
        )
    np.testing.assert_allclose(mask, expected, rtol=1e-5, equal_nan=True)


def test_tile_cache_serves_revisits_and_matches_direct_reads(collection, scenes):
    with pytest.warns(UserWarning, match="records dropped"):
        cached = collection.to_torchgeo_dataset(bands=["B1", "B2"], time_series=True)
    with pytest.warns(UserWarning, match="records dropped"):
        direct = collection.to_torchgeo_dataset(bands=["B1", "B2"], time_series=True)
    direct.tile_cache_bytes = 0
    t = slice(DATES[0] - dt.timedelta(days=1), DATES[-1])
    sampler = GridGeoSampler(cached, size=100, stride=70)  # overlapping chips
    queries = [(q[0], q[1], t) for q in list(sampler)[:10]]
    for q in queries:
        assert torch.equal(cached[q]["image"], direct[q]["image"])
    tiles = cached._tile_cache
    assert tiles is not None and tiles.hits > 0 and len(tiles) > 0
    assert direct._tile_cache is None
    again = tiles.misses
    cached[queries[0]]
    assert tiles.misses == again  # a revisit reads nothing
    cached.close()
    assert cached._tile_cache is None


@pytest.mark.parametrize("fits", [True, False])
def test_a_miss_reads_its_tile_row_when_the_dataset_fits_the_cache(collection, scene_server, fits):
    """When every decoded tile of the dataset fits in half the tile cache, a missing tile
    brings the rest of its tile row (the same requests: those tiles follow it in the file),
    so a chip further along the row makes no request; otherwise only the chip's tiles are
    read. Pixels equal cache-less reads either way."""
    from rasteret.read.tile_cache import decoded_tile_bytes

    with pytest.warns(UserWarning, match="records dropped"):
        ds = collection.to_torchgeo_dataset(bands=["B1"])
    with pytest.warns(UserWarning, match="records dropped"):
        direct = collection.to_torchgeo_dataset(bands=["B1"])
    direct.tile_cache_bytes = 0
    need = decoded_tile_bytes(ds._plan.layouts)
    assert need > 0
    ds.tile_cache_bytes = 2 * need if fits else 2 * need - 1
    t = slice(DATES[0] - dt.timedelta(hours=1), DATES[0] + dt.timedelta(hours=1))

    def chip(col: int, row: int):  # 64 x 64 pixels at 10 m
        x, y = ORIGIN_X + 10 * col, ORIGIN_Y - 10 * row
        return (slice(x, x + 640), slice(y - 640, y), t)

    first, along_row = chip(20, 20), chip(520, 40)  # tiles (0, 0), then (0, 2)
    scene_server.reset_log()
    got = [ds[first]["image"]]
    first_requests = scene_server.count()
    scene_server.reset_log()
    got.append(ds[along_row]["image"])
    assert (scene_server.count() == 0) is fits
    assert ds._tile_cache.readahead_rows is fits
    assert first_requests == 1  # the row's tiles are contiguous: one merged request
    for query, image in zip([first, along_row], got, strict=True):
        assert torch.equal(image, direct[query]["image"]), query
    ds.close()


def test_batch_builds_cached_chips_while_missing_tiles_are_fetched(collection, scene_server):
    """In a batch, the chips whose tiles are all cached are finished while the missing tiles
    of the others are in flight (the server holds every answer 0.8 s); samples come back in
    batch order, equal to reads without a tile cache."""
    answered_at_build: list[int] = []
    transformed: list[float] = []

    def note(sample):  # transforms run in batch order
        transformed.append(float(sample["transform"][2]))  # west edge
        return sample

    with pytest.warns(UserWarning, match="records dropped"):
        ds = collection.to_torchgeo_dataset(bands=["B1", "B2"], transforms=note)

    class Probe(type(ds)):  # when each sample is built: answers the server had sent by then
        def _sample(self, *args, **kwargs):
            answered_at_build.append(len(scene_server.requests))
            return super()._sample(*args, **kwargs)

    ds.__class__ = Probe
    with pytest.warns(UserWarning, match="records dropped"):
        direct = collection.to_torchgeo_dataset(bands=["B1", "B2"])
    direct.tile_cache_bytes = 0
    t = slice(DATES[0] - dt.timedelta(hours=1), DATES[0] + dt.timedelta(hours=1))

    def chip(col: int, row: int):  # 64 x 64 pixels at 10 m
        x, y = ORIGIN_X + 10 * col, ORIGIN_Y - 10 * row
        return (slice(x, x + 640), slice(y - 640, y), t)

    cached = [chip(10, 10), chip(100, 20)]  # tile (0, 0)
    fresh = chip(500, 440)  # tiles (1, 1) / (1, 2): not read before
    ds.__getitems__(cached)
    before = len(scene_server.requests)
    answered_at_build.clear()
    transformed.clear()
    scene_server.latency_ms = 800
    try:
        samples = ds.__getitems__([fresh, *cached])
    finally:
        scene_server.latency_ms = 0
    assert len(scene_server.requests) > before  # the fresh chip's tiles were fetched
    # built while no answer had arrived: the two cached chips first, then the fresh one
    assert answered_at_build[:2] == [before, before]
    assert answered_at_build[2] > before
    assert transformed == [q[0].start for q in (fresh, *cached)]
    for query, sample in zip([fresh, *cached], samples, strict=True):
        assert torch.equal(sample["image"], direct[query]["image"]), query
    ds.close()


def test_ctrl_c_during_a_batch_fetch_is_prompt(collection, scene_server, ctrl_c):
    """Ctrl-C while a batch's missing tiles are fetched on the helper thread raises at once,
    without waiting for the (8 s) answer."""
    with pytest.warns(UserWarning, match="records dropped"):
        ds = collection.to_torchgeo_dataset(bands=["B1"])
    t = slice(DATES[0] - dt.timedelta(hours=1), DATES[0] + dt.timedelta(hours=1))
    query = (slice(ORIGIN_X + 3000, ORIGIN_X + 3640), slice(ORIGIN_Y - 4000, ORIGIN_Y - 3360), t)
    scene_server.latency_ms = 8000
    try:
        with ctrl_c(after=0.5) as got:
            ds.__getitems__([query])
    finally:
        scene_server.latency_ms = 0
    assert got.seconds < 4.0
    ds.close()


def test_threads_share_one_dataset(dataset):
    from concurrent.futures import ThreadPoolExecutor

    sampler = RandomGeoSampler(
        dataset, size=80, length=12, generator=torch.Generator().manual_seed(2)
    )
    queries = list(sampler)
    serial = [dataset[q]["image"] for q in queries]
    dataset.close()  # cold tile cache: the threads race to fill it
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda q: dataset[q]["image"], queries))
    assert all(torch.equal(a, b) for a, b in zip(serial, threaded, strict=True))


class SceneFileBackend:
    """A user-written StorageBackend: the scene URLs' file names -> files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls = 0

    async def get_range(self, url: str, start: int, length: int) -> bytes:
        self.calls += 1
        with (self.root / url.rsplit("/", 1)[-1]).open("rb") as fh:
            fh.seek(start)
            return fh.read(length)

    async def get_ranges(self, url: str, ranges: list[tuple[int, int]]) -> list[bytes]:
        return [await self.get_range(url, s, n) for s, n in ranges]


def test_custom_backend_and_create_backend_read_the_same_chips(collection, dataset, scenes):
    """backend=: a user StorageBackend serves every tile, and an auto backend
    from create_backend survives pickling (what DataLoader spawn workers receive)."""
    sampler = RandomGeoSampler(
        dataset, size=64, length=4, generator=torch.Generator().manual_seed(3)
    )
    queries = list(sampler)
    backend = SceneFileBackend(scenes.root)
    with pytest.warns(UserWarning, match="records dropped"):
        custom = collection.to_torchgeo_dataset(
            bands=["B1", "B2"], label_field="label", backend=backend
        )
    custom.tile_cache_bytes = 0
    for q in queries:
        assert torch.equal(custom[q]["image"], dataset[q]["image"])
    assert backend.calls > 0
    with pytest.warns(UserWarning, match="records dropped"):
        auto = collection.to_torchgeo_dataset(
            bands=["B1", "B2"], label_field="label", backend=rasteret.create_backend()
        )
    clone = pickle.loads(pickle.dumps(auto))
    assert type(clone.backend) is type(auto.backend)
    for q in queries:
        assert torch.equal(clone[q]["image"], dataset[q]["image"])


_BATCHES_OF_SAMPLES = """
import resource, sys
import numpy as np
from rasteret.integrations import _malloc_tuning

def faults():  # page faults of 20 batches: 8 time-series samples and their stack, then freed
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        samples = [np.ones((4, 3, 256, 256), np.int32) for _ in range(8)]
        batch = np.stack(samples)
        del samples, batch
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0

faults()  # glibc's dynamic thresholds settle
applied = _malloc_tuning.keep_freed_memory() if sys.argv[1] == "keep" else False
print(applied, faults())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_freed_sample_memory_is_kept_for_the_next_batches():
    """Batches of 3 MiB samples (and their 24 MiB stack) freed together: glibc trims them
    off the heap every time, so every batch faults fresh pages in again, unless the
    dataset's process keeps freed memory (what RasteretGeoDataset does on its first read)."""
    import subprocess

    def run(mode: str) -> tuple[bool, int]:
        out = subprocess.run(
            [sys.executable, "-c", _BATCHES_OF_SAMPLES, mode],
            capture_output=True,
            text=True,
            check=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")},
        ).stdout.split()
        return out[0] == "True", int(out[1])

    applied, kept = run("keep")
    _, default = run("default")
    assert applied
    # 20 batches x 48 MiB is about 245,000 pages: by default most are faulted in again every
    # batch (measured 132,700); kept, only the heap's growth for the first batch (6,600)
    assert kept < 25_000 and default > 4 * kept, (kept, default)


def test_reading_a_sample_keeps_freed_memory_once_per_process(dataset):
    from rasteret.integrations import _malloc_tuning

    sampler = RandomGeoSampler(
        dataset, size=64, length=1, generator=torch.Generator().manual_seed(5)
    )
    dataset[next(iter(sampler))]
    assert _malloc_tuning._tuned_pid == os.getpid()
