"""The shape of the code, checked statically (no imports run): where provider URLs are built,
which way the imports go, and which imports wait inside functions.

- Every Graph, Atlassian or identity-platform path is written once, as the path of its endpoint
  declaration (`declare(key, method, path, ...)`, connections.endpoints). A path literal
  anywhere else in product code is a call the declarations, the consent pages and the
  data-handling statement do not know of. Docstrings and comments may quote paths (they
  explain, they build no URL); every other string, f-string parts included, may not.
- No import cycle among the modules of `connections`, counting every import that runs:
  module level and inside functions (imports under `if TYPE_CHECKING:` never run).
- An import inside a function is allowed only with a comment on the line before it saying why
  (a real cycle with Django's app loading, or a heavy optional dependency); a group of such
  imports (blank lines between sections allowed) shares the comment above its first.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRODUCT_PACKAGES = ("connections", "portal", "tenants", "support")
PROVIDER_PATH_FRAGMENTS = ("/v1.0/", "/beta/", "/rest/api/", "/wiki/api/", "/rest/servicedeskapi/", "/oauth2/")
# The declaration mechanism itself (it knows what a beta path looks like).
DECLARATION_MODULE = ROOT / "connections" / "endpoints.py"
# The packages whose import graph must have no cycle and whose function-local imports must
# say why.
GRAPH_PACKAGES = ("connections",)


def _python_files(package: str) -> list[Path]:
    directory = ROOT / package
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*.py") if "migrations" not in p.relative_to(ROOT).parts)


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


# --- provider path literals -------------------------------------------------------------------


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _declared_paths(tree: ast.Module) -> set[int]:
    """The path argument of each `declare(key, method, path, ...)` call."""
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name == "declare" and len(node.args) >= 3 and isinstance(node.args[2], ast.Constant):
            found.add(id(node.args[2]))
    return found


def provider_path_literals(source: str) -> list[tuple[int, str]]:
    """(line, literal) of each string in `source` that holds a provider path outside a
    declaration's path, a docstring or a comment."""
    tree = ast.parse(source)
    allowed = _docstrings(tree) | _declared_paths(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in allowed:
            if any(fragment in node.value for fragment in PROVIDER_PATH_FRAGMENTS):
                found.append((node.lineno, node.value))
    return sorted(found)


def test_the_path_check_finds_paths_built_by_callers():
    source = '''
"""Docstrings may say /v1.0/users."""
# and comments: /rest/api/3/myself
USERS = declare("graph.users", "GET", "/v1.0/users", permissions=(), reference="https://x")
url = f"{base}/rest/api/3/project/search"
other = graph.get("/beta/teams/" + team_id)
'''
    assert provider_path_literals(source) == [(5, "/rest/api/3/project/search"), (6, "/beta/teams/")]


def test_no_provider_path_outside_the_endpoint_declarations():
    offenders = []
    for package in PRODUCT_PACKAGES:
        for path in _python_files(package):
            if path == DECLARATION_MODULE:
                continue
            for line, literal in provider_path_literals(path.read_text(encoding="utf-8")):
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {literal!r}")
    assert not offenders, (
        "Graph/Atlassian/identity paths are built only from an endpoint declaration "
        "(connections.microsoft.endpoints, connections.atlassian.endpoints, connections.microsoft.client):\n"
        + "\n".join(offenders)
    )


# --- the import graph -------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    line: int
    targets: tuple[str, ...]  # the project modules it imports
    in_function: bool
    commented: bool  # a comment on the line before it


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> tuple[str, ...]:
    if isinstance(node, ast.Import):
        return tuple(alias.name for alias in node.names if alias.name in known)
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        if node.level > 1:
            base = base[: len(base) - (node.level - 1)]
        full = ".".join(base + ([node.module] if node.module else []))
    else:
        full = node.module or ""
    targets = []
    for alias in node.names:
        if f"{full}.{alias.name}" in known:
            targets.append(f"{full}.{alias.name}")  # a submodule
        elif full in known:
            targets.append(full)  # a name from the module (or package)
    return tuple(dict.fromkeys(targets))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(source: str, module: str, *, is_package: bool, known: set[str]) -> list[Import]:
    """The imports of one module that run (module level or in a function; not TYPE_CHECKING)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    found: list[Import] = []
    ends: dict[int, Import] = {}  # the imports found so far, by their last line

    def _commented(node: ast.Import | ast.ImportFrom) -> bool:
        """A comment right above (blank lines aside), or right above the group of imports this
        one continues (import sorting puts a blank line between sections)."""
        line = node.lineno - 1
        while line >= 1 and not lines[line - 1].strip():
            line -= 1
        if line >= 1 and lines[line - 1].strip().startswith("#"):
            return True
        previous = ends.get(line)
        return previous is not None and previous.commented

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for sub in child.orelse:
                    visit_one(sub, in_function)
                continue
            visit_one(child, in_function)

    def visit_one(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(
                Import(
                    module=module,
                    line=node.lineno,
                    targets=_targets(node, module, is_package, known),
                    in_function=in_function,
                    commented=_commented(node),
                )
            )
            ends[node.end_lineno or node.lineno] = found[-1]
            return
        visit(node, in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return found


def _project_imports(packages: tuple[str, ...]) -> list[Import]:
    files = {_module_name(p): p for package in packages for p in _python_files(package)}
    known = set(files)
    found = []
    for module, path in files.items():
        found += imports_of(path.read_text(encoding="utf-8"), module, is_package=path.name == "__init__.py",
                            known=known)
    return found


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """Each set of modules that import each other in a circle (Tarjan's strongly connected
    components of more than one module, or a module importing itself)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        graph.setdefault(imp.module, set()).update(imp.targets)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(cycles)


def test_the_cycle_check_finds_a_circle_through_a_function_local_import():
    known = {"app.a", "app.b", "app.c"}
    imports = (
        imports_of("from . import b\n", "app.a", is_package=False, known=known)
        + imports_of("def f():\n    from .c import x\n", "app.b", is_package=False, known=known)
        + imports_of("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import y\n"
                     "import app.a\n", "app.c", is_package=False, known=known)
    )
    assert import_cycles(imports) == [["app.a", "app.b", "app.c"]]
    # The import under TYPE_CHECKING never runs: not an edge.
    assert [i.targets for i in imports if i.module == "app.c" and i.targets] == [("app.a",)]
    # Without the function-local import, no circle.
    assert import_cycles([i for i in imports if not i.in_function]) == []


def test_no_import_cycle_in_connections():
    cycles = import_cycles(_project_imports(GRAPH_PACKAGES))
    assert not cycles, "modules importing each other in a circle:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_local_import_check_wants_a_comment_before_each():
    source = (
        "def f():\n"
        "    # Deferred: the task module imports this one while Django loads the apps.\n"
        "    from app import tasks\n"
        "\n"
        "    from .models import Thing\n"
        "    x = 1\n"
        "    import json\n"
        "import os\n"
    )
    found = imports_of(source, "app.x", is_package=False, known={"app.tasks"})
    assert [(i.line, i.in_function, i.commented) for i in found] == [
        (3, True, True), (5, True, True), (7, True, False), (8, False, False),
    ]


def test_every_function_local_import_says_why():
    local = [i for i in _project_imports(GRAPH_PACKAGES) if i.in_function]
    silent = [f"{i.module}:{i.line}" for i in local if not i.commented]
    assert not silent, (
        "an import inside a function needs a comment on the line before it saying why "
        "(a real cycle with Django's app loading, say); otherwise import at module level:\n" + "\n".join(silent)
    )
