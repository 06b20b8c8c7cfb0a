"""The package's layering, read from the source with ``ast`` (nothing is imported).

- ``skecg.apps`` is the application (command line, demo, experiment runners): no
  module outside it may import it.
- A subpackage's private modules (``skecg.io._common``) are its own: another
  subpackage imports its public names (``skecg.io``) instead.  The records boundary
  is a private subpackage (``skecg._records``): its face is the core every
  subpackage builds on, its modules (``skecg._records._lazy``) are its own.  The
  top-level private modules (``skecg._schema``, ``skecg._threads``) are core too.
- The application is built on the public API only: it imports no private module of
  skecg and no private name.

Imports inside functions count as much as those at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import skecg

ROOT = Path(skecg.__file__).parent
APPS = "skecg.apps"


def module_name(path: Path, root: Path = ROOT) -> tuple[str, str]:
    """``(module, package)`` of a file under skecg/: ``skecg/io/_common.py`` -> ``('skecg.io._common', 'skecg.io')``."""
    parts = ("skecg",) + path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def is_module(name: str, root: Path = ROOT) -> bool:
    """Whether the dotted ``skecg.…`` name is a module or package under ``root``."""
    where = root.parent.joinpath(*name.split("."))
    return where.with_suffix(".py").exists() or (where / "__init__.py").exists()


def imports(path: Path, root: Path = ROOT):
    """Every import of ``path`` as ``(line, target module, imported names)``, relative ones resolved."""
    module, package = module_name(path, root)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level - 1 >= len(base):
                    raise AssertionError(f"{path}:{node.lineno}: relative import above the skecg package")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names = tuple(a.name for a in node.names)
            # `from . import _x` / `from .pkg import _mod` may name modules: check them as targets too
            yield node.lineno, target, names
            for name in names:
                if target.startswith("skecg") and is_module(f"{target}.{name}", root):
                    yield node.lineno, f"{target}.{name}", ()


def subpackage(module: str, root: Path = ROOT) -> str | None:
    """The subpackage ``skecg.X`` that ``module`` lies in, None for the top-level modules."""
    parts = module.split(".")
    if len(parts) >= 2 and (root / parts[1] / "__init__.py").exists():
        return ".".join(parts[:2])
    return None


def private_part(target: str) -> str | None:
    """The first private component of a skecg module path (``'skecg.io._common'`` -> ``'_common'``)."""
    return next((p for p in target.split(".")[1:] if p.startswith("_") and not p.startswith("__")), None)


def layer_violations(root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        module, _ = module_name(path, root)
        in_apps = module == APPS or module.startswith(APPS + ".")
        home = subpackage(module, root)
        for line, target, names in imports(path, root):
            if not (target == "skecg" or target.startswith("skecg.")):
                continue
            where = f"{path.relative_to(root.parent)}:{line}"
            if not is_module(target, root):  # e.g. a module left behind by a move into skecg/apps
                found.append(f"{where}: {module} imports {target}, which is not a module of skecg")
                continue
            if not in_apps and (target == APPS or target.startswith(APPS + ".")):
                found.append(f"{where}: library module {module} imports the application ({target})")
                continue
            other = subpackage(target, root)
            priv = private_part(target)
            inner = private_part("skecg." + target[len(other) + 1:]) if other and target != other else None
            if home is not None and other is not None and other != home and inner is not None:
                found.append(f"{where}: {module} imports {target}, a private module of another subpackage "
                             f"({other}); import its public names from {other}")
            elif in_apps and priv is not None and not target.startswith(APPS):
                found.append(f"{where}: the application module {module} imports the private module {target}")
            if in_apps and not target.startswith(APPS):
                bad = [n for n in names if n.startswith("_") and not n.startswith("__")]
                if bad:
                    found.append(f"{where}: the application module {module} imports private names {bad} "
                                 f"from {target}")
    return found


def test_no_library_module_imports_the_application_and_no_cross_subpackage_private_imports():
    assert (ROOT / "apps" / "__init__.py").exists(), "skecg/apps/ (the application layer) is missing"
    violations = layer_violations()
    assert not violations, "layering broken:\n" + "\n".join(violations)


def test_the_checker_finds_each_kind_of_violation(tmp_path):
    """The rules above catch what they claim, on a small fake package."""
    pkg = tmp_path / "skecg"
    for sub in ("apps", "io", "datasets"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "_records.py").write_text("")
    (pkg / "io" / "_common.py").write_text("def assemble(): pass\n")
    (pkg / "apps" / "cli.py").write_text("from .. import io\nfrom .._records import x\nfrom ..io import _hidden\n")
    (pkg / "datasets" / "_sample.py").write_text("from ..io._common import assemble\n")
    (pkg / "io" / "_store.py").write_text("from .._records import x\nfrom ._common import assemble\n")
    (pkg / "plots.py").write_text("def f():\n    from .apps.cli import main\n")
    (pkg / "metrics.py").write_text("import skecg.apps\nfrom skecg import apps\n")
    (pkg / "tuning.py").write_text("from .io._common import assemble\n")  # top level: not checked
    (pkg / "distributed.py").write_text("def f():\n    from .experiments import evaluate\n")
    found = layer_violations(pkg)
    text = "\n".join(found)
    assert "skecg/plots.py:2: library module skecg.plots imports the application" in text
    assert "skecg/metrics.py:1: library module" in text and "skecg/metrics.py:2: library module" in text
    assert "skecg/datasets/_sample.py:1: skecg.datasets._sample imports skecg.io._common" in text
    assert "the application module skecg.apps.cli imports the private module skecg._records" in text
    assert "imports private names ['_hidden']" in text
    assert "_store.py" not in text  # a subpackage's own private modules, and the top level's, are allowed
    assert "tuning.py" not in text
    assert "skecg/distributed.py:2: skecg.distributed imports skecg.experiments, which is not a module" in text
    assert len(found) == 7, text


#: The floors of skecg, bottom first: a module may import modules of its own floor or of
#: floors below it, never above.  Every top-level module and subpackage has one floor;
#: a new one must be placed here (test_every_unit_has_a_floor).
FLOORS = (
    ("skecg._schema", "skecg._threads", "skecg._version", "skecg._finite", "skecg._moved", "skecg._reading", "skecg._wfdb",
     "skecg.labels"),
    ("skecg.sources",),
    # the root face runs before any submodule; it imports the records and loads the rest lazily
    ("skecg._records", "skecg"),
    ("skecg.utils",),
    ("skecg.preprocessing", "skecg.metrics", "skecg.sampling", "skecg.rules", "skecg.plots"),
    ("skecg.io", "skecg.models"),
    ("skecg.datasets", "skecg.ensemble", "skecg._segment_rule", "skecg.segmentation", "skecg.baselines",
     "skecg.tuning", "skecg.persistence", "skecg.export", "skecg.distributed"),
    ("skecg.pipelines",),
    ("skecg.presets",),
    ("skecg.apps",),
)


def unit(module: str) -> str:
    """The floor unit of a module: its top-level subpackage or module (``skecg`` for the root)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _type_checking_lines(tree) -> set:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return lines


def import_graph(root: Path = ROOT) -> dict:
    """``{module: {imported skecg modules}}`` over every file under ``root``, imports inside
    functions included (those under ``if TYPE_CHECKING:`` left out).  ``from . import _mod``
    is an arrow to ``_mod`` only, not to the package it names."""
    graph = {}
    for path in sorted(root.rglob("*.py")):
        module, _ = module_name(path, root)
        skip = _type_checking_lines(ast.parse(path.read_text(encoding="utf-8")))
        found = list(imports(path, root))
        targets = set()
        by_line: dict = {}
        for line, target, names in found:
            if line in skip or not (target == "skecg" or target.startswith("skecg.")):
                continue
            by_line.setdefault(line, []).append((target, names))
        for line, items in by_line.items():
            for target, names in items:
                sub = [f"{target}.{n}" for n in names if is_module(f"{target}.{n}", root)]
                if names and sub and len(sub) == len(names):
                    continue  # `from pkg import _a, _b`: the modules are their own entries
                if is_module(target, root) and target != module:
                    targets.add(target)
        graph[module] = targets
    return graph


def cycles(graph: dict) -> list:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_anywhere():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_every_unit_has_a_floor():
    placed = {u for floor in FLOORS for u in floor}
    units = {unit(m) for m in import_graph()}
    assert units <= placed, f"modules without a floor in FLOORS: {sorted(units - placed)}"


def arrows_up(graph: dict, floors=FLOORS) -> list:
    """Every import of a module on a higher floor than the importer's."""
    floor = {u: k for k, units in enumerate(floors) for u in units}
    up = []
    for module, targets in graph.items():
        for target in targets:
            if floor[unit(target)] > floor[unit(module)]:
                up.append(f"{module} (floor {floor[unit(module)]}) imports {target} (floor {floor[unit(target)]})")
    return sorted(up)


def test_no_arrow_runs_back_up():
    up = arrows_up(import_graph())
    assert not up, "imports that run back up:\n" + "\n".join(up)


def test_the_cycle_and_floor_checks_find_what_they_claim(tmp_path):
    pkg = tmp_path / "skecg"
    (pkg / "io").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "io" / "__init__.py").write_text("from ._a import f\n")
    (pkg / "io" / "_a.py").write_text("def f():\n    from ._b import g\n")
    (pkg / "io" / "_b.py").write_text("from . import _a\nfrom ..plots import p\n")
    (pkg / "plots.py").write_text("from .io import f\n")
    (pkg / "tuning.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .plots import p\n")
    g = import_graph(pkg)
    assert cycles(g) == [["skecg.io", "skecg.io._a", "skecg.io._b", "skecg.plots"]]
    assert g["skecg.io._b"] == {"skecg.io._a", "skecg.plots"}  # `from . import _a` is not an arrow to skecg.io
    assert g["skecg.tuning"] == set()  # typing-only imports are not arrows
    floors = (("skecg",), ("skecg.io", "skecg.tuning"), ("skecg.plots",))
    assert arrows_up(g, floors) == ["skecg.io._b (floor 1) imports skecg.plots (floor 2)"]


def test_tests_mirror_the_package_layout():
    """A subpackage's tests live in the folder of its name (``tests/models`` for
    ``skecg.models``, ``tests/records`` for the records boundary ``skecg._records``); the
    top-level modules' tests, and those across the package, in ``tests/`` itself."""
    tests = Path(__file__).parent
    folders = [d for d in tests.iterdir() if d.is_dir() and d.name not in ("data", "__pycache__")]
    assert folders, "no test folders"
    for d in folders:
        assert any((ROOT / name / "__init__.py").exists() for name in (d.name, "_" + d.name)), \
            f"tests/{d.name}/ mirrors no subpackage of skecg"
        assert list(d.glob("test_*.py")), f"tests/{d.name}/ holds no tests"


if __name__ == "__main__":  # pragma: no cover
    print("\n".join(layer_violations()) or "no violations")
    pytest.main([__file__])
