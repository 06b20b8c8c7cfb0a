"""The README's python blocks run as written (with the quick settings below), so the
page cannot drift from the code.

Every ```python block of README.md is either run or listed in ``NOT_RUN`` with the
reason; a new block that is neither fails ``test_every_block_is_run_or_explained``.
A block runs in a fresh namespace after the import lines of the blocks above it (the
README's blocks build on each other's imports).  ``QUICK`` lists test-only
substitutions that make a block cheaper still for CI (each must match the block
exactly once, so a README edit that removes it fails here too); paths to the shared
data follow ``SKECG_SHARED_DATA``.
"""

import re

import pytest
from conftest import CINC, ROOT, SHARED, needs_shared

README = ROOT / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


#: blocks that cannot run in a test, identified by a line they contain, with the reason
NOT_RUN = {
    'save_model(pipe, "model.skecg",': "a fragment: needs the reader's fitted pipe and its training "
                                       "data (tests/test_persistence.py covers save_model/load_model)",
    'clf = load_ribeiro_keras("model/model.hdf5")': "needs Ribeiro's model.zip, downloaded from Zenodo "
                                                    "(tests/models/test_pretrained.py reads a small fixture)",
    'read_tnmg_hdf5("data/ecg_tracings.hdf5"': "needs Ribeiro's 827-record test set, downloaded from Zenodo",
    'export_model(load_ribeiro_keras("model/model.hdf5")': "needs Ribeiro's model.zip (tests/test_export.py "
                                                           "exports a small network)",
    'seg = WaveSegmenter(random_state=0)': "trains the full-size U-Net on 128 LUDB records (minutes; "
                                           "tests/models/test_segmentation.py trains a small one)",
    'X, y = open_store("cinc.store")': "needs the store that the `skecg convert` line above it writes, "
                                       "and trains full-size networks in 5 folds (tests/records/test_lazy.py)",
}

#: test-only substitutions (old text -> new text) for blocks identified by a line they contain
QUICK = {
    'X, y = load_sample("cinc2020")': [
        # the 120 PhysioNet/CinC records of the sample, not PTB-XL's 500: a fifth of the work
        ('load_sample("cinc2020")',
         'load_sample("cinc2020", sources=["CPSC", "CPSC-Extra", "Georgia", "PTB", "Chapman-Ningbo"])'),
    ],
}

#: blocks that read the shared data (skip where it is missing), by a line they contain
NEEDS_SHARED = {'read_challenge_folder("../shared/data/cinc2021"': CINC}


def _key(block: str, table: dict):
    hits = [k for k in table if k in block]
    assert len(hits) <= 1, f"a README block matches several keys {hits}"
    return hits[0] if hits else None


def _runnable():
    out = []
    for i, block in enumerate(_blocks()):
        if _key(block, NOT_RUN) is None:
            first = next(line for line in block.splitlines() if line.strip() and not line.startswith(("from", "import")))
            shared = _key(block, NEEDS_SHARED)
            marks = [needs_shared(NEEDS_SHARED[shared])] if shared else []
            out.append(pytest.param(i, marks=marks, id=f"block{i}:{first[:40]}"))
    return out


def test_every_block_is_run_or_explained():
    blocks = _blocks()
    assert len(blocks) >= 3
    for key in list(NOT_RUN) + list(QUICK) + list(NEEDS_SHARED):
        assert sum(key in b for b in blocks) == 1, f"README no longer has exactly one block with {key!r}"
    assert len(_runnable()) >= 3  # the quickstart's three blocks at least


@pytest.mark.parametrize("index", _runnable())
def test_readme_block_runs(index, tmp_path, monkeypatch, request):
    blocks = _blocks()
    block = blocks[index]
    key = _key(block, QUICK)
    for old, new in QUICK.get(key, []):
        assert block.count(old) == 1, f"quick substitution {old!r} no longer matches the README block"
        block = block.replace(old, new)
    block = block.replace("../shared/data", str(SHARED))
    imports = [line for b in blocks[:index] for line in b.splitlines()
               if line.startswith(("from ", "import ")) and not line.rstrip().endswith("(")]
    monkeypatch.chdir(tmp_path)  # anything a block writes lands here
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: a second thread mostly waits (and spins, on a busy machine)
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    namespace = {"__name__": "readme"}
    exec(compile("\n".join(imports), "README imports", "exec"), namespace)  # noqa: S102 - our own README
    exec(compile(block, f"README block {index}", "exec"), namespace)  # noqa: S102
