"""Cost of provider-signed reads vs anonymous reads on the AOI workload (issue 5).

Same files, same server, same windows: the benchmark data set (``workloads.ensure_data``) served
by the SAS-style test server (``tests/support/sas_server.py``) on 127.0.0.1, once with tokens
required and read through ``create_backend(credential_provider=<token provider>)`` (the Rust
core caches the token and appends it to every request; the provider runs once per token
lifetime), once with tokens off and read anonymously. Workload: the B2 AOI window
(1024x1024, not tile-aligned) of every band of every scene, headers parsed once beforehand.
Runs alternate anonymous/signed; the median of ``--reps`` runs each is reported.

    python benches/cloud_auth.py [--scenes 3] [--reps 7] [--data-dir DIR]

``--data-dir`` reads an already generated data set (``benches/.data/<version>``) instead of
generating one here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))
sys.path.insert(0, str(BENCH_DIR))

import workloads  # noqa: E402
from support.sas_server import TokenProvider, start_sas_server  # noqa: E402


def _read_all(urls: list[str], meta: Any, options: dict[str, Any]) -> np.ndarray:
    from rasteret.core import _read

    col, row, w, h = workloads.AOI
    reads = [_read.WindowRead(u, meta[i], col, row, w, h, index=i) for i, u in enumerate(urls)]
    out = np.zeros((len(urls), h, w), np.uint16)
    return _read.read_into(reads, out, options=options)


def _time(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    import rasteret
    from rasteret._backends import io_options
    from rasteret.core import _read

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenes", type=int, default=workloads.QUICK_SCENES)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--codec", default="deflate", choices=sorted(workloads.COG_OPTIONS))
    p.add_argument("--data-dir", type=Path, default=None)
    args = p.parse_args(argv)

    if args.data_dir is not None:
        root = args.data_dir
    else:
        root = workloads.ensure_data(args.scenes, log=lambda m: print(m, file=sys.stderr))
    names = [
        workloads.cog_name(args.codec, s, b)
        for s in range(args.scenes)
        for b in range(workloads.N_BANDS)
    ]
    with start_sas_server(root, lifetime=3600.0) as server:
        urls = [server.url(n) for n in names]
        provider = TokenProvider(server.token_url)
        signed = io_options(rasteret.create_backend(credential_provider=provider))
        anonymous: dict[str, Any] = {}
        meta = _read.parse_headers(urls, options=signed).column("metadata")
        server.require_token = True
        reference = _read_all(urls, meta, signed)
        server.require_token = False
        assert np.array_equal(reference, _read_all(urls, meta, anonymous))
        times: dict[str, list[float]] = {"anonymous": [], "signed": []}
        for _ in range(args.reps):
            server.require_token = False
            times["anonymous"].append(_time(lambda: _read_all(urls, meta, anonymous)))
            server.require_token = True
            times["signed"].append(_time(lambda: _read_all(urls, meta, signed)))
        assert not server.rejected, server.rejected
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "workload": f"AOI {workloads.AOI[2]}x{workloads.AOI[3]} x {len(urls)} COGs ({args.codec})",
        "reps": args.reps,
        "median_s": med,
        "all_s": times,
        "overhead_pct": round((med["signed"] / med["anonymous"] - 1) * 100, 2),
        "provider_calls": provider.calls,
        "data_requests": server.data_requests,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
