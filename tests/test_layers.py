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


if __name__ == "__main__":  # pragma: no cover
    print("\n".join(layer_violations()) or "no violations")
    pytest.main([__file__])
