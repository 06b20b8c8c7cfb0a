import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SKECG_SHARED_DATA", ROOT.parent / "shared" / "data"))
CINC = SHARED / "cinc2021"
PTBXL = SHARED / "ptbxl"
CPSC_ORIG = SHARED / "cpsc2018_unlabeled"
CHALLENGE2020 = SHARED / "challenge2020"


@pytest.fixture(scope="session")
def cinc():
    from skecg.io import read_challenge_folder

    return read_challenge_folder(CINC)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
