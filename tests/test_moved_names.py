"""Names that moved when io, sources and distributed were regrouped by role: the old
names still work for one release (with a FutureWarning), and the modules that moved
down import nothing above them."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import skecg
import skecg.distributed
import skecg.io  # imported here, not inside pytest.warns: wfdb's own import-time warnings stay out

ROOT = Path(skecg.__file__).parent


@pytest.mark.parametrize("old, new", [
    ("skecg.io.WFDBFolderSource", "skecg.sources.WFDBFolderSource"),
    ("skecg.distributed.AcceleratedECGClassifier", "skecg.models.AcceleratedECGClassifier"),
])
def test_moved_public_names_keep_a_deprecated_alias(old, new):
    old_mod, name = old.rsplit(".", 1)
    new_mod, new_name = new.rsplit(".", 1)
    with pytest.warns(FutureWarning, match=rf"{old} moved to {new}"):
        got = getattr(importlib.import_module(old_mod), name)
    assert got is getattr(importlib.import_module(new_mod), new_name)
    assert name not in importlib.import_module(old_mod).__all__  # `import *` does not warn
    with pytest.raises(AttributeError, match="nothing_here"):
        getattr(importlib.import_module(old_mod), "nothing_here")


def test_io_keeps_its_public_names():
    import skecg.io as io
    from skecg import _reading, _wfdb

    assert io.RecordReadError is _reading.RecordReadError
    assert io.parse_header is _wfdb.parse_header and io.WFDBHeader is _wfdb.WFDBHeader
    assert io.read_challenge_record is _wfdb.read_challenge_record
    for name in ("read_ptbxl", "ptbxl_codes", "read_cpsc2018", "read_tnmg_hdf5", "read_tnmg_test", "open_wfdb_folder"):
        assert callable(getattr(io, name))


def _skecg_imports(path: Path) -> set[str]:
    """Every skecg module ``path`` imports (top level or inside functions), relative imports resolved."""
    parts = ("skecg",) + path.relative_to(ROOT).with_suffix("").parts
    package = parts[:-1]  # of skecg/io/_x.py and of skecg/io/__init__.py alike: ('skecg', 'io')
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - (node.level - 1)]) if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {t for t in found if t == "skecg" or t.startswith("skecg.")}


ABOVE_SOURCES = ("skecg._records", "skecg.io", "skecg.preprocessing", "skecg.models", "skecg.utils")


@pytest.mark.parametrize("module", ["_reading.py", "_wfdb.py", "sources/_wfdb_folder.py"])
def test_the_wfdb_format_and_source_sit_below_records_and_io(module):
    bad = {t for t in _skecg_imports(ROOT / module) if t.startswith(ABOVE_SOURCES)}
    assert not bad, f"skecg/{module} imports {sorted(bad)}, which sit above skecg.sources"


def test_io_imports_nothing_inside_functions_but_what_is_lazy_on_purpose():
    for path in sorted((ROOT / "io").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            local = [n for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))]
            assert not local, f"{path.name}:{local[0].lineno}: import inside {fn.name}()"


def test_importing_distributed_loads_neither_torch_nor_the_models():
    code = "import sys, skecg.distributed; print('torch' in sys.modules, 'skecg.models' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT.parent).stdout.split()
    assert out == ["False", "False"]
