"""Cost of provider-signed reads vs anonymous reads on the AOI workload (issue 5).

Same files, same server, same windows: the benchmark data set (``workloads.ensure_data``) served
by the SAS-style test server (``tests/support/sas_server.py``) on 127.0.0.1, once with tokens
required and read through ``create_backend(credential_provider=<token provider>)`` (the Rust
core caches the token and appends it to every request; the provider runs once per token
lifetime), once with tokens off and read anonymously. Workload: the B2 AOI window
(1024x1024, not tile-aligned) of every band of every scene, headers parsed once beforehand.
Runs alternate anonymous/signed; the median of ``--reps`` runs each is reported.

``--server bridge`` measures the Python ``StorageBackend`` bridge alone: an in-memory backend
answering instantly, 2000 separate (unmergeable) ranges in one call, then 300 one-range calls.

``--server moto`` does the same over moto's S3 server: one bucket whose policy allows anonymous
GetObject, read anonymously and with SigV4 signatures from a credential provider
(``create_backend(credential_provider=..., default_s3_config={endpoint...})``).

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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))
sys.path.insert(0, str(BENCH_DIR))

import workloads  # noqa: E402
from support.sas_server import TokenProvider, start_sas_server  # noqa: E402


def _read_all(urls: list[str], meta: Any, options: dict[str, Any]) -> np.ndarray:
    from rasteret.read import engine as _read

    col, row, w, h = workloads.AOI
    reads = [_read.WindowRead(u, meta[i], col, row, w, h, index=i) for i, u in enumerate(urls)]
    out = np.zeros((len(urls), h, w), np.uint16)
    return _read.read_into(reads, out, options=options)


@contextmanager
def _moto_bucket(root: Path, names: list[str]) -> Iterator[tuple[list[str], dict[str, str]]]:
    """moto on 127.0.0.1 with ``names`` uploaded to a bucket anonymous users may read."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=_KEY_ID,
            aws_secret_access_key=_SECRET,
        )
        client.create_bucket(Bucket="bench")
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::bench/*",
                }
            ],
        }
        client.put_bucket_policy(Bucket="bench", Policy=json.dumps(policy))
        for n in names:
            client.upload_file(str(root / n), "bench", n)
        config = {"endpoint": endpoint, "allow_http": "true", "region": "us-east-1"}
        yield [f"s3://bench/{n}" for n in names], config
    finally:
        server.stop()


_KEY_ID = "AKIABENCH00000000001"
_SECRET = "bench-secret"


def _s3_provider() -> dict[str, Any]:
    from datetime import UTC, datetime, timedelta

    return {
        "access_key_id": _KEY_ID,
        "secret_access_key": _SECRET,
        "token": None,
        "expires_at": datetime.now(UTC) + timedelta(hours=1),
    }


def _run_moto(root: Path, names: list[str], reps: int) -> dict[str, Any]:
    import rasteret
    from rasteret._backends import io_options
    from rasteret.read import engine as _read

    with _moto_bucket(root, names) as (urls, config):
        anon_backend = rasteret.create_backend(default_s3_config=config)
        signed_backend = rasteret.create_backend(
            credential_provider=_s3_provider, default_s3_config=config
        )
        anonymous = io_options(anon_backend)
        signed = io_options(signed_backend)
        meta = _read.parse_headers(urls, options=anonymous).column("metadata")
        assert np.array_equal(_read_all(urls, meta, signed), _read_all(urls, meta, anonymous))
        times: dict[str, list[float]] = {"anonymous": [], "signed": []}
        for _ in range(reps):
            times["anonymous"].append(_time(lambda: _read_all(urls, meta, anonymous)))
            times["signed"].append(_time(lambda: _read_all(urls, meta, signed)))
        return {"times": times, "provider_calls": signed_backend.credential_fetches}


class _MemoryBackend:
    """A StorageBackend that answers instantly (zeros): only the bridge costs time."""

    async def get_range(self, url: str, start: int, length: int) -> bytes:
        return bytes(length)

    async def get_ranges(self, url: str, ranges: list[tuple[int, int]]) -> list[bytes]:
        return [bytes(n) for _, n in ranges]


def _run_bridge() -> dict[str, Any]:
    from rasteret import _core

    opts = {"backend": _MemoryBackend()}
    n = 2000
    ranges = [(i * 100_000, 16) for i in range(n)]  # far apart: never merged
    _core.fetch_ranges("mem://warm-up", ranges[:50], options=opts)
    concurrent = _time(lambda: _core.fetch_ranges("mem://x", ranges, options=opts))
    one = [
        _time(lambda r=r: _core.fetch_ranges("mem://x", [r], options=opts)) for r in ranges[:300]
    ]
    # the same single-range call on a local file: the FFI + runtime baseline without the bridge
    local = str(Path(__file__).resolve())
    base = [_time(lambda: _core.fetch_ranges(local, [(0, 16)])) for _ in range(300)]
    return {
        "workload": "Python StorageBackend bridge, in-memory backend",
        "concurrent_us_per_range": round(concurrent / n * 1e6, 1),
        "single_call_median_us": round(statistics.median(one) * 1e6, 1),
        "local_file_single_call_median_us": round(statistics.median(base) * 1e6, 1),
    }


def _time(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    import rasteret
    from rasteret._backends import io_options
    from rasteret.read import engine as _read

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenes", type=int, default=workloads.QUICK_SCENES)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--codec", default="deflate", choices=sorted(workloads.COG_OPTIONS))
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--server", default="sas", choices=["sas", "moto", "bridge"])
    args = p.parse_args(argv)
    if args.server == "bridge":
        print(json.dumps(_run_bridge(), indent=2))
        return 0

    if args.data_dir is not None:
        root = args.data_dir
    else:
        root = workloads.ensure_data(args.scenes, log=lambda m: print(m, file=sys.stderr))
    names = [
        workloads.cog_name(args.codec, s, b)
        for s in range(args.scenes)
        for b in range(workloads.N_BANDS)
    ]
    if args.server == "moto":
        out = _run_moto(root, names, args.reps)
        med = {k: statistics.median(v) for k, v in out["times"].items()}
        print(
            json.dumps(
                {
                    "workload": f"AOI {workloads.AOI[2]}x{workloads.AOI[3]} x {len(names)} COGs "
                    f"({args.codec}) over moto S3",
                    "reps": args.reps,
                    "median_s": med,
                    "all_s": out["times"],
                    "overhead_pct": round((med["signed"] / med["anonymous"] - 1) * 100, 2),
                    "provider_calls": out["provider_calls"],
                },
                indent=2,
            )
        )
        return 0
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
