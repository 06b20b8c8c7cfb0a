"""Readers of real ECG archives, each returning ``(ECGRecords, y)``."""

import lazy_loader as _lazy

from .._moved import moved_names
from .._reading import RecordReadError
from .._wfdb import WFDBHeader, parse_header, read_challenge_record, source_of_record

# submodules load on first use of one of their names
_lazy_getattr, __dir__, _ = _lazy.attach(__name__, submod_attrs={
    "_challenge": ["open_wfdb_folder", "read_challenge_folder"],
    "_code15": ["read_code15"],
    "_convert": ["convert", "detect_format"],
    "_common": ["SkippedRecordsWarning", "assemble"],
    "_cpsc": ["read_cpsc2018"],
    "_ludb": ["LUDB_TO_SNOMED", "ludb_statement_codes", "read_ludb"],
    "_ptbxl": ["ptbxl_codes", "read_ptbxl"],
    "_sph": ["AHA_TO_SNOMED", "aha_statement_codes", "read_sph"],
    "_store": ["open_store", "write_store"],
    "_tnmg": ["read_tnmg_hdf5", "read_tnmg_test"],
})

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
__getattr__ = moved_names(__name__, _MOVED, fallback=_lazy_getattr)
