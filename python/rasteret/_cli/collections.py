"""``rasteret collections ...``: build, list, inspect, delete and import cached collections."""

from __future__ import annotations

import argparse
import shutil
from typing import Any

from rasteret._cli import args as a
from rasteret._cli.output import (
    collection_summary,
    format_table,
    print_json,
    print_summary,
    resolve_collection_path,
)
from rasteret.core.collection import Collection
from rasteret.records.naming import check_collection_name

__all__ = ["add_parser"]

_LIST_HEADERS = ("name", "kind", "data_source", "size", "date_start", "date_end")


def _build(args: argparse.Namespace) -> int:
    workspace = args.workspace_dir
    workspace.mkdir(parents=True, exist_ok=True)
    collection = args.entry_points.build_from_stac(
        name=args.name,
        stac_api=args.stac_api,
        collection=args.collection,
        bbox=args.bbox,
        date_range=args.date_range,
        workspace_dir=workspace,
        force=args.force,
        max_concurrent=args.max_concurrent,
        query=args.query,
    )
    summary = collection_summary(collection, workspace / f"{collection.name}_stac")
    print_summary(summary, "Collection built", as_json=args.json)
    return 0


def _list_row(entry: dict[str, Any]) -> list[str]:
    dates = entry.get("date_range") or ("-", "-")
    return [
        str(entry.get("name", "")),
        str(entry.get("kind", "")),
        str(entry.get("data_source", "")),
        str(entry.get("size", 0)),
        str(dates[0] or "-"),
        str(dates[1] or "-"),
    ]


def _list(args: argparse.Namespace) -> int:
    entries = sorted(
        Collection.list_collections(args.workspace_dir), key=lambda e: str(e.get("name", ""))
    )
    if args.json:
        print_json(entries)
        return 0
    if not entries:
        print("No cached collections found.")
        return 0
    for line in format_table(_LIST_HEADERS, [_list_row(e) for e in entries]):
        print(line)
    return 0


def _info(args: argparse.Namespace) -> int:
    try:
        path = resolve_collection_path(args.name, args.workspace_dir)
    except (FileNotFoundError, ValueError) as exc:
        print(f"Error: {exc}")
        return 1
    summary = collection_summary(Collection._load_cached(path), path)
    if args.json:
        print_json(summary)
        return 0
    print_summary(summary, "Name")
    print(f"Columns ({len(summary['columns'])}): {', '.join(summary['columns'])}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    try:
        path = resolve_collection_path(args.name, args.workspace_dir)
    except (FileNotFoundError, ValueError) as exc:
        print(f"Error: {exc}")
        return 1
    if not args.yes:
        answer = input(f"Delete collection at {path}? [y/N]: ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Delete cancelled.")
            return 0
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    print(f"Deleted: {path}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from rasteret.ingest.parquet_record_table import RecordTableBuilder

    workspace = args.workspace_dir
    try:
        target = workspace / f"{check_collection_name(args.name)}_records"
    except ValueError as exc:
        print(f"Error: {exc}")
        return 1
    if target.exists():
        if not args.force:
            summary = collection_summary(Collection._load_cached(target), target)
            if args.json:
                print_json(summary)
            else:
                print(f"Collection exists: {summary['name']}")
                print(f"Path: {summary['path']}")
                print(f"Scenes: {summary['scene_count']}")
            return 0
        shutil.rmtree(target)
    workspace.mkdir(parents=True, exist_ok=True)
    builder = RecordTableBuilder(
        args.record_table,
        data_source=args.data_source,
        column_map=args.column_map,
        columns=a.parse_columns(args.columns),
    )
    collection = builder.build(name=args.name, workspace_dir=target)
    summary = collection_summary(collection, target)
    if args.json:
        print_json(summary)
        return 0
    print(f"Collection imported: {summary['name']}")
    print(f"Path: {summary['path']}")
    print(f"Scenes: {summary['scene_count']}")
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``collections`` and its sub-commands to the top-level sub-parsers ``sub``."""
    group = sub.add_parser(
        "collections",
        help="build, list, inspect, delete and import cached collections",
        description=(
            "Manage the collections cached in a workspace directory: STAC-indexed "
            "(<name>_stac) and imported record tables (<name>_records)."
        ),
    )
    group.set_defaults(func=None, help_parser=group)
    cmds = group.add_subparsers(dest="collections_command", metavar="COMMAND")

    p = cmds.add_parser(
        "build",
        help="index a STAC collection into a cached collection",
        description=(
            "Search a STAC API for the items of COLLECTION inside --bbox and --date-range, "
            "parse every asset's COG header once and cache the result as "
            "<workspace>/<name>_<dates>_<source>_stac. An existing cache is reused unless "
            "--force."
        ),
    )
    p.add_argument("name", metavar="NAME", help="short name of the collection to build")
    p.add_argument("--stac-api", required=True, metavar="URL", help="STAC API endpoint URL")
    p.add_argument("--collection", required=True, metavar="ID", help="STAC collection id to search")
    a.add_bbox(p, required=True)
    a.add_date_range(p, required=True)
    a.add_workspace_dir(p)
    a.add_force(p, "rebuild even if the collection is already cached")
    a.add_max_concurrent(p)
    a.add_query(p)
    a.add_json(p)
    p.set_defaults(func=_build)

    p = cmds.add_parser(
        "list",
        help="list the cached collections of a workspace",
        description=(
            "List the <name>_stac and <name>_records collections of the workspace with their "
            "kind, data source, scene count and date range."
        ),
    )
    a.add_workspace_dir(p)
    a.add_json(p)
    p.set_defaults(func=_list)

    p = cmds.add_parser(
        "info",
        help="show the scene count, dates and columns of one cached collection",
        description=(
            "Show one cached collection. NAME may be the directory name, the name without "
            "its _stac/_records suffix, or an unambiguous prefix."
        ),
    )
    p.add_argument("name", metavar="NAME", help="collection name, directory name or prefix")
    a.add_workspace_dir(p)
    a.add_json(p)
    p.set_defaults(func=_info)

    p = cmds.add_parser(
        "delete",
        help="delete one cached collection from disk",
        description=(
            "Remove a cached collection's directory tree (asks for confirmation unless --yes)."
        ),
    )
    p.add_argument("name", metavar="NAME", help="collection name, directory name or prefix")
    a.add_workspace_dir(p)
    p.add_argument("--yes", action="store_true", help="delete without asking for confirmation")
    p.set_defaults(func=_delete)

    p = cmds.add_parser(
        "import",
        help="import a Parquet record table as a cached collection",
        description=(
            "Normalise a Parquet/GeoParquet record table (one row per scene, with id, "
            "datetime, geometry and assets columns) into <workspace>/<NAME>_records. COG "
            "headers are not parsed."
        ),
    )
    p.add_argument("name", metavar="NAME", help="name of the collection to create")
    p.add_argument(
        "--record-table",
        required=True,
        metavar="PATH",
        help="Parquet file, directory or URI of the record table",
    )
    p.add_argument(
        "--data-source",
        default="",
        metavar="ID",
        help="data source id used for band names and URL rules (default: none)",
    )
    p.add_argument(
        "--column-map",
        type=a.json_object,
        default=None,
        metavar="JSON",
        help='rename source columns, as a JSON object, e.g. \'{"scene_id": "id"}\'',
    )
    p.add_argument(
        "--columns",
        default=None,
        metavar="A,B,C",
        help="read only these comma-separated columns of the record table",
    )
    a.add_workspace_dir(p)
    a.add_force(p, "replace the collection if it already exists")
    a.add_json(p)
    p.set_defaults(func=_import)
    return group
