"""The architecture as a test: layers import only downwards, no import cycles, dependencies declared.

The import graph is read from the source (every ``import`` statement, including
those inside functions), so a lazy import cannot hide a layering violation.
"""
from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("attnxfer_core", "studies", "analysis", "slurm")

# The core library, top to bottom. A module may import its own package and packages of lower
# layers; packages that share a layer are independent of each other.
CORE_LAYERS = (
    ("attnxfer_core.cli",),
    ("attnxfer_core.bench",),
    ("attnxfer_core.experiments",),
    ("attnxfer_core.evaluation",),
    ("attnxfer_core.training",),
    ("attnxfer_core.transfer", "attnxfer_core.models", "attnxfer_core.data"),
    ("attnxfer_core.attention", "attnxfer_core.metrics", "attnxfer_core.runs"),
    ("attnxfer_core.config",),
    ("attnxfer_core.modes", "attnxfer_core.errors"),
)
# The application above the core library: each imports the core (never the CLI), never each other.
APPLICATION = ("studies", "analysis", "slurm")
FACADES = ("attnxfer_core", "attnxfer_core.__main__")  # the public API and ``python -m``: may import any of the core


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=1)
def modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([name] if name else []))


@lru_cache(maxsize=1)
def graph() -> dict[str, set[str]]:
    """module -> project modules it imports (anywhere in the file)."""
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or "" if not node.level else _resolve(name, path.name == "__init__.py", node.level,
                                                                          node.module)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in known:  # `import a.b.c` names module a.b.c, or a package above it
                    target = target.rpartition(".")[0]
                if target and target != name:
                    found.add(target)
        edges[name] = found
    return edges


def _owner(module: str, owners) -> str | None:
    """The longest package prefix of ``module`` among ``owners``."""
    matches = [o for o in owners if module == o or module.startswith(o + ".")]
    return max(matches, key=len) if matches else None


def _layer(module: str) -> tuple[int, str] | None:
    for index, layer in enumerate(CORE_LAYERS):
        owner = _owner(module, layer)
        if owner is not None:
            return index, owner
    return None


def test_every_core_module_belongs_to_a_layer():
    stray = [m for m in modules() if m.startswith("attnxfer_core") and m not in FACADES and _layer(m) is None]
    assert stray == [], ("modules outside the declared layers (add them to CORE_LAYERS and the README code map): "
                         f"{stray}")


def test_core_layers_import_only_downwards():
    problems = []
    for module, targets in graph().items():
        here = _layer(module)
        if here is None:
            continue
        for target in targets:
            if not target.startswith("attnxfer_core"):
                if here[1] != "attnxfer_core.cli":  # the CLI is the application's top: it wires everything
                    problems.append(f"{module} imports the application module {target}")
                continue
            there = _layer(target)
            if target in FACADES:
                problems.append(f"{module} imports the facade {target}; import the owning module")
            elif there is not None and (there[0] < here[0] or (there[0] == here[0] and there[1] != here[1])):
                problems.append(f"{module} (layer {here[1]}) imports {target} (layer {there[1]})")
    assert problems == [], "\n".join(problems)


def test_application_packages_use_the_core_but_not_the_cli_or_each_other():
    problems = []
    for module, targets in graph().items():
        app = _owner(module, APPLICATION)
        if app is None:
            continue
        for target in targets:
            other = _owner(target, APPLICATION)
            if target.startswith("attnxfer_core.cli"):
                problems.append(f"{module} imports the CLI ({target})")
            elif other is not None and other != app:
                problems.append(f"{module} imports {target}: application packages are independent")
    assert problems == [], "\n".join(problems)


def test_no_import_cycles():
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert cycles == [], f"import cycles: {cycles}"


def test_the_graph_sees_lazy_imports():
    """The checks above are only as good as the graph: it must include imports inside functions."""
    edges = graph()
    assert "studies" in edges["attnxfer_core.cli.common"]
    assert "attnxfer_core.runs.rundir" in edges["attnxfer_core.training.execute"]
    assert "attnxfer_core.attention.walk" in edges["attnxfer_core"]  # the facade imports only on attribute access


def test_run_directory_contract_imports_no_torch():
    """collect, status and submit ask run states without loading the trainer, timm or torch."""
    code = ("import sys, attnxfer_core.runs.rundir; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'timm') or "
            "m.startswith('attnxfer_core.training')); print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def _declared() -> set[str]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    names = set()
    for spec in specs:
        name = spec.split(";")[0]
        for stop in "<>=!~[ ":
            name = name.split(stop)[0]
        names.add(name.strip().lower().replace("_", "-"))
    return names


@pytest.mark.parametrize("folder", ["attnxfer_core", "studies", "analysis", "slurm", "tests", "scripts"])
def test_every_third_party_import_is_declared(folder):
    distributions = importlib.metadata.packages_distributions()
    stdlib = set(sys.stdlib_module_names)
    declared = _declared()
    missing = {}
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and not node.level and node.module else [])
            for name in names:
                top = name.split(".")[0]
                if top in stdlib or top in PACKAGES or top == "tests":
                    continue
                owners = {d.lower().replace("_", "-") for d in distributions.get(top, [top])}
                if not owners & declared:
                    missing.setdefault(top, []).append(str(path.relative_to(ROOT)))
    assert missing == {}, f"imported but not declared in pyproject.toml: {missing}"


def test_readme_code_map_matches_the_tree():
    """Every package and top-level module of the tree has a line in the README's code map, and nothing else does."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Code map"):]
    section = section[: section.index("\n## ", 4)]
    listed = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            for name in first.replace(",", " ").split():
                name = name.strip("`")
                listed.add(name if "/" in name else f"attnxfer_core/{name}")
    tree = {f"{p}/" for p in APPLICATION}
    core = ROOT / "attnxfer_core"
    tree |= {f"attnxfer_core/{d.name}/" for d in core.iterdir() if (d / "__init__.py").exists()}
    tree |= {f"attnxfer_core/{f.name}" for f in core.glob("*.py") if f.name != "__main__.py"}
    assert listed == tree


def test_every_cli_handler_is_thin():
    """A command's handler parses, calls one library function and prints: the logic lives below the CLI,
    where a test or a notebook can call it (the longest handlers were 47 and 37 lines before this rule)."""
    import ast

    long = []
    for path in sorted((ROOT / "attnxfer_core" / "cli").glob("*.py")):
        tree = ast.parse(path.read_text())
        handlers = {node.value.id for node in ast.walk(tree)
                    if isinstance(node, ast.keyword) and node.arg == "handler" and isinstance(node.value, ast.Name)}
        long += [f"{path.name}:{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in tree.body
                 if isinstance(node, ast.FunctionDef) and node.name in handlers
                 and node.end_lineno - node.lineno + 1 > 30]
    assert long == [], long
