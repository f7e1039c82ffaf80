"""The package's layout is its design: the CLI on top, four subpackages by role, shared modules below.

``skeldir/web`` (the request path), ``skeldir/worker``, ``skeldir/ops`` and ``skeldir/tools``
may import the shared top-level modules and themselves; an import from one subpackage into
another is allowed only where ``ALLOWED_EDGES`` says why. Nothing imports ``skeldir.cli``.
Read from the source with ``ast`` (no import, no database), lazy imports inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SHELL = Path(__file__).resolve().parents[1] / "shell"
SHARED = {"skeldir.config", "skeldir.db", "skeldir.errors", "skeldir.logs"}
SUBPACKAGES = ("web", "worker", "ops", "tools")

# (importer, imported) -> why. Every other edge between subpackages is a layering error.
ALLOWED_EDGES = {
    ("tools", "ops"): "prove and loadtest bring up a cluster and create tenants as an operator would",
}


def modules(root: Path) -> dict[str, Path]:
    """Module name -> file, for every .py under root/skeldir (a package's name maps to its __init__)."""
    found = {}
    for path in sorted((root / "skeldir").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The skeldir modules a file imports: ``from a.b import c`` is a.b.c when that is a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            subs = {f"{base}.{alias.name}" for alias in node.names} & known.keys()
            found.update(subs or {base})
    return {m for m in found if m == "skeldir" or m.startswith("skeldir.")}


def layer(module: str) -> str:
    """'cli', a subpackage's name, or 'shared' (any other top-level module)."""
    parts = module.split(".")
    if module == "skeldir.cli":
        return "cli"
    return parts[1] if len(parts) > 1 and parts[1] in SUBPACKAGES else "shared"


def violations(root: Path) -> list[str]:
    known = modules(root)
    problems = []
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        for target in sorted(imports_of(name, path, known)):
            source_layer, target_layer = layer(name), layer(target)
            if target not in known and target != "skeldir":
                problems.append(f"{name} imports {target}, which is not a module of skeldir/")
            elif target_layer == "cli" and source_layer != "cli":
                problems.append(f"{name} imports the CLI ({target}); the CLI is the top, nothing imports it")
            elif source_layer == "shared" and target_layer != "shared":
                problems.append(f"{name} is shared but imports {target} ({target_layer})")
            elif source_layer in SUBPACKAGES and target_layer in SUBPACKAGES and source_layer != target_layer:
                edges.setdefault(source_layer, set()).add(target_layer)
                if (source_layer, target_layer) not in ALLOWED_EDGES:
                    problems.append(f"{name} imports {target}: {source_layer} -> {target_layer} is not an allowed edge")
    problems.extend(f"subpackages import each other in a cycle: {' -> '.join(c)}" for c in cycles(edges))
    return problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle reachable in the graph, each once (as found from its first node)."""
    found: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt in path:
                cycle = path[path.index(nxt) :] + [nxt]
                if sorted(cycle[:-1]) not in [sorted(c[:-1]) for c in found]:
                    found.append(cycle)
            else:
                visit(nxt, [*path, nxt])

    for start in sorted(edges):
        visit(start, [start])
    return found


def test_nothing_imports_the_cli_and_subpackages_import_only_down_or_along_allowed_edges() -> None:
    assert violations(SHELL) == []


def test_every_subpackage_exists_with_a_docstring_saying_what_it_holds() -> None:
    known = modules(SHELL)
    for sub in SUBPACKAGES:
        assert ast.get_docstring(ast.parse(known[f"skeldir.{sub}"].read_text())), sub


def test_the_allowed_edges_themselves_have_no_cycle() -> None:
    edges: dict[str, set[str]] = {}
    for source, target in ALLOWED_EDGES:
        edges.setdefault(source, set()).add(target)
    assert cycles(edges) == []


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "skeldir" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"ops/tenants.py": "def f():\n    from skeldir.cli import main\n"}, "imports the CLI"),
        ({"config.py": "from skeldir.web import app\n"}, "is shared but imports skeldir.web.app"),
        ({"web/app.py": "from skeldir.worker import poller\n"}, "web -> worker is not an allowed edge"),
        ({"worker/poller.py": "from ..web import app\n"}, "worker -> web is not an allowed edge"),
        ({"tools/x.py": "import skeldir.prove\n"}, "skeldir.prove, which is not a module"),
        (
            {"web/app.py": "from skeldir.worker import poller\n", "worker/poller.py": "from skeldir.web import app\n"},
            "cycle: web -> worker -> web",
        ),
    ],
)
def test_the_scan_catches_each_kind_of_offender(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    """Negative controls: a small tree with one offence is reported."""
    base = {f"{sub}/__init__.py": '"""x"""\n' for sub in SUBPACKAGES}
    base |= {"cli.py": "", "config.py": "", "web/app.py": "", "worker/poller.py": "", "ops/tenants.py": ""}
    root = write(tmp_path, base | files)
    found = violations(root)
    assert any(expected in problem for problem in found), found
