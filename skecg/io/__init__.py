"""Readers of real ECG archives, each returning ``(ECGRecords, y)``."""

import importlib
import warnings

from .._reading import RecordReadError
from .._wfdb import WFDBHeader, parse_header, read_challenge_record, source_of_record
from ._challenge import open_wfdb_folder, read_challenge_folder
from ._code15 import read_code15
from ._convert import convert, detect_format
from ._common import SkippedRecordsWarning, assemble
from ._cpsc import read_cpsc2018
from ._ludb import LUDB_TO_SNOMED, ludb_statement_codes, read_ludb
from ._ptbxl import ptbxl_codes, read_ptbxl
from ._sph import AHA_TO_SNOMED, aha_statement_codes, read_sph
from ._store import open_store, write_store
from ._tnmg import read_tnmg_hdf5, read_tnmg_test

__all__ = [
    "AHA_TO_SNOMED", "LUDB_TO_SNOMED", "aha_statement_codes", "RecordReadError", "SkippedRecordsWarning",
    "WFDBHeader", "parse_header",
    "ptbxl_codes", "ludb_statement_codes", "read_challenge_folder", "read_challenge_record",
    "read_cpsc2018", "read_ludb", "read_ptbxl", "read_sph",
    "read_tnmg_hdf5", "read_tnmg_test", "source_of_record", "open_store", "read_code15", "write_store", "convert", "detect_format",
    "open_wfdb_folder", "assemble",
]

#: Public names that moved: old name here -> (module, name) of their home now.
_MOVED = {"WFDBFolderSource": ("skecg.sources", "WFDBFolderSource")}


def __getattr__(name):
    if name in _MOVED:
        module, new = _MOVED[name]
        warnings.warn(f"skecg.io.{name} moved to {module}.{new}; the old name will be removed in the next "
                      "release", FutureWarning, stacklevel=2)
        return getattr(importlib.import_module(module), new)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
