"""mkdocs hook: generate the API reference pages from the importable package.

One page per documented public module that imports (so modules added later, such as
``rasteret.integrations.torchgeo``, appear without editing the docs), rendered by
mkdocstrings from the numpy-style docstrings, plus a page for the top-level ``rasteret``
names. The pages are added to the "API reference" section of the navigation.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

try:  # the installed package (with its compiled core) first; else this checkout's sources
    importlib.import_module("rasteret._core")
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))

#: The documented public modules, in reading order. Those in OPTIONAL are skipped while they do not
#: exist yet; any other import failure fails the docs build.
MODULES = [
    "rasteret.core.collection",
    "rasteret.catalog",
    "rasteret.cloud",
    "rasteret.constants",
    "rasteret.options",
    "rasteret.types",
    "rasteret.errors",
    "rasteret.core.execution",
    "rasteret.core.point_sampling",
    "rasteret.core.raster_accessor",
    "rasteret.core.geometry",
    "rasteret.core.aoi",
    "rasteret.core.arrow_interop",
    "rasteret.core.utils",
    "rasteret.core.rio_semantics",
    "rasteret.core.display",
    "rasteret.fetch.cog",
    "rasteret.fetch.header_parser",
    "rasteret.ingest",
    "rasteret.ingest.normalize",
    "rasteret.ingest.enrich",
    "rasteret.ingest.parquet_record_table",
    "rasteret.ingest.stac_indexer",
    "rasteret.integrations.torchgeo",
    "rasteret.integrations.huggingface",
    "rasteret.cli",
]
OPTIONAL = {
    "rasteret.core.geometry",
    "rasteret.core.rio_semantics",
    "rasteret.fetch.cog",
    "rasteret.fetch.header_parser",
    "rasteret.integrations.torchgeo",
    "rasteret.integrations.huggingface",
}
SECTION = "API reference"


def _available() -> list[str]:
    found = []
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if name in OPTIONAL and (name == missing or name.startswith(missing + ".")):
                continue  # the module itself does not exist (yet)
            raise
        found.append(name)
    return found


def _defined_in(module: str, names: list[str]) -> list[str]:
    """Names of ``module.__all__`` that are defined there (re-exports are documented once)."""
    mod = importlib.import_module(module)
    out = []
    for name in names:
        obj = getattr(mod, name, None)
        home = getattr(obj, "__module__", module)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)) or home == module:
            out.append(name)
    return out


def _module_page(module: str) -> str:
    mod = importlib.import_module(module)
    names = list(getattr(mod, "__all__", []))
    lines = [f"# `{module}`", "", f"::: {module}", "    options:", "      show_root_heading: false"]
    if names:
        members = _defined_in(module, names)
        if members:
            lines.append("      members:")
            lines.extend(f"        - {n}" for n in members)
        else:
            lines.append("      members: false")
        others = [n for n in names if n not in members]
        if others:
            lines += ["", "Also exported here: " + ", ".join(f"`{n}`" for n in others) + "."]
    return "\n".join(lines) + "\n"


def _top_level_page(modules: list[str]) -> str:
    import rasteret

    rendered = set(modules)
    lines = [
        "# `rasteret`",
        "",
        "The names of `rasteret.__all__`. Classes and functions that live in a documented",
        "module are linked to their page; the entry points defined in private modules are",
        "rendered here.",
        "",
        "| name | defined in |",
        "|---|---|",
    ]
    render = []
    for name in sorted(rasteret.__all__, key=str.lower):
        obj = getattr(rasteret, name)
        home = getattr(obj, "__module__", "rasteret")
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            lines.append(
                f"| `{name}` | `rasteret` (value `{obj!r}`) |"
                if name == "__version__"
                else f"| `{name}` | `rasteret` |"
            )
            continue
        if home in rendered:
            lines.append(f"| [`{name}`][{home}.{obj.__qualname__}] | `{home}` |")
        else:
            lines.append(f"| [`{name}`][{home}.{obj.__qualname__}] | `rasteret` |")
            render.append(f"{home}.{obj.__qualname__}")
    lines.append("")
    for path in render:
        lines += [
            f"::: {path}",
            "    options:",
            "      show_root_heading: true",
            "      show_root_full_path: false",
            "",
        ]
    return "\n".join(lines)


def _page_uri(module: str) -> str:
    return f"reference/{module}.md"


def on_config(config: Any) -> Any:
    modules = _available()
    config["extra"]["reference_modules"] = modules
    entries: list[Any] = [{"rasteret": "reference/rasteret.md"}]
    entries += [{module: _page_uri(module)} for module in modules]
    nav = config["nav"]
    for i, item in enumerate(nav):
        if isinstance(item, dict) and SECTION in item:
            nav[i] = {SECTION: entries}
    return config


def on_files(files: Files, config: Any) -> Files:
    modules = config["extra"]["reference_modules"]
    files.append(File.generated(config, "reference/rasteret.md", content=_top_level_page(modules)))
    for module in modules:
        files.append(File.generated(config, _page_uri(module), content=_module_page(module)))
    return files


_ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|exc|obj|py:\w+):(?=<code>)")
_TILDE = re.compile(r"<code>~(?:[\w]+\.)*([\w]+)</code>")


def on_page_content(html: str, page: Any, config: Any, files: Files) -> str:
    """Drop the Sphinx roles (``:func:`x```) docstrings use; keep the code span."""
    return _TILDE.sub(r"<code>\1</code>", _ROLE.sub("", html))
