"""The package's shape, as a reviewer would check it: small modules and functions, no private names
used across modules, no import cycles. Pure source analysis (ast): no model, no imports run."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "wyoming_kokoro"
#: Code that is not ours to shape: misaki, vendored byte for byte (tests/test_vendor.py).
VENDORED = PACKAGE / "vendor"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60
#: Private names of other projects read on purpose, each in one place, with the reason beside it.
FOREIGN_PRIVATE = {("wyoming_kokoro/model/sessions.py", "_model_path")}  # ONNX Runtime's model file


def sources(*folders: Path) -> Iterator[Path]:
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            if VENDORED not in path.parents:
                yield path


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_modules_and_functions_stay_small() -> None:
    too_long = []
    for path in sources(PACKAGE):
        text = path.read_text("utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{relative(path)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long.append(f"{relative(path)}:{node.lineno} {node.name}(): {lines} lines")
    assert not too_long, "\n".join(too_long)


def test_no_private_name_is_used_across_modules() -> None:
    """A private name (one leading underscore) is used only in the module that defines it: not
    imported, and not read off another object (``self`` and ``cls`` aside), in the package, its
    tests or the benchmarks."""
    found = []
    for path in sources(PACKAGE, ROOT / "tests", ROOT / "bench", ROOT / "tests_homeassistant"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom):
                found += [
                    f"{relative(path)}:{node.lineno} imports {a.name}" for a in node.names if private(a.name)
                ]
            elif isinstance(node, ast.Attribute) and private(node.attr):
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                    continue
                if (relative(path), node.attr) in FOREIGN_PRIVATE:
                    continue
                found.append(f"{relative(path)}:{node.lineno} reads {ast.unparse(node)}")
    assert not found, "\n".join(found)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The package's modules that *path* imports (at import time or inside functions; not those
    imported only for type checking)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text("utf-8"))
    checking_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for inner in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in checking_only:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base, *(f"{base}.{a.name}" for a in node.names)]
        found |= {t for t in targets if t in known}
    found.discard(name)
    return found


def test_no_import_cycles() -> None:
    paths = {module_name(p): p for p in sources(PACKAGE)}
    known = set(paths)
    graph = {name: imported_modules(path, known) for name, path in paths.items()}
    # A package's __init__ importing its own modules is how it re-exports them, not a cycle.
    for name in graph:
        graph[name] = {
            t for t in graph[name] if not (t.startswith(f"{name}.") and paths[name].name == "__init__.py")
        }
    cycles = []
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append(" → ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "\n".join(cycles)
