"""Write the GDAL (rasterio) GeoTIFF corpus described by :mod:`support.corpus_specs`.

:func:`build_corpus` writes every spec into a directory (skipping, with a recorded reason,
the ones this GDAL build cannot write), and :func:`load_or_build` caches the result under
``tests/.corpus_cache/<key>`` where the key hashes the specs, this generator's source and
the numpy/rasterio/GDAL versions, so reruns reuse the files.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.transform import Affine
from rasterio.windows import Window

from support.corpus_specs import (
    CRS_CUSTOM,
    CRS_UTM33,
    CRS_WGS84,
    SPECS,
    CorpusSpec,
    derive_tags,
)

CACHE_ROOT = Path(__file__).resolve().parent.parent / ".corpus_cache"
MANIFEST = "manifest.json"
#: Bump to force regeneration when the layout of the cache changes.
CACHE_FORMAT = 1


@dataclass(frozen=True)
class CorpusEntry:
    """One corpus file and what it exercises."""

    name: str
    path: Path
    tags: frozenset[str]
    lossy: bool
    nodata: float | None
    dtype: str
    count: int
    width: int
    height: int


@dataclass(frozen=True)
class Corpus:
    """The written corpus: its directory, entries and the specs skipped (with reasons)."""

    root: Path
    entries: list[CorpusEntry]
    skipped: dict[str, str]
    build_seconds: float
    cached: bool

    def __iter__(self) -> Iterator[CorpusEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def select(self, *tags: str) -> list[CorpusEntry]:
        """Entries carrying every one of ``tags``."""
        wanted = set(tags)
        return [e for e in self.entries if wanted <= e.tags]

    def by_name(self, name: str) -> CorpusEntry:
        """The entry called ``name`` (``KeyError`` if absent or skipped)."""
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise KeyError(f"no corpus entry {name!r} (skipped: {self.skipped.get(name)!r})")


# ---------------------------------------------------------------------------- content


def _seed(name: str) -> int:
    return zlib.crc32(name.encode())


def _field(spec: CorpusSpec, band: int) -> np.ndarray:
    """A smooth-but-varied field in [0, 1]: gradients + waves + a little noise."""
    h, w = spec.height, spec.width
    rng = np.random.default_rng(_seed(spec.name) + band)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    ramp = (xx / max(w - 1, 1) + yy / max(h - 1, 1)) / 2
    waves = np.sin(xx / (17 + 5 * band) + band) * np.cos(yy / (23 + 3 * band))
    noise = rng.normal(0.0, 0.02, (h, w))
    return np.clip(0.55 * ramp + 0.2 * (waves + 1) + noise, 0.0, 1.0)


def _value_range(spec: CorpusSpec) -> tuple[float, float]:
    if spec.nbits is not None and spec.dtype != "float32":
        return 0, 2**spec.nbits - 1
    if spec.compress == "JPEG" or spec.compress == "WEBP":
        return 0, 255
    return {
        "uint8": (1, 250),
        "int8": (-120, 120),
        "uint16": (1, 60000),
        "int16": (-30000, 30000),
        "uint32": (1, 4_000_000_000),
        "int32": (-2_000_000_000, 2_000_000_000),
        "uint64": (1, 2**62),
        "int64": (-(2**62), 2**62),
        "float32": (-200.0, 1800.0),
        "float64": (-5000.0, 90000.0),
    }[spec.dtype]


def _fill_value(spec: CorpusSpec) -> float:
    return spec.nodata if spec.nodata is not None else 0


def _holes(spec: CorpusSpec) -> np.ndarray:
    """Where nodata goes: a disk and a corner rectangle crossing tile boundaries."""
    h, w = spec.height, spec.width
    yy, xx = np.mgrid[0:h, 0:w]
    disk = (xx - 0.7 * w) ** 2 + (yy - 0.35 * h) ** 2 < (0.12 * min(w, h)) ** 2
    rect = (xx < w // 5) & (yy > h - h // 4)
    return disk | rect


def _sparse_blocks(spec: CorpusSpec) -> list[tuple[int, int]]:
    """Block (row, col) indices a sparse file leaves unwritten: a checkerboard-ish set."""
    bw, bh = spec.tile
    rows, cols = math.ceil(spec.height / bh), math.ceil(spec.width / bw)
    return [(r, c) for r in range(rows) for c in range(cols) if (r * 3 + c) % 3 == 1]


def make_data(spec: CorpusSpec) -> np.ndarray:
    """The pixels of ``spec`` as written (and, for lossless specs, as read back): (bands, h, w)."""
    lo, hi = _value_range(spec)
    bands = []
    for b in range(spec.count):
        f = _field(spec, b)
        if np.dtype(spec.dtype).kind == "f":
            v = lo + f * (hi - lo)
            if spec.nbits == 16:
                v = v.astype(np.float16)
            arr = v.astype(spec.dtype)
        elif spec.dtype in ("uint64", "int64"):
            # exercise the high bits exactly: scaled coarse part plus small exact noise
            coarse = (f * 1e6).astype(np.int64)
            step = np.int64((hi - lo) // 10**6)
            arr = (np.int64(lo) + coarse * step + coarse % 997).astype(spec.dtype)
        else:
            arr = np.round(lo + f * (hi - lo)).astype(spec.dtype)
        bands.append(arr)
    data = np.stack(bands)
    if spec.nodata is not None:
        data[:, _holes(spec)] = _fill_value(spec)
    if spec.sparse:
        bw, bh = spec.tile
        for r, c in _sparse_blocks(spec):
            data[:, r * bh : (r + 1) * bh, c * bw : (c + 1) * bw] = _fill_value(spec)
    return data


def make_mask(spec: CorpusSpec) -> np.ndarray:
    """The dataset mask of ``spec`` (255 valid, 0 invalid)."""
    mask = np.full((spec.height, spec.width), 255, dtype=np.uint8)
    mask[_holes(spec)] = 0
    return mask


def _transform(spec: CorpusSpec) -> Affine:
    if spec.crs == CRS_WGS84:
        x0, y0, res = 12.25, 48.5, 0.0005
    elif spec.crs == CRS_UTM33:
        x0, y0, res = 399960.0, 5800020.0, 10.0
    else:
        x0, y0, res = 487000.0, 5330000.0, 30.0
    if spec.south_up:
        # origin at the south-west corner, rows going north: positive e
        return Affine(res, 0.0, x0, 0.0, res, y0 - spec.height * res)
    return Affine(res, 0.0, x0, 0.0, -res, y0)


def _crs(spec: CorpusSpec) -> CRS:
    return CRS.from_proj4(CRS_CUSTOM) if spec.crs == CRS_CUSTOM else CRS.from_string(spec.crs)


# ---------------------------------------------------------------------------- writing


def creation_profile(spec: CorpusSpec) -> dict[str, object]:
    """The rasterio profile (creation options included) that writes ``spec``."""
    profile: dict[str, object] = {
        "driver": spec.driver,
        "width": spec.width,
        "height": spec.height,
        "count": spec.count,
        "dtype": spec.dtype,
        "crs": _crs(spec),
        "transform": _transform(spec),
        "compress": spec.compress,
    }
    if spec.nodata is not None:
        profile["nodata"] = spec.nodata
    if spec.predictor:
        profile["predictor"] = spec.predictor
    if spec.nbits is not None:
        profile["nbits"] = spec.nbits
    if spec.bigtiff:
        profile["bigtiff"] = "YES"
    if spec.photometric:
        profile["photometric"] = spec.photometric
    if spec.driver == "COG":
        bw, bh = spec.tile
        if bw != bh:
            raise ValueError(f"{spec.name}: the COG driver needs square tiles")
        profile["blocksize"] = bw
        profile["overviews"] = "AUTO" if spec.overviews == "auto" else "NONE"
        if spec.interleave != "pixel" or spec.big_endian or spec.sparse or spec.strip_rows:
            raise ValueError(f"{spec.name}: use driver='GTiff' for this layout")
    else:
        if spec.overviews == "auto":
            raise ValueError(f"{spec.name}: overviews='auto' needs the COG driver")
        profile["interleave"] = spec.interleave
        if spec.strip_rows is not None:
            profile["tiled"] = False
            profile["blockysize"] = spec.strip_rows
        else:
            profile["tiled"] = True
            profile["blockxsize"], profile["blockysize"] = spec.tile
        if spec.big_endian:
            profile["endianness"] = "BIG"
        if spec.sparse:
            profile["sparse_ok"] = True
    for key, value in spec.options:
        profile[key.lower()] = value
    return profile


def write_spec(spec: CorpusSpec, path: Path) -> None:
    """Write one spec to ``path`` with rasterio."""
    profile = creation_profile(spec)
    data = make_data(spec)
    env = {"GDAL_TIFF_INTERNAL_MASK": "YES"}
    with rasterio.Env(**env), rasterio.open(path, "w", **profile) as dst:
        if spec.sparse:
            bw, bh = spec.tile
            skip = set(_sparse_blocks(spec))
            for r in range(math.ceil(spec.height / bh)):
                for c in range(math.ceil(spec.width / bw)):
                    if (r, c) in skip:
                        continue
                    win = Window(
                        c * bw, r * bh, min(bw, spec.width - c * bw), min(bh, spec.height - r * bh)
                    )
                    block = data[:, r * bh : r * bh + win.height, c * bw : c * bw + win.width]
                    dst.write(block, window=win)
        else:
            dst.write(data)
        if spec.mask:
            dst.write_mask(make_mask(spec))
        if spec.pixel_is_point:
            dst.update_tags(AREA_OR_POINT="Point")
        if spec.scale_offset is not None:
            scale, offset = spec.scale_offset
            dst.scales = (scale,) * spec.count
            dst.offsets = (offset,) * spec.count
        if isinstance(spec.overviews, tuple):
            dst.build_overviews(list(spec.overviews), Resampling.nearest)


_PROBE_CACHE: dict[tuple[str, str], str | None] = {}


def probe_compression(driver: str, compress: str, workdir: Path) -> str | None:
    """``None`` if this GDAL build writes ``compress`` with ``driver``, else the reason."""
    key = (driver, compress)
    if key not in _PROBE_CACHE:
        count = 3 if compress == "WEBP" else 1
        path = workdir / f"_probe_{driver}_{compress}.tif"
        try:
            with rasterio.open(
                path,
                "w",
                driver=driver,
                width=16,
                height=16,
                count=count,
                dtype="uint8",
                crs=CRS_WGS84,
                transform=Affine(1, 0, 0, 0, -1, 16),
                compress=compress,
            ) as dst:
                dst.write(np.zeros((count, 16, 16), np.uint8))
            with rasterio.open(path) as src:
                src.read()
                got = src.compression.name.upper() if src.compression else "NONE"
            if got != compress.upper():  # GDAL ignores unknown COMPRESS values with a warning
                raise ValueError(f"asked for COMPRESS={compress}, got {got}")
            _PROBE_CACHE[key] = None
        except Exception as err:  # noqa: BLE001 - any failure means "unsupported here"
            _PROBE_CACHE[key] = f"GDAL {rasterio.__gdal_version__} cannot write {compress}: {err}"
        finally:
            path.unlink(missing_ok=True)
    return _PROBE_CACHE[key]


def _entry(spec: CorpusSpec, root: Path) -> CorpusEntry:
    return CorpusEntry(
        name=spec.name,
        path=root / spec.name,
        tags=derive_tags(spec),
        lossy=spec.lossy,
        nodata=spec.nodata,
        dtype=spec.dtype,
        count=spec.count,
        width=spec.width,
        height=spec.height,
    )


def build_corpus(root: Path, specs: tuple[CorpusSpec, ...] = SPECS) -> dict[str, str]:
    """Write every spec into ``root``; return ``{name: reason}`` for the ones skipped."""
    root.mkdir(parents=True, exist_ok=True)
    skipped: dict[str, str] = {}
    for spec in specs:
        reason = probe_compression(spec.driver, spec.compress, root)
        if reason is not None:
            skipped[spec.name] = reason
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                write_spec(spec, root / spec.name)
        except RasterioError as err:
            (root / spec.name).unlink(missing_ok=True)
            skipped[spec.name] = f"GDAL {rasterio.__gdal_version__} refused: {err}"
    return skipped


def cache_key(specs: tuple[CorpusSpec, ...] = SPECS) -> str:
    """Hash of the specs, the generator source and the library versions."""
    h = hashlib.sha256()
    h.update(repr(specs).encode())
    for module_file in (Path(__file__), Path(__file__).with_name("corpus_specs.py")):
        h.update(module_file.read_bytes())
    versions = (CACHE_FORMAT, np.__version__, rasterio.__version__, rasterio.__gdal_version__)
    h.update(repr(versions).encode())
    return h.hexdigest()[:16]


def _load(root: Path, specs: tuple[CorpusSpec, ...], seconds: float, cached: bool) -> Corpus:
    manifest = json.loads((root / MANIFEST).read_text())
    skipped = dict(manifest["skipped"])
    entries = [_entry(s, root) for s in specs if s.name not in skipped]
    missing = [e.name for e in entries if not e.path.is_file()]
    if missing:
        raise FileNotFoundError(f"corpus cache {root} lacks {missing}")
    return Corpus(root=root, entries=entries, skipped=skipped, build_seconds=seconds, cached=cached)


def load_or_build(
    cache_root: Path | None = CACHE_ROOT, specs: tuple[CorpusSpec, ...] = SPECS
) -> Corpus:
    """The corpus from the cache, or freshly built (and cached) when absent or stale.

    ``cache_root=None`` builds into a fresh temporary directory without caching. Set the
    environment variable ``RASTERET_CORPUS_CACHE`` to another directory to move the cache.
    """
    env_root = os.environ.get("RASTERET_CORPUS_CACHE")
    if env_root:
        cache_root = Path(env_root)
    if cache_root is None:
        root = Path(tempfile.mkdtemp(prefix="rasteret-corpus-"))
        t0 = time.perf_counter()
        skipped = build_corpus(root, specs)
        (root / MANIFEST).write_text(json.dumps({"skipped": skipped}, indent=1))
        return _load(root, specs, time.perf_counter() - t0, cached=False)
    root = cache_root / cache_key(specs)
    if (root / MANIFEST).is_file():
        try:
            return _load(root, specs, 0.0, cached=True)
        except (FileNotFoundError, ValueError, KeyError):
            shutil.rmtree(root, ignore_errors=True)
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=cache_root))
    t0 = time.perf_counter()
    try:
        skipped = build_corpus(staging, specs)
        seconds = time.perf_counter() - t0
        (staging / MANIFEST).write_text(
            json.dumps({"skipped": skipped, "build_seconds": seconds}, indent=1)
        )
        try:
            staging.rename(root)
        except OSError:  # another process won the race: use its copy
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for stale in cache_root.iterdir():
        if stale.is_dir() and stale.name != root.name and not stale.name.startswith("."):
            shutil.rmtree(stale, ignore_errors=True)
    return _load(root, specs, seconds, cached=False)
