"""The import contract: r1's layers, arrows pointing down only, with no exceptions.

Every module under ``r1/`` is read with ``ast`` (imports at the top of a module and
inside functions both count; so do ``TYPE_CHECKING`` ones). A module may import:

* any module of its own unit (``r1.rewards.hybrid`` -> ``r1.rewards.scoring``);
* any module of a unit in a lower layer of :data:`LAYERS`.

Units in one layer are siblings and do not import each other: a helper two of them
need moves down to a shared module (``r1.template``, ``r1.language``). Besides, no
module imports a private name (``_name``) from another module, and no modules import
each other, directly or around a loop. A new module must be placed in the table
(its unit may already be there).
"""

from __future__ import annotations

import ast
from pathlib import Path

import r1

# Top to bottom. A unit is a package or a module; a module belongs to the longest unit that names it.
LAYERS: list[tuple[str, ...]] = [
    ("r1.__main__",),  # python -m r1
    ("r1.run", "r1.moe"),  # the command lines
    ("r1.phases", "r1.overrides"),  # the phases; the command line's override checks
    ("r1.rewards", "r1.samplers", "r1.filters", "r1.benchmarks", "r1.tasks"),  # plugin kinds
    ("r1.data",),  # reading datasets, rendering prompts, tokenising examples: what every kind and phase shares
    ("r1.models",),  # models: building, loading, scoring, the fast paths
    ("r1.algorithms", "r1.math", "r1.scale"),  # pure algorithms, answer checking, distributed-training helpers
    ("r1.plugins", "r1.runtime"),  # the plugin registry; process-wide settings
    ("r1.settings", "r1.seeds", "r1.template", "r1.language", "r1.protocols", "r1.hookspecs", "r1.paths"),  # shared helpers
    ("r1.errors", "r1"),  # r1's errors; the package itself (its version)
]

LAYER_OF = {unit: depth for depth, layer in enumerate(LAYERS) for unit in layer}
PACKAGE_DIR = Path(r1.__file__).resolve().parent

Edge = tuple[int, str, list[str]]  # (line, imported r1 module, names taken from it)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def unit_of(module: str) -> str | None:
    """The longest unit of :data:`LAYERS` that is ``module`` or a package holding it (bare ``r1`` holds only itself)."""
    matches = [unit for unit in LAYER_OF if module == unit or (unit != "r1" and module.startswith(unit + "."))]
    return max(matches, key=len) if matches else None


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def imports_in(source: str, module: str, is_package: bool, modules) -> list[Edge]:
    """Every import of an r1 module in ``source``; ``from package import submodule`` counts as importing the submodule."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[Edge] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names if alias.name.split(".")[0] == "r1"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                target = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "r1":
                continue
            names = [alias.name for alias in node.names]
            submodules = [name for name in names if f"{target}.{name}" in modules]
            found += [(node.lineno, f"{target}.{name}", []) for name in submodules]
            rest = [name for name in names if name not in submodules]
            if rest or not submodules:
                found.append((node.lineno, target, rest))
    return found


def layer_violations(edges: dict[str, list[Edge]]) -> list[str]:
    wrong = []
    for module, imported in edges.items():
        source = unit_of(module)
        for line, target, _ in imported:
            unit = unit_of(target)
            if source is None or unit is None or unit == source or LAYER_OF[unit] > LAYER_OF[source]:
                continue
            relation = "a sibling" if LAYER_OF[unit] == LAYER_OF[source] else "a higher layer"
            wrong.append(f"{module}:{line} imports {target} ({relation}: {source} -> {unit})")
    return wrong


def private_imports(edges: dict[str, list[Edge]]) -> list[str]:
    found = []
    for module, imported in edges.items():
        for line, target, names in imported:
            if any(is_private(part) for part in target.split(".")):
                found.append(f"{module}:{line} imports the private module {target}")
            found += [f"{module}:{line} imports {target}.{name}" for name in names if is_private(name)]
    return found


def cycles(edges: dict[str, list[Edge]]) -> list[str]:
    graph = {module: sorted({target for _, target, _ in imported if target in edges and target != module}) for module, imported in edges.items()}
    found: list[str] = []
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = "open"
        stack.append(module)
        for target in graph[module]:
            if state.get(target) == "open":
                found.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in graph:
        if module not in state:
            visit(module)
    return found


EDGES = {module: imports_in(path.read_text(encoding="utf-8"), module, path.name == "__init__.py", MODULES) for module, path in MODULES.items()}


def test_every_module_has_a_layer():
    assert [module for module in MODULES if unit_of(module) is None] == [], "place these modules in LAYERS"
    assert [unit for unit in LAYER_OF if unit not in MODULES] == [], "LAYERS names modules that do not exist"


def test_every_imported_r1_module_exists():
    assert [f"{module}:{line} imports {target}" for module, imported in EDGES.items() for line, target, _ in imported if target not in MODULES] == []


def test_imports_point_down_the_layers():
    assert layer_violations(EDGES) == []


def test_no_module_imports_a_private_name_from_another():
    assert private_imports(EDGES) == []


def test_no_import_cycles():
    assert cycles(EDGES) == []


def test_the_checks_find_what_they_forbid():
    """An upward import, a sibling's module, a private name, a relative import and a cycle, planted."""
    modules = {"r1.models.x": None, "r1.models.y": None, "r1.samplers": None, "r1.samplers.hf": None, "r1.rewards.a": None}
    planted = {
        "r1.models.x": imports_in("def f():\n    from r1.samplers import hf\n    from .y import _helper\n", "r1.models.x", False, modules),
        "r1.models.y": imports_in("import r1.models.x\n", "r1.models.y", False, modules),
        "r1.rewards.a": imports_in("from r1.samplers.hf import HFSampler\n", "r1.rewards.a", False, modules),
    }
    assert planted["r1.models.x"] == [(2, "r1.samplers.hf", []), (3, "r1.models.y", ["_helper"])]
    assert layer_violations(planted) == [
        "r1.models.x:2 imports r1.samplers.hf (a higher layer: r1.models -> r1.samplers)",
        "r1.rewards.a:1 imports r1.samplers.hf (a sibling: r1.rewards -> r1.samplers)",
    ]
    assert private_imports(planted) == ["r1.models.x:3 imports r1.models.y._helper"]
    assert cycles(planted) == ["r1.models.x -> r1.models.y -> r1.models.x"]
    assert unit_of("r1") == "r1" and unit_of("r1.runner") is None and not is_private("__version__")
