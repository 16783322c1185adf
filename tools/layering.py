"""The layering contract (DESIGN.md, "Layers and domain events"), as import-linter contract types.

import-linter's built-in ``layers`` contract layers *packages*; ours also has a *role*: every package's
entry modules (``views.py``, ``api.py``, ``cli.py``, ``*_views.py``, ``*_api.py``; ``create_app``; workers)
sit on top of all packages, so ``app/tasks/views.py`` may import ``app.conferences`` while
``app/tasks/operations.py`` may not. That cannot be said with ``layers``, hence ``RoleLayersContract``.

``DeferredImportsContract`` keeps the other half of the knot from coming back: an ``app``/``workers``
import inside a function is how a cycle used to be dodged; each one left must say why on its line
(``# deferred: <reason>``).

Both run from ``lint-imports`` (``make lint``); the configuration is ``[tool.importlinter]`` in
pyproject.toml. grimp sees every direct import, also those inside functions and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output


@dataclass(frozen=True)
class Role:
    """Where a module sits: its package (``cases``), its layer index (0 = bottom) and whether it is an entry."""

    package: str
    layer: int | None
    entry: bool


@dataclass(frozen=True)
class Violation:
    importer: str
    imported: str
    line_number: int
    line_contents: str
    reason: str

    def render(self) -> str:
        return (
            f"{self.importer} -> {self.imported} (l.{self.line_number}: {self.line_contents})\n"
            f"    {self.reason}"
        )


class RoleLayersContract(Contract):
    """Packages in layers, entry modules on top, the package graph of non-entry modules acyclic.

    Options:
      container    the root package whose sub-packages are layered (``app``)
      layers       top to bottom; ``a | b`` are independent siblings, ``a : b`` may import each other
      entry_points fnmatch patterns of module names that are entry points (the top layer); a match in
                   the bottom layer does not count (``app.common.api`` is the plumbing API modules use)
    A module of package P may import its own package, any package of a lower layer and a ``:`` sibling,
    never an entry module of another package. An entry module may import anything.
    """

    container = fields.StringField()
    layers = fields.ListField(subfield=fields.StringField())
    entry_points = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        layer_of: dict[str, int] = {}
        independent: dict[int, bool] = {}
        for index, raw in enumerate(reversed(_strings(self, "layers"))):
            names = [n.strip() for n in raw.replace(":", "|").split("|")]
            independent[index] = "|" in raw
            for name in names:
                layer_of[name] = index
        bottom = 0

        def role(module: str) -> Role:
            parts = module.split(".")
            package = parts[1] if parts[0] == str(self.container) and len(parts) > 1 else parts[0]
            layer = layer_of.get(package)
            matches = any(fnmatch.fnmatchcase(module, pattern) for pattern in _strings(self, "entry_points"))
            return Role(package, layer, matches and layer != bottom)

        violations: list[Violation] = []
        package_edges: dict[tuple[str, str], tuple[str, str]] = {}
        for importer in sorted(graph.modules):
            mine = role(importer)
            if mine.entry:
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                theirs = role(imported)
                if theirs.package == mine.package:
                    continue
                reason = _upward_reason(mine, theirs, independent)
                if mine.layer is None:
                    reason = f"package '{mine.package}' has no layer: add it to [tool.importlinter] layers"
                if reason is None:
                    package_edges.setdefault((mine.package, theirs.package), (importer, imported))
                    continue
                if not theirs.entry:
                    package_edges.setdefault((mine.package, theirs.package), (importer, imported))
                violations.extend(_with_lines(graph, importer, imported, reason))

        for cycle in _package_cycles(package_edges):
            route = " -> ".join(cycle)
            for edge in zip(cycle, cycle[1:], strict=False):
                importer, imported = package_edges[edge]
                violations.extend(_with_lines(graph, importer, imported, f"on the package cycle {route}")[:1])
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        violations: list[Violation] = check.metadata["violations"]
        for violation in violations:
            output.print_error(violation.render(), bold=False)
            output.new_line()
        output.print_error(f"{len(violations)} layering violation(s)")


def _upward_reason(mine: Role, theirs: Role, independent: dict[int, bool]) -> str | None:
    """Why ``mine`` may not import ``theirs`` (None: it may)."""
    if theirs.layer is None:
        return f"package '{theirs.package}' has no layer: add it to [tool.importlinter] layers"
    if theirs.entry:
        return f"'{mine.package}' imports an entry module of '{theirs.package}' (entry points are the top layer)"
    if mine.layer is None:
        return None
    if theirs.layer > mine.layer:
        return f"'{mine.package}' may not import '{theirs.package}': it is in a higher layer"
    if theirs.layer == mine.layer and independent[mine.layer]:
        return f"'{mine.package}' and '{theirs.package}' are independent siblings in one layer"
    return None


def _with_lines(graph: grimp.ImportGraph, importer: str, imported: str, reason: str) -> list[Violation]:
    details = graph.get_import_details(importer=importer, imported=imported)
    if not details:
        return [Violation(importer, imported, 0, "?", reason)]
    return [Violation(importer, imported, d["line_number"], d["line_contents"], reason) for d in details]


def _strings(contract: Contract, option: str) -> list[str]:
    """A list option, typed (import-linter's fields are descriptors mypy cannot see through)."""
    return [str(value) for value in getattr(contract, option)]


def _package_cycles(edges: dict[tuple[str, str], Any]) -> list[list[str]]:
    """One shortest cycle per package that is on a cycle, as ``[a, b, ..., a]`` (deduplicated)."""
    succ: dict[str, set[str]] = {}
    for a, b in edges:
        succ.setdefault(a, set()).add(b)
    seen: set[frozenset[str]] = set()
    cycles: list[list[str]] = []
    for start in sorted(succ):
        # breadth-first search back to start
        parent: dict[str, str] = {}
        frontier = [start]
        found = False
        while frontier and not found:
            nxt: list[str] = []
            for node in frontier:
                for other in sorted(succ.get(node, ())):
                    if other == start:
                        path = [node]
                        while path[-1] != start:
                            path.append(parent[path[-1]])
                        cycle = [start, *reversed(path[:-1]), start]
                        key = frozenset(cycle)
                        if key not in seen:
                            seen.add(key)
                            cycles.append(cycle)
                        found = True
                        break
                    if other not in parent and other != start:
                        parent[other] = node
                        nxt.append(other)
                if found:
                    break
            frontier = nxt
    return cycles


class DeferredImportsContract(Contract):
    """Every project import inside a function says why it is there: ``# deferred: <reason>``.

    Options:
      source_roots  directories whose ``.py`` files are scanned (``app``, ``workers``)
      packages      the top-level names that count as the project's (``app``, ``workers``)
    The marker goes on a line of the import statement or on a comment line right above it.
    """

    source_roots = fields.ListField(subfield=fields.StringField())
    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        found: list[str] = []
        for root in _strings(self, "source_roots"):
            for path in sorted(Path(root).rglob("*.py")):
                found.extend(undeclared_deferred_imports(path, tuple(_strings(self, "packages"))))
        return ContractCheck(kept=not found, metadata={"found": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        found: list[str] = check.metadata["found"]
        for line in found:
            output.print_error(line, bold=False)
        output.new_line()
        output.print_error(
            f"{len(found)} function-level import(s) without '# deferred: <reason>': move them to the top of"
            " the module (a cycle they dodged is a layering violation to fix), or say why they wait"
        )


MARKER = "# deferred:"


def undeclared_deferred_imports(path: Path, packages: tuple[str, ...]) -> list[str]:
    """``path:line: statement`` for each project import inside a function without the marker.

    The marker covers its own statement, or, on a comment line, the block of import statements right
    below it (no blank line between them): a factory's imports share one reason.
    """
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    nodes: dict[int, ast.Import | ast.ImportFrom] = {}
    for func in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(func):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    nodes[node.lineno] = node
    covered: dict[int, bool] = {}
    found: list[str] = []
    for first in sorted(nodes):
        node = nodes[first]
        last = node.end_lineno or first
        above = lines[first - 2].strip() if first > 1 else ""
        previous = next((n for n in nodes.values() if (n.end_lineno or n.lineno) == first - 1), None)
        covered[first] = (
            any(MARKER in line for line in lines[first - 1 : last])
            or (above.startswith("#") and MARKER in above)
            or (previous is not None and covered.get(previous.lineno, False))
        )
        if not covered[first] and _is_project_import(node, packages):
            found.append(f"{path}:{first}: {lines[first - 1].strip()}")
    return found


def _is_project_import(node: ast.Import | ast.ImportFrom, packages: tuple[str, ...]) -> bool:
    if isinstance(node, ast.ImportFrom):
        if node.level:
            return True
        names = [node.module or ""]
    else:
        names = [alias.name for alias in node.names]
    return any(name.split(".")[0] in packages for name in names)
