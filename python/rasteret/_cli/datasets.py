"""``rasteret datasets ...`` and ``rasteret build``: the dataset catalog on the command line."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from rasteret._cli import args as a
from rasteret._cli.output import (
    collection_summary,
    format_table,
    print_json,
    print_summary,
    resolve_collection_path,
)

__all__ = ["add_build_parser", "add_parser"]

_LABEL_WIDTH = 14


def _print_not_found(dataset_id: str) -> None:
    from rasteret.catalog import DatasetRegistry

    print(f"Dataset '{dataset_id}' not found.")
    print(f"Available: {', '.join(d.id for d in DatasetRegistry.list())}")


def _list(args: argparse.Namespace) -> int:
    from rasteret.catalog import DatasetRegistry

    found = DatasetRegistry.search(args.search) if args.search else DatasetRegistry.list()
    if args.json:
        print_json([dataclasses.asdict(d) for d in found])
        return 0
    if not found:
        print("No datasets found.")
        return 0
    rows = [
        [
            d.id,
            d.name,
            d.spatial_coverage,
            d.license[:20] if d.license else "-",
            "required" if d.requires_auth else "none",
        ]
        for d in found
    ]
    headers = ("ID", "Name", "Coverage", "License", "Auth")
    lines = format_table(headers, rows, underline=("--", "----", "--------", "-------", "----"))
    for line in lines:
        print(line.rstrip())
    return 0


def _info_lines(d: Any) -> list[str]:
    """The text of ``datasets info`` for descriptor ``d``."""
    fields: list[tuple[str, Any]] = [
        ("Description:", d.description),
        ("STAC API:", d.stac_api),
        ("Collection:", d.stac_collection),
        ("Record table:", d.record_table_uri),
        ("Index:", d.index_uri),
        ("Collection:", d.collection_uri),
        ("Coverage:", d.spatial_coverage),
        ("License:", d.license),
        ("License URL:", d.license_url),
        ("Commercial:", "yes" if d.commercial_use else "no"),
        ("Temporal:", " to ".join(map(str, d.temporal_range)) if d.temporal_range else None),
        ("Example bbox:", ",".join(map(str, d.example_bbox)) if d.example_bbox else None),
        (
            "Example time:",
            " to ".join(map(str, d.example_date_range)) if d.example_date_range else None,
        ),
        ("Bands:", ", ".join(d.band_map) if d.band_map else None),
        ("Files:", "separate (one per band)" if d.separate_files else "single (multi-band)"),
        ("Auth:", "required" if d.requires_auth else "none"),
    ]
    if d.torchgeo_class:
        verified = "yes" if d.torchgeo_verified else "pending"
        fields.append(("TorchGeo:", f"torchgeo.datasets.{d.torchgeo_class} (verified: {verified})"))
    lines = [f"{d.name} ({d.id})"]
    lines += [f"  {label:<{_LABEL_WIDTH}}{value}" for label, value in fields if value]
    return lines


def _info(args: argparse.Namespace) -> int:
    from rasteret.catalog import DatasetRegistry

    descriptor = DatasetRegistry.get(args.dataset_id)
    if descriptor is None:
        _print_not_found(args.dataset_id)
        return 1
    if args.json:
        print_json(dataclasses.asdict(descriptor))
        return 0
    for line in _info_lines(descriptor):
        print(line)
    return 0


def _build(args: argparse.Namespace) -> int:
    from rasteret.catalog import DatasetRegistry

    workspace = args.workspace_dir
    workspace.mkdir(parents=True, exist_ok=True)
    descriptor = DatasetRegistry.get(args.dataset_id)
    if descriptor is None:
        _print_not_found(args.dataset_id)
        return 1
    if descriptor.stac_api and descriptor.stac_collection:
        if args.bbox is None or args.date_range is None:
            print("STAC datasets require --bbox and --date-range.")
            return 1
    try:
        collection = args.entry_points.build(
            args.dataset_id,
            name=args.name,
            bbox=args.bbox,
            date_range=args.date_range,
            workspace_dir=workspace,
            force=args.force,
            max_concurrent=args.max_concurrent,
            query=args.query,
        )
    except KeyError as exc:
        print(exc.args[0] if exc.args else exc)
        return 1
    # Quirk kept from the reference CLI: the reported path always uses the _stac suffix.
    summary = collection_summary(collection, workspace / f"{collection.name}_stac")
    print_summary(summary, "Collection built", split=False, as_json=args.json)
    return 0


def _register_local(args: argparse.Namespace) -> int:
    path = Path(args.path).expanduser()
    if not path.exists():
        try:
            path = resolve_collection_path(args.path, args.workspace_dir)
        except (FileNotFoundError, ValueError) as exc:
            print(exc)
            return 1
    descriptor = args.entry_points.register_local(
        args.dataset_id,
        path,
        name=args.name or None,
        description=args.description,
        data_source=args.data_source,
        persist=not args.no_persist,
        registry_path=args.registry_path,
    )
    if args.json:
        print_json(dataclasses.asdict(descriptor))
        return 0
    print(f"Registered local dataset: {descriptor.id}")
    print(f"Name: {descriptor.name}")
    if descriptor.collection_uri:
        print(f"Collection: {descriptor.collection_uri}")
    else:
        print(f"Record table: {descriptor.record_table_uri}")
    print(f"Persisted: {'no' if args.no_persist else 'yes'}")
    return 0


def _unregister_local(args: argparse.Namespace) -> int:
    from rasteret.catalog import unregister_local_descriptor

    descriptor = unregister_local_descriptor(args.dataset_id, args.registry_path)
    if descriptor is None:
        print(f"Local dataset '{args.dataset_id}' not found.")
        return 1
    if args.json:
        print_json(dataclasses.asdict(descriptor))
        return 0
    print(f"Unregistered local dataset: {descriptor.id}")
    return 0


def _export_local(args: argparse.Namespace) -> int:
    from rasteret.catalog import export_local_descriptor

    try:
        written = export_local_descriptor(args.dataset_id, args.output_path, args.registry_path)
    except KeyError as exc:
        print(exc.args[0] if exc.args else exc)
        return 1
    payload = {"id": args.dataset_id, "path": str(written)}
    if args.json:
        print_json(payload)
        return 0
    print(f"Exported local descriptor: {payload['id']}")
    print(f"Path: {payload['path']}")
    return 0


def _add_registry_path(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--registry-path",
        default=None,
        metavar="FILE",
        help=(
            "local dataset registry file (default: $RASTERET_LOCAL_DATASETS_PATH or "
            "~/.rasteret/datasets.local.json)"
        ),
    )


def _configure_build(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "dataset_id", metavar="DATASET_ID", help="catalog id, e.g. earthsearch/sentinel-2-l2a"
    )
    p.add_argument("name", metavar="NAME", help="short name of the collection to build")
    a.add_bbox(p)
    a.add_date_range(p)
    a.add_workspace_dir(p)
    a.add_force(p, "rebuild even if the collection is already cached")
    a.add_max_concurrent(p)
    a.add_query(p)
    a.add_json(p)
    p.set_defaults(func=_build)


_BUILD_DESCRIPTION = (
    "Build a collection for a catalog dataset, from its STAC API (needs --bbox and "
    "--date-range) or its record table, and cache it in the workspace."
)


def add_build_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the top-level ``build`` command (same as ``datasets build``)."""
    p = sub.add_parser(
        "build",
        help="build a collection from a catalog dataset (same as 'datasets build')",
        description=_BUILD_DESCRIPTION,
    )
    _configure_build(p)
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``datasets`` and its sub-commands to the top-level sub-parsers ``sub``."""
    group = sub.add_parser(
        "datasets",
        formatter_class=a.command_list_formatter("unregister-local"),
        help="browse the dataset catalog, build from it and manage local datasets",
        description=(
            "The dataset catalog: built-in datasets plus local ones registered with "
            "'datasets register-local' (persisted in the local registry file)."
        ),
    )
    group.set_defaults(func=None, help_parser=group)
    cmds = group.add_subparsers(dest="datasets_command", metavar="COMMAND")

    p = cmds.add_parser(
        "list",
        help="list the registered datasets",
        description="List catalog datasets with their coverage, license and auth needs.",
    )
    p.add_argument(
        "--search",
        default="",
        metavar="KEYWORD",
        help="only datasets whose id, name or description contains KEYWORD (any case)",
    )
    a.add_json(p)
    p.set_defaults(func=_list)

    p = cmds.add_parser(
        "info",
        help="show everything the catalog knows about one dataset",
        description="Show a dataset descriptor: sources, coverage, license, bands, auth.",
    )
    p.add_argument(
        "dataset_id", metavar="DATASET_ID", help="catalog id, e.g. earthsearch/sentinel-2-l2a"
    )
    a.add_json(p)
    p.set_defaults(func=_info)

    p = cmds.add_parser(
        "build", help="build a collection from a catalog dataset", description=_BUILD_DESCRIPTION
    )
    _configure_build(p)

    p = cmds.add_parser(
        "register-local",
        help="register a saved collection as a local dataset",
        description=(
            "Register the collection at PATH (or the cached collection named PATH in the "
            "workspace) as dataset DATASET_ID, so rasteret.load() and rasteret.build() open "
            "it by id. Persisted in the local registry file unless --no-persist."
        ),
    )
    p.add_argument("dataset_id", metavar="DATASET_ID", help="new dataset id, e.g. local/fields")
    p.add_argument(
        "path", metavar="PATH", help="collection directory or Parquet, or a cached collection name"
    )
    p.add_argument("--name", default="", help="display name (default: the collection's name)")
    p.add_argument(
        "--description", default="", metavar="TEXT", help="one-line description of the dataset"
    )
    p.add_argument(
        "--data-source",
        default="",
        metavar="ID",
        help="data source id (default: inferred from the collection)",
    )
    a.add_workspace_dir(
        p, help="workspace searched when PATH is a collection name (default: ~/rasteret_workspace)"
    )
    _add_registry_path(p)
    p.add_argument(
        "--no-persist",
        action="store_true",
        help="register for this process only; do not write the registry file",
    )
    a.add_json(p)
    p.set_defaults(func=_register_local)

    p = cmds.add_parser(
        "unregister-local",
        help="forget a local dataset (its data stays on disk)",
        description=(
            "Remove a local dataset from the registry file and from this process. The "
            "collection's files are not deleted."
        ),
    )
    p.add_argument("dataset_id", metavar="DATASET_ID", help="id of the local dataset")
    _add_registry_path(p)
    a.add_json(p)
    p.set_defaults(func=_unregister_local)

    p = cmds.add_parser(
        "export-local",
        help="write a local dataset's descriptor to a JSON file for sharing",
        description="Write the descriptor of local dataset DATASET_ID to OUTPUT_PATH as JSON.",
    )
    p.add_argument("dataset_id", metavar="DATASET_ID", help="id of the local dataset")
    p.add_argument("output_path", metavar="OUTPUT_PATH", help="JSON file to write")
    _add_registry_path(p)
    a.add_json(p)
    p.set_defaults(func=_export_local)
    return group
