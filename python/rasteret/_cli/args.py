"""Argument types and option groups shared by several ``rasteret`` sub-commands."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_WORKSPACE",
    "add_bbox",
    "add_date_range",
    "add_force",
    "add_json",
    "add_max_concurrent",
    "add_query",
    "add_workspace_dir",
    "command_list_formatter",
    "json_object",
    "parse_bbox",
    "parse_columns",
    "parse_date_range",
    "workspace_path",
]

DEFAULT_WORKSPACE = "~/rasteret_workspace"


def command_list_formatter(longest_command: str) -> Callable[[str], argparse.HelpFormatter]:
    """A help formatter that keeps each sub-command's help on the line of its name.

    (argparse does not count sub-command names when aligning help, so long names such as
    ``unregister-local`` would otherwise push their help to the next line.)
    """
    width = len(longest_command) + 4  # sub-commands are indented by 4

    class _Formatter(argparse.HelpFormatter):
        def __init__(self, prog: str) -> None:
            super().__init__(prog)
            self._action_max_length = width

    return _Formatter


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    """``"minx,miny,maxx,maxy"`` -> four floats with ``minx < maxx`` and ``miny < maxy``."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 4:
        raise argparse.ArgumentTypeError("bbox must be minx,miny,maxx,maxy")
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("bbox values must be numbers") from exc
    if not (minx < maxx and miny < maxy):
        raise argparse.ArgumentTypeError("bbox must satisfy minx<maxx and miny<maxy")
    return (minx, miny, maxx, maxy)


def parse_date_range(value: str) -> tuple[str, str]:
    """``"start,end"`` -> ``(start, end)``; both parts must be non-empty."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError("date-range must be start,end")
    return (parts[0], parts[1])


def json_object(value: str) -> dict[str, Any]:
    """A JSON object given on the command line (``json.loads``)."""
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError('expected a JSON object, e.g. \'{"key": "value"}\'')
    return parsed


def workspace_path(value: str) -> Path:
    """A workspace directory with ``~`` expanded."""
    return Path(value).expanduser()


def parse_columns(value: str | None) -> list[str] | None:
    """``"a, b,c"`` -> ``["a", "b", "c"]`` (None when not given or empty)."""
    if not value:
        return None
    columns = [c.strip() for c in value.split(",") if c.strip()]
    return columns or None


def add_bbox(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    """``--bbox minx,miny,maxx,maxy``."""
    parser.add_argument(
        "--bbox",
        type=parse_bbox,
        required=required,
        metavar="MINX,MINY,MAXX,MAXY",
        help="area of interest in EPSG:4326 degrees, e.g. 11.0,46.0,11.5,46.5",
    )


def add_date_range(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    """``--date-range start,end``."""
    parser.add_argument(
        "--date-range",
        type=parse_date_range,
        required=required,
        metavar="START,END",
        help="time window as two ISO dates, e.g. 2024-06-01,2024-06-30",
    )


def add_workspace_dir(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """``--workspace-dir`` (default ``~/rasteret_workspace``)."""
    parser.add_argument(
        "--workspace-dir",
        type=workspace_path,
        default=DEFAULT_WORKSPACE,
        metavar="DIR",
        help=help or f"directory holding cached collections (default: {DEFAULT_WORKSPACE})",
    )


def add_query(parser: argparse.ArgumentParser) -> None:
    """``--query JSON`` (a STAC query object)."""
    parser.add_argument(
        "--query",
        type=json_object,
        default=None,
        metavar="JSON",
        help='extra STAC query as a JSON object, e.g. \'{"eo:cloud_cover": {"lt": 20}}\'',
    )


def add_max_concurrent(parser: argparse.ArgumentParser) -> None:
    """``--max-concurrent INT`` (default 50)."""
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=50,
        metavar="N",
        help="maximum number of concurrent COG header requests (default: 50)",
    )


def add_force(parser: argparse.ArgumentParser, help: str) -> None:
    """``--force``."""
    parser.add_argument("--force", action="store_true", help=help)


def add_json(parser: argparse.ArgumentParser) -> None:
    """``--json``."""
    parser.add_argument(
        "--json", action="store_true", help="print machine-readable JSON instead of text"
    )


@dataclass(frozen=True)
class EntryPoints:
    """The library calls the sub-commands make (``rasteret.cli`` hands its own module-level
    ``build``, ``build_from_stac`` and ``register_local`` to each command as
    ``args.entry_points``, so a replacement set on ``rasteret.cli`` is the one called)."""

    build: Callable[..., Any]
    build_from_stac: Callable[..., Any]
    register_local: Callable[..., Any]
