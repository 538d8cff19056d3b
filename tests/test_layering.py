"""The layering promise, checked on the code itself.

- The light layers never import TensorFlow, Keras or tfmot (in a fresh interpreter).
- ``edgeml.modelfile`` (the .tflite file format) imports neither TensorFlow nor LiteRT's
  interpreter, even after reading, writing and verifying a model.
- ``edgeml.runtime`` and ``edgeml.card`` never import ``edgeml.conversion``: the device
  side reaches model bytes through ``edgeml.modelfile`` only (static check of every
  import statement, including those inside functions and ``TYPE_CHECKING`` blocks).
- No import cycles between files of ``edgeml/`` (the same static graph; only a package
  ``__init__``'s ``TYPE_CHECKING`` block, which names its children for IDEs, is left out).
- Function-level imports exist only to defer a dependency, each with a reason comment.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.compat

PACKAGE = Path(__file__).resolve().parents[1] / "edgeml"

# Everything that must work on a device without TensorFlow.
LIGHT_LAYERS = [
    "edgeml",
    "edgeml.data",
    "edgeml.drift",
    "edgeml.privacy",
    "edgeml.privacy.accounting",
    "edgeml.privacy.mechanisms",
    "edgeml.modelfile",
    "edgeml.runtime",
    "edgeml.conversion",
    "edgeml.conversion.metadata",
    "edgeml.card",
    "edgeml.security",
    "edgeml.errors",
]
HEAVY = ["tensorflow", "keras", "tf_keras", "tensorflow_model_optimization"]


def _modules_after(code: str) -> list[str]:
    code = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_light_layers_load_no_tensorflow() -> None:
    loaded = _modules_after("import " + ", ".join(LIGHT_LAYERS))
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY]
    assert heavy == []


def test_import_edgeml_loads_no_litert() -> None:
    loaded = _modules_after("import edgeml; dir(edgeml)")
    assert [m for m in loaded if m.startswith("ai_edge_litert")] == []


def test_modelfile_in_use_loads_neither_tensorflow_nor_the_interpreter() -> None:
    pytest.importorskip("ai_edge_litert.tools.flatbuffer_utils")
    loaded = _modules_after(
        "from edgeml import modelfile as m\n"
        "b = m.with_edgeml_entry(m.with_card_document(m.example_model(), {'name': 'x'}))\n"
        "assert m.verify_integrity(b).status == 'verified'\n"
        "m.read_metadata(b); m.list_metadata(b); m.card_document(b)"
    )
    assert [m for m in loaded if m.split(".")[0] in HEAVY] == []
    assert [m for m in loaded if m.startswith("ai_edge_litert.interpreter")] == []
    assert "edgeml.conversion" not in loaded


# -- static import graph ---------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    return {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }


def _imports(name: str) -> set[str]:
    """Modules of edgeml that ``name`` imports anywhere in its file."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skipped = _type_checking_nodes(tree) if path.name == "__init__.py" else set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
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
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_between_files() -> None:
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize("layer", ["edgeml.runtime", "edgeml.card", "edgeml.modelfile"])
def test_device_side_never_imports_the_build_side(layer: str) -> None:
    offending = {
        (name, target)
        for name, targets in GRAPH.items()
        if name == layer or name.startswith(layer + ".")
        for target in targets
        if target == "edgeml.conversion" or target.startswith("edgeml.conversion.")
    }
    assert offending == set()


@pytest.mark.parametrize("layer", ["edgeml.modelfile"])
def test_modelfile_imports_only_the_foundation(layer: str) -> None:
    foundation = {"edgeml", "edgeml.errors", "edgeml._optional", "edgeml._display", "edgeml._io"}
    outside = {
        target
        for name, targets in GRAPH.items()
        if name.startswith(layer)
        for target in targets
        if not target.startswith(layer) and target not in foundation
    }
    assert outside == set()


def test_function_level_imports_say_why() -> None:
    """Each import inside a function in the files this rule covers has a reason comment."""
    covered = [n for n in MODULES if n.startswith(("edgeml.modelfile", "edgeml.runtime"))]
    covered += ["edgeml.card._embed", "edgeml.card._model_card", "edgeml.card._render"]
    covered += ["edgeml.conversion.model", "edgeml.conversion.evaluation"]
    unexplained = []
    for name in covered:
        lines = MODULES[name].read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    before = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
                    same = lines[node.lineno - 1]
                    if not (before.startswith("#") or "#" in same):
                        unexplained.append(f"{name}:{node.lineno}")
    assert unexplained == []


# The layer table of docs/architecture.md: a package may import only lower tiers
# (tier 0, the foundation, may use itself; runtime may use card). Packages added later
# are checked once they are given a tier here.
TIERS = {
    **dict.fromkeys(
        [
            "edgeml",
            "errors",
            "_io",
            "_optional",
            "_display",
            "_html",
            "typing",
            "_environment",
            "_cli_support",
        ],
        0,
    ),
    "modelfile": 1,
    **dict.fromkeys(["data", "privacy", "security", "drift"], 2),
    **dict.fromkeys(["conversion", "runtime", "card"], 3),
    **dict.fromkeys(["monitor", "federated"], 4),
    **dict.fromkeys(["demo", "cli"], 5),
    "__main__": 6,
}
# One-way edges inside a tier: the runtime shows a model's card; a DP drift baseline
# (privacy) is a drift Histogram; synthetic data (data) is charged to a privacy Ledger.
ALLOWED_SIDEWAYS = {("runtime", "card"), ("privacy", "drift"), ("data", "privacy")}


def _package(module: str) -> str:
    return module.split(".")[1] if "." in module else "edgeml"


def test_imports_point_down_the_layer_table() -> None:
    upward = sorted(
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        for target in targets
        if (a := _package(name)) != (b := _package(target))
        and a in TIERS
        and b in TIERS
        and not (TIERS[a] > TIERS[b] or TIERS[a] == TIERS[b] == 0)
        and (a, b) not in ALLOWED_SIDEWAYS
    )
    assert upward == []
