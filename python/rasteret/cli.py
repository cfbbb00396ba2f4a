"""The ``rasteret`` command line (``rasteret.cli:main``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from rasteret import _demo

    result = _demo.run(
        Path(args.workdir) if args.workdir else None,
        scenes=args.scenes,
        latency_ms=args.latency_ms,
    )
    print(_demo.format_result(result))
    return 0 if result.identical else 1


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``rasteret`` command."""
    import rasteret

    parser = argparse.ArgumentParser(
        prog="rasteret",
        description="Index-first reads of cloud-hosted Cloud-Optimized GeoTIFFs.",
    )
    parser.add_argument("--version", action="version", version=rasteret.__version__)
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser(
        "demo",
        help="run an offline end-to-end demo on synthetic COGs served over local HTTP",
        description=(
            "Write a small Sentinel-2-like archive of GDAL COGs, serve it on 127.0.0.1, parse "
            "every header and read a window of every band through rasteret's Rust core, and "
            "compare pixels and timings with rasterio. Needs no network."
        ),
    )
    demo.add_argument("--scenes", type=int, default=3, help="number of scenes (4 bands each)")
    demo.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="time-to-first-byte the local server adds to each request (default 0)",
    )
    demo.add_argument("--workdir", default=None, help="keep the generated files here")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
