"""Test configuration: where the shared real data live, and how tests that need them skip.

Tests that read ``../shared/data`` (or ``$SKECG_SHARED_DATA``) use :func:`needs_shared`
(a ``skipif`` marker naming the missing folder) or the fixtures below, which skip the
same way.  A contributor's clone has no ``../shared``, so those tests skip with a reason
there; everything else runs on ``tests/data`` (small real fixtures) or generated data.
CI sets ``SKECG_REQUIRE_SHARED=1``: there a missing folder is an error, not a skip
(see ``pytest_collection_modifyitems`` below and ``.ci/run``).
"""

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "tests" / "data"
SHARED = Path(os.environ.get("SKECG_SHARED_DATA", ROOT.parent / "shared" / "data"))
CINC = SHARED / "cinc2021"
PTBXL = SHARED / "ptbxl"
CPSC_ORIG = SHARED / "cpsc2018_unlabeled"
CHALLENGE2020 = SHARED / "challenge2020"
LUDB = SHARED / "ludb"

REQUIRE_SHARED = os.environ.get("SKECG_REQUIRE_SHARED", "") not in ("", "0")


def needs_shared(*folders: Path):
    """A ``skipif`` marker for tests that read these folders of the shared data.

    Examples
    --------
    ``@needs_shared(CINC)`` above a test, or ``pytestmark = needs_shared(CINC, PTBXL)``
    at the top of a module.
    """
    missing = [f for f in (folders or (SHARED,)) if not Path(f).is_dir()]
    reason = ("needs the shared real data, missing: " + ", ".join(str(m) for m in missing)
              + " (put the project's shared/ folder beside the clone or set SKECG_SHARED_DATA)")
    return pytest.mark.skipif(bool(missing), reason=reason)


def pytest_collection_modifyitems(config, items):
    """Under SKECG_REQUIRE_SHARED=1, a test that would skip for missing shared data fails."""
    if not REQUIRE_SHARED:
        return
    for item in items:
        for mark in item.iter_markers(name="skipif"):
            reason = mark.kwargs.get("reason", "")
            if reason.startswith("needs the shared real data") and (mark.args and mark.args[0]):
                raise pytest.UsageError(
                    f"SKECG_REQUIRE_SHARED is set but {item.nodeid} would skip: {reason}")


@pytest.fixture(scope="session")
def cinc():
    if not CINC.is_dir():
        if REQUIRE_SHARED:
            pytest.fail(f"SKECG_REQUIRE_SHARED is set but {CINC} is missing")
        pytest.skip(f"needs the shared real data, missing: {CINC}")
    from skecg.io import read_challenge_folder

    return read_challenge_folder(CINC)


#: an ECGClassifier small enough to train in seconds, for tests of its behaviour, not of its accuracy
TINY = dict(module__filters=(8, 8), module__kernel_size=5, max_epochs=2, batch_size=16, random_state=0)


@pytest.fixture(scope="module")
def small():
    """``(Z, y)``: the tnmg sample of three sources at 100 Hz, padded or cut to 256 samples."""
    from sklearn.pipeline import make_pipeline

    from skecg.datasets import load_sample
    from skecg.preprocessing import PadTruncate, Resampler

    X, y = load_sample("tnmg", sources=["Georgia", "Chapman-Ningbo", "CPSC"])
    Z = make_pipeline(Resampler(100), PadTruncate(length=256)).fit_transform(X)
    return Z, y


@pytest.fixture
def rng():
    return np.random.default_rng(0)
