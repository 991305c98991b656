"""The package's import structure, read from the source with `ast` (nothing is imported):

- no import cycles among moviefactory modules (imports inside functions count: a lazy import
  still ties the two modules together; only `if TYPE_CHECKING:` blocks do not), and
- no module uses another module's private name (`from .x import _name`, `x._name`): a helper two
  modules need is public, in a module of its own.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import moviefactory

ROOT = Path(moviefactory.__file__).resolve().parent

# Imports in files that are being rewritten elsewhere (the CLI becomes a package; api.py, runs.py and
# batch/ are redone with it). Each entry is "importer -> imported" (an import edge, left out of the
# cycle check) or "importer -> module.name" (a private name it may still use). Empty it as they go:
# an entry that no longer matches anything fails the test, so the list only shrinks.
KNOWN_UNTIL_CLI_PACKAGE: frozenset[str] = frozenset()  # empty: keep it so


@dataclass(frozen=True)
class Use:
    importer: str
    target: str  # a module (an import edge) or module.name (a private name)
    where: str  # file:line, for the failure message

    @property
    def key(self) -> str:
        return f"{self.importer} -> {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(importer: str, level: int, module: str | None) -> str:
    """The absolute module an `import`/`from ... import` names (relative imports resolved)."""
    if level == 0:
        return module or ""
    base = importer.split(".") if _is_package(importer) else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


class _Reader(ast.NodeVisitor):
    """Every moviefactory import of one module (at any depth), and the names its module aliases stand for."""

    def __init__(self, name: str, path: Path) -> None:
        self.name, self.path = name, path
        self.edges: list[Use] = []
        self.private: list[Use] = []
        self.aliases: dict[str, str] = {}  # local name -> the moviefactory module it is bound to
        self.attributes: list[tuple[list[str], int]] = []

    def where(self, node: ast.AST) -> str:
        return f"{self.path.relative_to(ROOT.parent)}:{node.lineno}"

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):  # annotations only: not an import at run time
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] != "moviefactory":
                continue
            target = alias.name
            while target not in MODULES and "." in target:
                target = target.rsplit(".", 1)[0]
            self.edges.append(Use(self.name, target, self.where(node)))
            # `import a.b` binds `a`; `import a.b as c` binds `c` to a.b
            self.aliases[alias.asname or "moviefactory"] = target if alias.asname else "moviefactory"

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        source = _resolve(self.name, node.level, node.module)
        if source.split(".")[0] != "moviefactory":
            return
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            if submodule in MODULES:
                self.edges.append(Use(self.name, submodule, self.where(node)))
                self.aliases[alias.asname or alias.name] = submodule
                # a private submodule is its package's business
                if _private(alias.name) and not self.name.startswith(source + "."):
                    self.private.append(Use(self.name, submodule, self.where(node)))
                continue
            self.edges.append(Use(self.name, source, self.where(node)))
            if _private(alias.name) and self.name != source:
                self.private.append(Use(self.name, submodule, self.where(node)))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain, value = [node.attr], node.value
        while isinstance(value, ast.Attribute):
            chain.insert(0, value.attr)
            value = value.value
        if isinstance(value, ast.Name):
            self.attributes.append(([value.id, *chain], node.lineno))
        self.generic_visit(node)

    def attribute_uses(self) -> list[Use]:
        """`module._name` where `module` is a local name bound to another moviefactory module."""
        uses = []
        for chain, line in self.attributes:
            if chain[0] not in self.aliases or not _private(chain[-1]):
                continue
            owner = ".".join([self.aliases[chain[0]], *chain[1:-1]])
            if owner in MODULES and owner != self.name:
                uses.append(Use(self.name, f"{owner}.{chain[-1]}", f"{self.path.relative_to(ROOT.parent)}:{line}"))
        return uses


def read_package() -> tuple[list[Use], list[Use]]:
    edges, private = [], []
    for name, path in MODULES.items():
        reader = _Reader(name, path)
        reader.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        edges += [e for e in reader.edges if e.target != name]
        private += reader.private + reader.attribute_uses()
    return edges, private


def find_cycles(edges: list[Use]) -> list[list[Use]]:
    """One cycle (as its import edges) through each strongly connected group of modules (Tarjan)."""
    graph: dict[str, dict[str, Use]] = {}
    for e in edges:
        graph.setdefault(e.importer, {}).setdefault(e.target, e)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)

    cycles = []
    for group in groups:
        start = min(group)
        # breadth-first from `start` inside the group, back to `start`: the shortest cycle through it
        paths: dict[str, list[Use]] = {start: []}
        queue = [start]
        while queue:
            v = queue.pop(0)
            for w, e in sorted(graph.get(v, {}).items()):
                if w == start:
                    cycles.append(paths[v] + [e])
                    queue = []
                    break
                if w in group and w not in paths:
                    paths[w] = paths[v] + [e]
                    queue.append(w)
    return cycles


def _describe(cycle: list[Use]) -> str:
    names = " -> ".join([cycle[0].importer, *(e.target for e in cycle)])
    lines = "\n".join(f"    {e.where}: {e.key}" for e in cycle)
    return f"  {names}\n{lines}"


def test_the_reader_sees_the_whole_package():
    # a reader that found nothing would pass everything: check it on imports known to be there
    edges, _ = read_package()
    keys = {e.key for e in edges}
    assert len(MODULES) > 50 and "moviefactory.renderers.upscale" in MODULES
    assert "moviefactory.renderers.diffusion.t2v -> moviefactory.renderers.diffusion.extend" in keys  # in a method
    assert "moviefactory -> moviefactory.api" in keys  # in __init__'s __getattr__
    assert "moviefactory.renderers.upscale -> moviefactory.registry" in keys  # `from ..registry import`


def test_no_import_cycles():
    edges, _ = read_package()
    cycles = find_cycles([e for e in edges if e.key not in KNOWN_UNTIL_CLI_PACKAGE])
    if cycles:
        pytest.fail("import cycles (a helper both sides need belongs in a module of its own):\n"
                    + "\n".join(_describe(c) for c in cycles), pytrace=False)


def test_no_module_uses_another_modules_private_names():
    _, private = read_package()
    found = [u for u in private if u.key not in KNOWN_UNTIL_CLI_PACKAGE]
    if found:
        pytest.fail("private names used from another module (a shared helper is public):\n"
                    + "\n".join(f"  {u.where}: {u.key}" for u in found), pytrace=False)


def test_every_known_exception_still_exists():
    edges, private = read_package()
    seen = {u.key for u in edges + private}
    stale = sorted(KNOWN_UNTIL_CLI_PACKAGE - seen)
    assert not stale, f"fixed: remove these from KNOWN_UNTIL_CLI_PACKAGE: {stale}"


def test_cycles_and_private_uses_are_found_in_a_made_up_package(tmp_path, monkeypatch):
    """The checks themselves can fail: a relative cycle inside a function and a private import."""
    pkg = tmp_path / "moviefactory"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("def f():\n    from .b import g\n    return g()\n")
    (pkg / "sub" / "b.py").write_text("from . import a\nfrom ..c import _hidden\n\ndef g():\n    return a.f\n")
    (pkg / "c.py").write_text("import moviefactory.d as x\n_hidden = 1\nY = x._secret\n"
                              "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub import b\n")
    (pkg / "d.py").write_text("_secret = 2\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", pkg)
    monkeypatch.setattr(sys.modules[__name__], "MODULES", {module_name(p): p for p in sorted(pkg.rglob("*.py"))})
    edges, private = read_package()
    cycles = find_cycles(edges)
    assert [[e.key for e in c] for c in cycles] == [["moviefactory.sub.a -> moviefactory.sub.b",
                                                     "moviefactory.sub.b -> moviefactory.sub.a"]]
    assert "moviefactory.sub.a -> moviefactory.sub.b" in _describe(cycles[0]) and "sub/a.py:2" in _describe(cycles[0])
    assert sorted(u.key for u in private) == ["moviefactory.c -> moviefactory.d._secret",
                                              "moviefactory.sub.b -> moviefactory.c._hidden"]
    assert "moviefactory.c -> moviefactory.sub.b" not in {e.key for e in edges}  # TYPE_CHECKING only
