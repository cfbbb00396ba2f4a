"""The ``rasteret`` command line (``rasteret.cli:main``).

Sub-commands: ``collections`` (build/list/info/delete/import cached collections),
``datasets`` (list/info/build/register-local/unregister-local/export-local), ``build``
(alias of ``datasets build``) and ``demo``. The handlers live in :mod:`rasteret._cli`; they
call ``build``, ``build_from_stac`` and ``register_local`` through this module so tests can
replace them here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rasteret._build import build, build_from_stac
from rasteret._cli.args import EntryPoints
from rasteret._register import register_local

__all__ = ["build", "build_from_stac", "build_parser", "main", "register_local"]


def _demo(args: argparse.Namespace) -> int:
    from rasteret import _demo

    result = _demo.run(
        Path(args.workdir) if args.workdir else None,
        out=Path(args.out).expanduser(),
        scenes=args.scenes,
        latency_ms=args.latency_ms,
        echo=lambda line: print(line, flush=True),
    )
    print(_demo.format_result(result))
    return 0 if result.identical else 1


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``rasteret`` command."""
    import rasteret
    from rasteret._cli import collections, datasets
    from rasteret._cli.args import command_list_formatter

    parser = argparse.ArgumentParser(
        prog="rasteret",
        description="Index-first reads of cloud-hosted Cloud-Optimized GeoTIFFs.",
        formatter_class=command_list_formatter("collections"),
    )
    parser.add_argument(
        "--version",
        action="version",
        version=rasteret.__version__,
        help="print the rasteret version and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    collections.add_parser(sub)
    datasets.add_parser(sub)
    datasets.add_build_parser(sub)
    demo = sub.add_parser(
        "demo",
        help="run an offline end-to-end demo on synthetic COGs served over local HTTP",
        description=(
            "Write a small Sentinel-2-like archive (GDAL COGs + a static STAC catalog), serve "
            "it on 127.0.0.1, build a collection from the catalog, filter it, read an AOI "
            "(get_numpy, get_xarray), sample points, run TorchGeo batches when torchgeo is "
            "installed, check the pixels against rasterio, print a timing table and write a "
            "PNG quick-look (true colour | NDVI). Needs no network."
        ),
    )
    demo.add_argument(
        "--out",
        default="rasteret-demo.png",
        help="where to write the PNG quick-look (default: ./rasteret-demo.png)",
    )
    demo.add_argument(
        "--scenes",
        type=int,
        default=4,
        choices=range(2, 7),
        metavar="N",
        help="number of scenes, 2-6 (4 bands each; default 4)",
    )
    demo.add_argument(
        "--latency-ms",
        type=float,
        default=20.0,
        help=(
            "time-to-first-byte the local server adds to each request, as a cloud object "
            "store would (default 20)"
        ),
    )
    demo.add_argument(
        "--workdir", default=None, help="keep the archive and the collection here (default: temp)"
    )
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if getattr(args, "func", None) is None:
        # no sub-command (or a group such as "collections" without its command): show help
        getattr(args, "help_parser", parser).print_help()
        return 0
    args.entry_points = EntryPoints(
        build=build, build_from_stac=build_from_stac, register_local=register_local
    )
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
