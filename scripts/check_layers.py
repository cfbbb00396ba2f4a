"""Check the layering of the Python package (run by ``make lint``).

Every import statement counts, at module level or inside a function. Fails (exit 1) on:

- an import cycle between modules;
- a private name (``_name``) imported from another module (the extension module ``_core``
  excepted);
- an import against the layers: a module may import its own layer and the layers below it::

      base      errors, options, types, constants, cloud, catalog, _backends, _aws_profile, ...
      geo       rasteret.geo.*           geometry and Arrow inputs, CRS transforms
      records   rasteret.records.*       where records live and how they are found
      read      rasteret.read.*          the only caller of the Rust core's reads
      public    rasteret.core.*, ingest.*, integrations.*, fetch.*   (Collection and entry points)
      top       rasteret, cli, _cli.*, _build, _register, _demo.*, __main__

  ``rasteret.core.collection`` (the facade) may be imported by the public layer only where a
  function returns a Collection (ingest builders, loading); nothing below it imports it.
- a Python file longer than 600 lines.

usage: python scripts/check_layers.py [PACKAGE_DIR]   (default: python/rasteret)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_LINES = 600
BASE = {
    "errors",
    "options",
    "types",
    "constants",
    "cloud",
    "catalog",
    "_backends",
    "_aws_profile",
    "_bridge",
    "_sigint",
    "_locking",
    "_builtin_datasets",
}
RANK = {"base": 0, "geo": 1, "records": 2, "read": 3, "public": 4, "top": 5}


def layer_of(module: str) -> str:
    """The layer of a dotted module name below the package (``""`` is the package)."""
    head = module.split(".", 1)[0]
    if module in BASE or head in BASE:
        return "base"
    if head in ("geo", "records", "read"):
        return head
    if head in ("core", "ingest", "integrations", "fetch"):
        return "public"
    return "top"


def modules_of(root: Path) -> dict[str, Path]:
    mods = {}
    for f in root.rglob("*.py"):
        parts = list(f.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    return mods


def imports_of(name: str, path: Path, pkg: str, mods: dict[str, Path]) -> list[tuple[str, str]]:
    """``(imported module, imported name or "")`` of every import of a package module."""

    def resolve(dotted: str) -> str | None:
        while dotted and dotted not in mods:
            dotted = dotted.rpartition(".")[0]
        return dotted if dotted in mods else None

    out = []
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == pkg or alias.name.startswith(pkg + "."):
                    target = resolve(alias.name[len(pkg) + 1 :])
                    if target is not None:
                        out.append((target, ""))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                src = ".".join(base + ([node.module] if node.module else []))
            elif node.module and (node.module == pkg or node.module.startswith(pkg + ".")):
                src = node.module[len(pkg) + 1 :]
            else:
                continue
            for alias in node.names:
                full = f"{src}.{alias.name}" if src else alias.name
                if alias.name == "_core":
                    continue
                target = full if full in mods else resolve(src)
                if target is not None:
                    out.append((target, "" if full in mods else alias.name))
    return out


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return cycles


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else "python/rasteret")
    pkg = root.name
    mods = modules_of(root)
    problems: list[str] = []
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in sorted(mods.items()):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            problems.append(f"{path}: {lines} lines (at most {MAX_LINES})")
        for target, imported in imports_of(name, path, pkg, mods):
            if target == name:
                continue
            edges[name].add(target)
            if imported.startswith("_") and not imported.startswith("__"):
                problems.append(f"private import: {pkg}.{name} <- {pkg}.{target}.{imported}")
            if RANK[layer_of(target)] > RANK[layer_of(name)]:
                problems.append(
                    f"layer: {pkg}.{name} ({layer_of(name)}) imports {pkg}.{target} "
                    f"({layer_of(target)})"
                )
    for cycle in find_cycles(edges):
        problems.append(f"import cycle: {', '.join(f'{pkg}.{m}' if m else pkg for m in cycle)}")
    problems = list(dict.fromkeys(problems))
    for p in problems:
        print(p)
    print(f"check_layers: {len(mods)} modules, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
