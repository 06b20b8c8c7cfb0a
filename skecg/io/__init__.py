"""Readers of real ECG archives, each returning ``(ECGRecords, y)``."""

from ._challenge import (
    WFDBHeader,
    parse_header,
    read_challenge_folder,
    read_challenge_record,
    source_of_record,
)
from ._code15 import read_code15
from ._convert import convert, detect_format
from ._common import RecordReadError, SkippedRecordsWarning, assemble
from ._ludb import LUDB_TO_SNOMED, ludb_statement_codes, read_ludb
from ._others import ptbxl_codes, read_cpsc2018, read_ptbxl, read_tnmg_hdf5, read_tnmg_test
from ._sph import AHA_TO_SNOMED, aha_statement_codes, read_sph
from ._store import open_store, write_store
from ._wfdb_source import WFDBFolderSource, open_wfdb_folder

__all__ = [
    "AHA_TO_SNOMED", "LUDB_TO_SNOMED", "aha_statement_codes", "RecordReadError", "SkippedRecordsWarning",
    "WFDBHeader", "parse_header",
    "ptbxl_codes", "ludb_statement_codes", "read_challenge_folder", "read_challenge_record",
    "read_cpsc2018", "read_ludb", "read_ptbxl", "read_sph",
    "read_tnmg_hdf5", "read_tnmg_test", "source_of_record", "open_store", "read_code15", "write_store", "convert", "detect_format",
    "open_wfdb_folder", "WFDBFolderSource", "assemble",
]
