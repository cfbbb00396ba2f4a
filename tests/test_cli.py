"""The ``rasteret`` command line, on real collections written to tmp_path.

Nothing here needs the Rust engine or the network: STAC/engine builds are exercised through
their argument validation and error paths, and through ``rasteret.cli.build_from_stac`` /
``rasteret.cli.build`` replaced by functions that return real on-disk collections.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import rasteret
import shapely
from rasteret import cli
from rasteret.catalog import DatasetDescriptor, DatasetRegistry
from rasteret.core.collection import Collection
from rasteret.ingest.normalize import build_collection_from_table

# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HOME, the local registry file and the in-memory registry are private to each test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RASTERET_LOCAL_DATASETS_PATH", str(tmp_path / "registry.json"))
    monkeypatch.setattr(DatasetRegistry, "_descriptors", dict(DatasetRegistry._descriptors))


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


def _record_table(n: int = 3, *, split: bool = True, first_day: int = 5) -> pa.Table:
    times = [dt.datetime(2024, 1, first_day, 10, 30), dt.datetime(2024, 2, 1), None][:n]
    columns: dict[str, Any] = {
        "id": [f"scene-{i}" for i in range(n)],
        "datetime": pa.array(times, pa.timestamp("us")),
        "geometry": pa.array(
            [shapely.to_wkb(shapely.box(i, 0, i + 1, 1)) for i in range(n)], pa.binary()
        ),
        "assets": pa.array([{"B04": {"href": f"https://example.com/{i}.tif"}} for i in range(n)]),
    }
    if split:
        columns["split"] = ["train", "val", "test"][:n]
    return pa.table(columns)


def _make_collection(ws: Path, dirname: str, **kwargs: Any) -> Path:
    """Write a real collection to ``ws/dirname`` (e.g. ``demo_records``)."""
    path = ws / dirname
    build_collection_from_table(
        _record_table(**kwargs), name=dirname.rsplit("_", 1)[0], workspace_dir=path
    )
    assert path.is_dir()
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().out.splitlines()


def _run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = cli.main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


# -- top level --------------------------------------------------------------------------------


def test_no_subcommand_prints_help_and_returns_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _run(capsys)
    assert code == 0
    text = "\n".join(lines)
    assert text.startswith("usage: rasteret")
    for command in ("collections", "datasets", "build", "demo"):
        assert command in text


def test_group_without_command_prints_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _run(capsys, "collections")
    assert code == 0
    assert lines[0].startswith("usage: rasteret collections")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == rasteret.__version__


def test_build_parser_and_help_texts(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    assert parser.prog == "rasteret"
    for argv in (
        ["collections", "build"],
        ["collections", "list"],
        ["collections", "info"],
        ["collections", "delete"],
        ["collections", "import"],
        ["datasets", "list"],
        ["datasets", "info"],
        ["datasets", "build"],
        ["datasets", "register-local"],
        ["datasets", "unregister-local"],
        ["datasets", "export-local"],
        ["build"],
        ["demo"],
    ):
        with pytest.raises(SystemExit) as exc:
            cli.main([*argv, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: rasteret {' '.join(argv)}")
        assert "--help" in out


def test_workspace_dir_default_expands_home(capsys: pytest.CaptureFixture[str]) -> None:
    args = cli.build_parser().parse_args(["collections", "list"])
    assert args.workspace_dir == Path.home() / "rasteret_workspace"
    assert "~" not in str(args.workspace_dir)
    args = cli.build_parser().parse_args(["collections", "list", "--workspace-dir", "~/x"])
    assert args.workspace_dir == Path.home() / "x"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1,2,3", "bbox must be minx,miny,maxx,maxy"),
        ("1,2,3,4,5", "bbox must be minx,miny,maxx,maxy"),
        ("a,2,3,4", "bbox values must be numbers"),
        ("3,0,1,1", "bbox must satisfy minx<maxx and miny<maxy"),
        ("0,1,1,1", "bbox must satisfy minx<maxx and miny<maxy"),
    ],
)
def test_bad_bbox_is_a_usage_error(
    value: str, message: str, ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["build", "earthsearch/sentinel-2-l2a", "n", "--bbox", value],
        ["datasets", "build", "earthsearch/sentinel-2-l2a", "n", "--bbox", value],
        [
            "collections",
            "build",
            "n",
            "--stac-api",
            "http://x",
            "--collection",
            "c",
            "--date-range",
            "2024-01-01,2024-01-31",
            "--bbox",
            value,
        ],
    ):
        with pytest.raises(SystemExit) as exc:
            cli.main([*argv, "--workspace-dir", str(ws)])
        assert exc.value.code == 2
        assert message in capsys.readouterr().err


@pytest.mark.parametrize("value", ["2024-01-01", "2024-01-01,", ",2024-01-01", "a,b,c"])
def test_bad_date_range_is_a_usage_error(
    value: str, ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["build", "x", "n", f"--date-range={value}", "--workspace-dir", str(ws)])
    assert exc.value.code == 2
    assert "date-range must be start,end" in capsys.readouterr().err


def test_good_bbox_and_date_range_parse() -> None:
    args = cli.build_parser().parse_args(
        ["build", "x", "n", "--bbox", "0, -1.5,1,2", "--date-range", "2024-01-01, 2024-02-01"]
    )
    assert args.bbox == (0.0, -1.5, 1.0, 2.0)
    assert args.date_range == ("2024-01-01", "2024-02-01")
    assert args.max_concurrent == 50
    assert args.query is None


def test_bad_query_json_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    for query in ("{not json", "[1, 2]"):
        with pytest.raises(SystemExit) as exc:
            cli.main(["build", "x", "n", "--query", query])
        assert exc.value.code == 2
        assert "--query" in capsys.readouterr().err


def test_missing_required_options_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["collections", "build", "n", "--bbox", "0,0,1,1"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["collections", "import", "n"])
    assert exc.value.code == 2
    capsys.readouterr()


# -- collections list -------------------------------------------------------------------------


def test_list_empty_and_missing_workspace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "collections", "list", "--workspace-dir", str(tmp_path / "none")) == (
        0,
        ["No cached collections found."],
    )
    code, payload = _run_json(capsys, "collections", "list", "--workspace-dir", str(tmp_path))
    assert (code, payload) == (0, [])


def test_list_uses_default_workspace_under_home(capsys: pytest.CaptureFixture[str]) -> None:
    _make_collection(Path.home() / "rasteret_workspace", "homecoll_records")
    code, lines = _run(capsys, "collections", "list")
    assert code == 0
    assert lines[2].split() == ["homecoll", "records", "unknown", "3", "2024-01-05", "2024-02-01"]


def test_list_text_table(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _make_collection(ws, "zeta_records")
    _make_collection(ws, "alpha_stac", n=2)
    (ws / "ignored_dir").mkdir()
    nodates = ws / "nodates_records"
    build_collection_from_table(
        _record_table(n=3).set_column(1, "datetime", pa.nulls(3, pa.timestamp("us"))),
        name="nodates",
        workspace_dir=nodates,
    )
    code, lines = _run(capsys, "collections", "list", "--workspace-dir", str(ws))
    assert code == 0
    assert lines == [
        "name     kind     data_source  size  date_start  date_end  ",
        "-------  -------  -----------  ----  ----------  ----------",
        "alpha    stac     unknown      2     2024-01-05  2024-02-01",
        "nodates  records  unknown      3     -           -         ",
        "zeta     records  unknown      3     2024-01-05  2024-02-01",
    ]


def test_list_json(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _make_collection(ws, "b_records")
    _make_collection(ws, "a_stac", n=2)
    code, payload = _run_json(capsys, "collections", "list", "--workspace-dir", str(ws))
    assert code == 0
    assert [row["name"] for row in payload] == ["a", "b"]
    assert payload[0]["kind"] == "stac"
    assert payload[1]["kind"] == "records"
    assert payload[1]["size"] == 3
    assert payload[1]["date_range"] == ["2024-01-05", "2024-02-01"]
    assert isinstance(payload[1]["created"], float)


# -- collections info -------------------------------------------------------------------------


def test_info_text(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _make_collection(ws, "demo_records")
    code, lines = _run(capsys, "collections", "info", "demo", "--workspace-dir", str(ws))
    assert code == 0
    assert lines == [
        "Name: demo",
        f"Path: {path}",
        "Scenes: 3",
        "Date range: 2024-01-05T10:30:00 -> 2024-02-01T00:00:00",
        "Split column: yes",
        "Columns (8): id, datetime, geometry, assets, split, bbox, year, month",
    ]


def test_info_json_summary(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _make_collection(ws, "demo_stac", split=False)
    code, payload = _run_json(
        capsys, "collections", "info", "demo_stac", "--workspace-dir", str(ws)
    )
    assert code == 0
    assert payload == {
        "name": "demo",
        "path": str(path),
        "scene_count": 3,
        "date_start": "2024-01-05T10:30:00",
        "date_end": "2024-02-01T00:00:00",
        "has_split_column": False,
        "columns": ["id", "datetime", "geometry", "assets", "bbox", "year", "month"],
    }


def test_info_without_dates_omits_date_line(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = _record_table(split=False).set_column(1, "datetime", pa.nulls(3, pa.timestamp("us")))
    build_collection_from_table(table, name="nd", workspace_dir=ws / "nd_records")
    code, lines = _run(capsys, "collections", "info", "nd", "--workspace-dir", str(ws))
    assert code == 0
    assert not any(line.startswith("Date range") for line in lines)
    assert "Split column: no" in lines
    code, payload = _run_json(capsys, "collections", "info", "nd", "--workspace-dir", str(ws))
    assert payload["date_start"] is None and payload["date_end"] is None


def test_info_resolution_order_and_prefix(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stac = _make_collection(ws, "s2_2024_stac", n=1)
    records = _make_collection(ws, "fields_records", n=2)
    # exact suffix, prefix glob, and a directory named exactly
    for name, path in (("fields", records), ("s2", stac), ("s2_2024_stac", stac)):
        code, payload = _run_json(capsys, "collections", "info", name, "--workspace-dir", str(ws))
        assert code == 0
        assert payload["path"] == str(path)
    # NAME_stac wins over NAME_records
    both_stac = _make_collection(ws, "both_stac", n=1)
    _make_collection(ws, "both_records", n=2)
    code, payload = _run_json(capsys, "collections", "info", "both", "--workspace-dir", str(ws))
    assert payload["path"] == str(both_stac)


def test_info_not_found_and_ambiguous(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _run(capsys, "collections", "info", "nope", "--workspace-dir", str(ws))
    assert (code, lines) == (1, [f"Error: Collection 'nope' not found in {ws}"])
    _make_collection(ws, "demo_a_stac", n=1)
    _make_collection(ws, "demo_b_stac", n=1)
    _make_collection(ws, "demo_c_records", n=1)
    code, lines = _run(capsys, "collections", "info", "demo", "--workspace-dir", str(ws))
    assert code == 1
    assert lines == [
        "Error: Ambiguous collection name 'demo'. Matches: demo_a_stac, demo_b_stac, demo_c_records"
    ]


# -- collections delete -----------------------------------------------------------------------


def test_delete_prompt_yes(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _make_collection(ws, "demo_records")
    prompts: list[str] = []

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return " YES "

    monkeypatch.setattr("builtins.input", answer)
    code, lines = _run(capsys, "collections", "delete", "demo", "--workspace-dir", str(ws))
    assert code == 0
    assert prompts == [f"Delete collection at {path}? [y/N]: "]
    assert lines == [f"Deleted: {path}"]
    assert not path.exists()


@pytest.mark.parametrize("reply", ["", "n", "no", "maybe"])
def test_delete_prompt_declined(
    reply: str, ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _make_collection(ws, "demo_records")
    monkeypatch.setattr("builtins.input", lambda prompt: reply)
    code, lines = _run(capsys, "collections", "delete", "demo", "--workspace-dir", str(ws))
    assert (code, lines) == (0, ["Delete cancelled."])
    assert path.is_dir()


def test_delete_yes_flag_does_not_prompt(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _make_collection(ws, "demo_stac")
    keep = _make_collection(ws, "other_records")

    def no_prompt(prompt: str) -> str:
        raise AssertionError("prompted despite --yes")

    monkeypatch.setattr("builtins.input", no_prompt)
    code, lines = _run(capsys, "collections", "delete", "demo", "--yes", "--workspace-dir", str(ws))
    assert (code, lines) == (0, [f"Deleted: {path}"])
    assert not path.exists()
    assert keep.is_dir()


def test_delete_not_found(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _run(capsys, "collections", "delete", "x", "--yes", "--workspace-dir", str(ws))
    assert (code, lines) == (1, [f"Error: Collection 'x' not found in {ws}"])


# -- collections import -----------------------------------------------------------------------


@pytest.fixture
def record_table_file(tmp_path: Path) -> Path:
    path = tmp_path / "input" / "items.parquet"
    path.parent.mkdir()
    table = _record_table().rename_columns(["scene_id", "datetime", "geometry", "assets", "split"])
    pq.write_table(table.append_column("extra", pa.array([1, 2, 3])), path)
    return path


def test_import_new_text(
    ws: Path, record_table_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ws / "fields_records"
    code, lines = _run(
        capsys,
        "collections",
        "import",
        "fields",
        "--record-table",
        str(record_table_file),
        "--column-map",
        '{"scene_id": "id"}',
        "--workspace-dir",
        str(ws),
    )
    assert code == 0
    assert lines == ["Collection imported: fields", f"Path: {target}", "Scenes: 3"]
    assert target.is_dir()
    loaded = Collection._load_cached(target)
    assert loaded.dataset is not None
    names = loaded.dataset.schema.names
    assert "id" in names and "extra" in names
    assert not any(n.endswith("_metadata") for n in names)  # no COG enrichment
    # and it is now listed
    code, lines = _run(capsys, "collections", "list", "--workspace-dir", str(ws))
    assert lines[2].split()[:2] == ["fields", "records"]


def test_import_columns_projection_and_json(
    ws: Path, record_table_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, payload = _run_json(
        capsys,
        "collections",
        "import",
        "proj",
        "--record-table",
        str(record_table_file),
        "--column-map",
        '{"scene_id": "id"}',
        "--columns",
        "scene_id, datetime,geometry,assets,",
        "--workspace-dir",
        str(ws),
    )
    assert code == 0
    assert payload["path"] == str(ws / "proj_records")
    assert payload["scene_count"] == 3
    assert payload["has_split_column"] is False
    assert "extra" not in payload["columns"]
    assert "id" in payload["columns"]


def test_import_exists_then_force(
    ws: Path, record_table_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = _make_collection(ws, "fields_records", n=1)
    argv = [
        "collections",
        "import",
        "fields",
        "--record-table",
        str(record_table_file),
        "--column-map",
        '{"scene_id": "id"}',
        "--workspace-dir",
        str(ws),
    ]
    code, lines = _run(capsys, *argv)
    assert (code, lines) == (0, ["Collection exists: fields", f"Path: {existing}", "Scenes: 1"])
    code, payload = _run_json(capsys, *argv)
    assert (code, payload["scene_count"], payload["path"]) == (0, 1, str(existing))
    code, lines = _run(capsys, *argv, "--force")
    assert (code, lines) == (0, ["Collection imported: fields", f"Path: {existing}", "Scenes: 3"])
    assert len(Collection._load_cached(existing)) == 3


def test_import_creates_workspace(
    tmp_path: Path, record_table_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new_ws = tmp_path / "new" / "ws"
    code, payload = _run_json(
        capsys,
        "collections",
        "import",
        "x",
        "--record-table",
        str(record_table_file),
        "--column-map",
        '{"scene_id": "id"}',
        "--workspace-dir",
        str(new_ws),
    )
    assert code == 0
    assert (new_ws / "x_records").is_dir()


# -- collections build (a real STAC API and COG server) ---------------------------------------


def test_collections_build_against_real_stac(
    ws: Path, capsys: pytest.CaptureFixture[str], stac_api: Any
) -> None:
    sub_ws = ws / "sub"
    argv = [
        "collections",
        "build",
        "demo",
        "--stac-api",
        stac_api.url,
        "--collection",
        stac_api.collection_id,
        "--bbox",
        "10,43,17,46",
        "--date-range",
        "2024-01-01,2024-02-28",
        "--workspace-dir",
        str(sub_ws),
        "--query",
        '{"eo:cloud_cover": {"lt": 50}}',
        "--max-concurrent",
        "7",
    ]
    code, lines = _run(capsys, *argv)
    assert code == 0
    expected = [
        s
        for s in stac_api.items
        if s["properties"]["datetime"][:10] <= "2024-02-28"
        and s["properties"]["eo:cloud_cover"] < 50
    ]
    assert lines[0] == "Collection built: demo_202401-02_test-s2"
    assert lines[1] == f"Path: {sub_ws / 'demo_202401-02_test-s2_stac'}"
    assert lines[2] == f"Scenes: {len(expected)}"
    assert lines[-1] == "Split column: no"
    assert (sub_ws / "demo_202401-02_test-s2_stac").is_dir()
    code, payload = _run_json(capsys, *argv)  # cached now
    assert payload["scene_count"] == len(expected)


def test_collections_build_library_errors_propagate(ws: Path) -> None:
    with pytest.raises(ValueError, match="Invalid date_range"):
        cli.main(
            [
                "collections",
                "build",
                "n",
                "--stac-api",
                "http://127.0.0.1:9/none",
                "--collection",
                "c",
                "--bbox",
                "0,0,1,1",
                "--date-range",
                "2024-02-01,2024-01-01",
                "--workspace-dir",
                str(ws),
            ]
        )


# -- datasets list / info ---------------------------------------------------------------------


def test_datasets_list_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _run(capsys, "datasets", "list")
    assert code == 0
    assert lines[0].split() == ["ID", "Name", "Coverage", "License", "Auth"]
    assert lines[1].split() == ["--", "----", "--------", "-------", "----"]
    ids = [d.id for d in DatasetRegistry.list()]
    assert [line.split()[0] for line in lines[2:]] == ids
    # columns are aligned: every "Name" cell starts where the header's does
    name_col = lines[0].index("Name")
    assert all(line[name_col - 2 : name_col] == "  " for line in lines)
    s2 = next(line for line in lines if line.startswith("earthsearch/sentinel-2-l2a "))
    assert s2.endswith("  none")


def test_datasets_list_rows_and_search(capsys: pytest.CaptureFixture[str]) -> None:
    DatasetRegistry.register(
        DatasetDescriptor(
            id="zz/one",
            name="Zebra One",
            spatial_coverage="local",
            license="A-very-long-license-name-beyond-twenty",
            requires_auth=True,
        )
    )
    DatasetRegistry.register(DatasetDescriptor(id="zz/two", name="Zebra Two"))
    code, lines = _run(capsys, "datasets", "list", "--search", "ZEBRA")
    assert code == 0
    assert lines == [
        "ID      Name       Coverage  License               Auth",
        "--      ----       --------  -------               ----",
        "zz/one  Zebra One  local     A-very-long-license-  required",
        "zz/two  Zebra Two            -                     none",
    ]
    code, payload = _run_json(capsys, "datasets", "list", "--search", "zebra")
    assert [d["id"] for d in payload] == ["zz/one", "zz/two"]
    assert payload[0]["license"] == "A-very-long-license-name-beyond-twenty"
    assert payload[0]["requires_auth"] is True
    assert _run(capsys, "datasets", "list", "--search", "no-such-keyword-xyz") == (
        0,
        ["No datasets found."],
    )
    assert _run_json(capsys, "datasets", "list", "--search", "no-such-keyword-xyz") == (0, [])


def test_datasets_list_json_all(capsys: pytest.CaptureFixture[str]) -> None:
    code, payload = _run_json(capsys, "datasets", "list")
    assert code == 0
    assert [d["id"] for d in payload] == [d.id for d in DatasetRegistry.list()]
    assert set(payload[0]) >= {"id", "name", "stac_api", "band_map", "requires_auth"}


def test_datasets_info_full(capsys: pytest.CaptureFixture[str]) -> None:
    DatasetRegistry.register(
        DatasetDescriptor(
            id="zz/full",
            name="Full",
            description="Everything set",
            stac_api="https://stac.example",
            stac_collection="full-coll",
            record_table_uri="s3://bucket/records.parquet",
            index_uri="s3://bucket/index.parquet",
            collection_uri="/data/full_records",
            spatial_coverage="global",
            license="CC-BY-4.0",
            license_url="https://license.example",
            commercial_use=False,
            temporal_range=("2020-01-01", "present"),
            example_bbox=(1.0, 2.5, 3.0, 4.0),
            example_date_range=("2024-01-01", "2024-01-31"),
            band_map={"B1": "blue", "B2": "green"},
            separate_files=False,
            requires_auth=True,
            torchgeo_class="Sentinel2",
            torchgeo_verified=True,
        )
    )
    code, lines = _run(capsys, "datasets", "info", "zz/full")
    assert code == 0
    assert lines == [
        "Full (zz/full)",
        "  Description:  Everything set",
        "  STAC API:     https://stac.example",
        "  Collection:   full-coll",
        "  Record table: s3://bucket/records.parquet",
        "  Index:        s3://bucket/index.parquet",
        "  Collection:   /data/full_records",
        "  Coverage:     global",
        "  License:      CC-BY-4.0",
        "  License URL:  https://license.example",
        "  Commercial:   no",
        "  Temporal:     2020-01-01 to present",
        "  Example bbox: 1.0,2.5,3.0,4.0",
        "  Example time: 2024-01-01 to 2024-01-31",
        "  Bands:        B1, B2",
        "  Files:        single (multi-band)",
        "  Auth:         required",
        "  TorchGeo:     torchgeo.datasets.Sentinel2 (verified: yes)",
    ]


def test_datasets_info_minimal_has_always_present_lines(capsys: pytest.CaptureFixture[str]) -> None:
    DatasetRegistry.register(DatasetDescriptor(id="zz/min", name="Minimal"))
    code, lines = _run(capsys, "datasets", "info", "zz/min")
    assert code == 0
    assert lines == [
        "Minimal (zz/min)",
        "  Commercial:   yes",
        "  Files:        separate (one per band)",
        "  Auth:         none",
    ]
    code, payload = _run_json(capsys, "datasets", "info", "zz/min")
    assert payload["id"] == "zz/min"
    assert payload["stac_api"] is None
    assert payload["commercial_use"] is True


def test_datasets_info_builtin_torchgeo_pending(capsys: pytest.CaptureFixture[str]) -> None:
    d = DatasetRegistry.get("earthsearch/sentinel-2-l2a")
    assert d is not None
    code, lines = _run(capsys, "datasets", "info", d.id)
    assert code == 0
    assert lines[0] == f"{d.name} ({d.id})"
    assert f"  STAC API:     {d.stac_api}" in lines
    if d.torchgeo_class and not d.torchgeo_verified:
        assert (
            lines[-1] == f"  TorchGeo:     torchgeo.datasets.{d.torchgeo_class} (verified: pending)"
        )


def test_datasets_info_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _run(capsys, "datasets", "info", "nope/none")
    assert code == 1
    assert lines == [
        "Dataset 'nope/none' not found.",
        "Available: " + ", ".join(d.id for d in DatasetRegistry.list()),
    ]


# -- build / datasets build -------------------------------------------------------------------


@pytest.mark.parametrize("command", [["build"], ["datasets", "build"]])
def test_build_unknown_dataset(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new_ws = tmp_path / "created"
    code, lines = _run(capsys, *command, "nope/none", "n", "--workspace-dir", str(new_ws))
    assert code == 1
    assert lines[0] == "Dataset 'nope/none' not found."
    assert lines[1].startswith("Available: ")
    assert new_ws.is_dir()  # the workspace is created first


@pytest.mark.parametrize(
    "extra",
    [[], ["--bbox", "0,0,1,1"], ["--date-range", "2024-01-01,2024-01-31"]],
)
@pytest.mark.parametrize("command", [["build"], ["datasets", "build"]])
def test_build_stac_dataset_needs_bbox_and_dates(
    command: list[str],
    extra: list[str],
    ws: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def must_not_build(*args: Any, **kwargs: Any) -> Collection:
        raise AssertionError("build called")

    monkeypatch.setattr(cli, "build", must_not_build)
    code, lines = _run(
        capsys, *command, "earthsearch/sentinel-2-l2a", "n", *extra, "--workspace-dir", str(ws)
    )
    assert (code, lines) == (1, ["STAC datasets require --bbox and --date-range."])


def test_datasets_build_against_real_stac(
    ws: Path, capsys: pytest.CaptureFixture[str], stac_api: Any
) -> None:
    DatasetRegistry.register(
        DatasetDescriptor(
            id="test/s2",
            name="Test S2",
            stac_api=stac_api.url,
            stac_collection=stac_api.collection_id,
            band_map={"B04": "red", "B08": "nir"},
        )
    )
    argv = [
        "test/s2",
        "mine",
        "--bbox",
        "10,43,17,46",
        "--date-range",
        "2024-01-01,2024-01-31",
        "--workspace-dir",
        str(ws),
    ]
    code, lines = _run(capsys, "datasets", "build", *argv)
    assert code == 0
    jan = [i for i in stac_api.items if i["properties"]["datetime"].startswith("2024-01")]
    assert lines[0] == "Collection built: mine_202401-01_test-s2"
    assert lines[1] == f"Path: {ws / 'mine_202401-01_test-s2_stac'}"
    assert lines[2] == f"Scenes: {len(jan)}"
    code, lines = _run(capsys, "build", *argv)  # the top-level alias, now a cache hit
    assert code == 0 and lines[2] == f"Scenes: {len(jan)}"


def test_build_local_dataset_end_to_end(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A registered local collection builds (loads) without bbox/dates and without the engine."""
    path = _make_collection(ws, "demo_records")
    code, _ = _run(capsys, "datasets", "register-local", "local/demo", str(path), "--no-persist")
    assert code == 0
    code, payload = _run_json(capsys, "build", "local/demo", "copy", "--workspace-dir", str(ws))
    assert code == 0
    assert payload["scene_count"] == 3
    assert payload["path"] == str(ws / f"{payload['name']}_stac")


# -- datasets register-local / unregister-local / export-local --------------------------------


def test_register_local_text_and_registry_file(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _make_collection(ws, "fields_records")
    code, lines = _run(
        capsys,
        "datasets",
        "register-local",
        "local/fields",
        str(path),
        "--name",
        "My fields",
        "--description",
        "Test fields",
    )
    assert code == 0
    assert lines == [
        "Registered local dataset: local/fields",
        "Name: My fields",
        f"Collection: {path.resolve()}",
        "Persisted: yes",
    ]
    entries = json.loads((tmp_path / "registry.json").read_text())
    assert [e["id"] for e in entries] == ["local/fields"]
    assert entries[0]["description"] == "Test fields"
    assert DatasetRegistry.get("local/fields") is not None
    # and it is now in the catalog listing
    code, lines = _run(capsys, "datasets", "info", "local/fields")
    assert lines[0] == "My fields (local/fields)"
    assert "  Coverage:     local" in lines


def test_register_local_by_cached_name_no_persist_json(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _make_collection(ws, "fields_records")
    code, payload = _run_json(
        capsys,
        "datasets",
        "register-local",
        "local/byname",
        "fields",
        "--workspace-dir",
        str(ws),
        "--no-persist",
        "--data-source",
        "my-source",
    )
    assert code == 0
    assert payload["id"] == "local/byname"
    assert payload["collection_uri"] == str(path.resolve())
    assert payload["stac_collection"] == "my-source"
    assert payload["spatial_coverage"] == "local"
    assert not (tmp_path / "registry.json").exists()


def test_register_local_explicit_registry_path(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _make_collection(ws, "fields_records")
    registry = tmp_path / "elsewhere" / "reg.json"
    code, lines = _run(
        capsys, "datasets", "register-local", "local/r", str(path), "--registry-path", str(registry)
    )
    assert code == 0
    assert lines[-1] == "Persisted: yes"
    assert [e["id"] for e in json.loads(registry.read_text())] == ["local/r"]
    assert not (tmp_path / "registry.json").exists()


def test_register_local_unknown_path(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _run(
        capsys, "datasets", "register-local", "local/x", "nothing", "--workspace-dir", str(ws)
    )
    assert (code, lines) == (1, [f"Collection 'nothing' not found in {ws}"])
    assert DatasetRegistry.get("local/x") is None


def test_local_descriptor_round_trip(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _make_collection(ws, "fields_records")
    registry = tmp_path / "registry.json"
    assert _run(capsys, "datasets", "register-local", "local/rt", str(path))[0] == 0

    out = tmp_path / "shared" / "rt.json"
    code, lines = _run(capsys, "datasets", "export-local", "local/rt", str(out))
    assert code == 0
    assert lines == ["Exported local descriptor: local/rt", f"Path: {out}"]
    exported = json.loads(out.read_text())
    assert exported == json.loads(registry.read_text())[0]
    assert exported["collection_uri"] == str(path.resolve())

    out2 = tmp_path / "rt2.json"
    code, payload = _run_json(capsys, "datasets", "export-local", "local/rt", str(out2))
    assert (code, payload) == (0, {"id": "local/rt", "path": str(out2)})

    code, lines = _run(capsys, "datasets", "unregister-local", "local/rt")
    assert (code, lines) == (0, ["Unregistered local dataset: local/rt"])
    assert json.loads(registry.read_text()) == []
    assert DatasetRegistry.get("local/rt") is None
    assert path.is_dir()  # data is never deleted

    code, lines = _run(capsys, "datasets", "unregister-local", "local/rt")
    assert (code, lines) == (1, ["Local dataset 'local/rt' not found."])
    code, lines = _run(capsys, "datasets", "export-local", "local/rt", str(out))
    assert (code, lines) == (1, ["Local dataset 'local/rt' not found."])


def test_unregister_local_json_with_registry_path(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _make_collection(ws, "fields_records")
    registry = tmp_path / "reg.json"
    argv = ["--registry-path", str(registry)]
    assert _run(capsys, "datasets", "register-local", "local/u", str(path), *argv)[0] == 0
    code, payload = _run_json(capsys, "datasets", "unregister-local", "local/u", *argv)
    assert code == 0
    assert payload["id"] == "local/u"
    assert payload["collection_uri"] == str(path.resolve())
    assert json.loads(registry.read_text()) == []


def test_unregister_builtin_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _run(capsys, "datasets", "unregister-local", "earthsearch/sentinel-2-l2a")
    assert (code, lines) == (1, ["Local dataset 'earthsearch/sentinel-2-l2a' not found."])
    assert DatasetRegistry.get("earthsearch/sentinel-2-l2a") is not None
