"""The lazycogs leg of ``benches/dask_cube.py``, run in an interpreter that has lazycogs.

lazycogs needs Python >= 3.12, so ``dask_cube.py`` starts this file in a separate interpreter
(``--lazycogs-python``) once per worker count and repetition, with a JSON spec: the same STAC
items the other tools get (``cube.stac_items``, as dicts), the window's bounds, CRS,
resolution, bands, chunk size and worker count. This file imports only lazycogs and its
dependencies (no rasteret, no bench modules), so it runs in a venv of its own:

    python benches/dask_cube_lazycogs.py --spec spec.json --out cube.npy   # prints one JSON line

Untimed: the items are written to a stac-geoparquet file (lazycogs reads items only from
one, with DuckDB through ``rustac``), a fresh ``distributed.LocalCluster`` is started and
every worker imports lazycogs. Timed: ``lazycogs.open(..., chunks=)`` (which queries the
parquet and opens one item's COGs to learn dtype and nodata) plus ``compute`` on the cluster.
The cube is saved as ``[time * band, y, x]`` for the caller's pixel check.

Two adaptations, both outside the timed region and neither changing what lazycogs reads:

- the asset URLs are plain ``http://127.0.0.1``: lazycogs' default store (obstore's
  ``from_url``) refuses ``http``, so an obstore ``HTTPStore`` with ``allow_http`` is passed as
  ``store=``;
- lazycogs 0.7.0 keeps its ``rustac.DuckdbClient`` in the array it puts in the Dask graph, and
  that client cannot be pickled, so the graph cannot be sent to a distributed worker as is. A
  ``copyreg`` reducer sends it as "make a client with these settings", and each worker process
  makes one (once, cached) when it first unpickles a task.

The DuckDB client loads its ``spatial``, ``icu`` and ``parquet`` extensions when it is made,
downloading them when they are not installed; when the PyPI packages
``duckdb-extension-{spatial,icu,parquet}`` are installed, an extension directory is laid out
from them (symlinks in a temporary directory) so no download is needed.
"""

from __future__ import annotations

import argparse
import copyreg
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_CLIENTS: dict[str | None, Any] = {}
_EXTENSIONS = ("spatial", "icu", "parquet")


def duckdb_client(extension_directory: str | None) -> Any:
    """This process's ``rustac.DuckdbClient`` for ``extension_directory`` (made once)."""
    from rustac import DuckdbClient

    client = _CLIENTS.get(extension_directory)
    if client is None:
        if extension_directory is None:
            client = DuckdbClient()
        else:
            client = DuckdbClient(extension_directory=extension_directory)
        _CLIENTS[extension_directory] = client
    return client


def packaged_extension_directory(root: Path) -> str | None:
    """A DuckDB extension directory under ``root`` made of the ``duckdb_extension_*`` packages.

    ``None`` when one of the needed packages is not installed.
    """
    import importlib

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    target: Path | None = None
    for name in _EXTENSIONS:
        try:
            package = importlib.import_module(f"duckdb_extension_{name}")
        except ImportError:
            return None
        files = sorted(Path(package.__file__).parent.glob(f"extensions/v*/{name}.duckdb_extension"))
        if not files:
            return None
        version = files[-1].parent.name
        target = root / version / f"linux_{arch}"
        target.mkdir(parents=True, exist_ok=True)
        link = target / files[-1].name
        if not link.exists():
            link.symlink_to(files[-1])
    return str(root)


def _reduce_client(_client: Any) -> tuple[Any, tuple[str | None]]:
    return duckdb_client, (os.environ.get("LAZYCOGS_BENCH_DUCKDB_EXT") or None,)


def _imports() -> None:
    """Run in the client and on every worker before timing."""
    import dask.array  # noqa: F401
    import lazycogs  # noqa: F401
    import obstore  # noqa: F401
    import xarray  # noqa: F401
    from rustac import DuckdbClient

    copyreg.pickle(DuckdbClient, _reduce_client)
    duckdb_client(os.environ.get("LAZYCOGS_BENCH_DUCKDB_EXT") or None)


def run(spec: dict[str, Any], out: str) -> dict[str, Any]:
    """Time ``lazycogs.open`` + ``compute`` on a fresh LocalCluster; save the cube to ``out``."""
    from urllib.parse import urlparse

    import numpy as np
    import rustac

    with tempfile.TemporaryDirectory(prefix="lazycogs-bench-") as tmp:
        ext = packaged_extension_directory(Path(tmp) / "duckdb-extensions")
        if ext is not None:
            # read by _imports and _reduce_client here and in the workers (they inherit it)
            os.environ["LAZYCOGS_BENCH_DUCKDB_EXT"] = ext
        parquet = os.path.join(tmp, "items.parquet")
        rustac.write_sync(parquet, spec["items"])
        _imports()
        import dask
        import lazycogs
        from distributed import Client, LocalCluster
        from obstore.store import HTTPStore

        href = urlparse(spec["items"][0]["assets"][spec["bands"][0]]["href"])
        store = HTTPStore.from_url(
            f"{href.scheme}://{href.netloc}", client_options={"allow_http": True}
        )
        client_db = duckdb_client(ext)
        chunk = int(spec["chunk"])
        with (
            LocalCluster(
                n_workers=int(spec["workers"]),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                worker_dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(_imports)
            t0 = time.perf_counter()
            cube = lazycogs.open(
                parquet,
                bbox=tuple(spec["bounds"]),
                crs=spec["crs"],
                resolution=float(spec["resolution"]),
                bands=list(spec["bands"]),
                chunks={"y": chunk, "x": chunk},
                dtype="uint16",
                store=store,
                duckdb_client=client_db,
            )
            (values,) = dask.compute(cube.data)
            seconds = time.perf_counter() - t0
            tasks = len(dict(cube.data.__dask_graph__()))
        # (band, time, y, x) -> [time * band, y, x], the order the other tools return
        _, _, h, w = values.shape
        np.save(out, np.ascontiguousarray(values.transpose(1, 0, 2, 3)).reshape(-1, h, w))
    return {
        "seconds": seconds,
        "tasks": tasks,
        "chunks": [list(c) for c in cube.data.chunks],
        "times": [str(t) for t in cube["time"].values],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spec", help="JSON file: items, bounds, crs, resolution, bands, ...")
    parser.add_argument("--out", help="where to save the [time * band, y, x] cube (.npy)")
    parser.add_argument("--probe", action="store_true", help="exit 0 if lazycogs imports")
    args = parser.parse_args()
    if args.probe:
        import distributed  # noqa: F401
        import lazycogs  # noqa: F401
        import rustac  # noqa: F401

        return
    spec = json.loads(Path(args.spec).read_text())
    print(json.dumps(run(spec, args.out)), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import dask_cube_lazycogs  # noqa: E402  (by module name, so workers pickle it by reference)

    dask_cube_lazycogs.main()
