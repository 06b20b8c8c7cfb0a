"""The records boundary: the container, its lazy half, and the one way input comes in.

Everything above this package reads ``X`` through :func:`validate_records`; nothing
here imports anything of skecg above :mod:`skecg.sources`, :mod:`skecg.labels` and
:mod:`skecg._schema`.

- :mod:`._container`: :class:`ECGRecords`, signals and aligned per-record metadata;
- :mod:`._lazy`: its lazy half (reading through a source, pending steps, pickling);
- :mod:`._meta`: the metadata defaults;
- the finiteness check is :mod:`skecg._finite` (below the sources, which check what they write);
- :mod:`._input`: :func:`validate_records` and :class:`RecordsInput`.
"""

from .._schema import META_COLUMNS, STANDARD_LEADS, normalize_lead_name
from .._finite import check_finite_signals, nonfinite_records
from ._container import ECGRecords, concat_records, record_index
from ._input import (RecordsInput, as_signals, check_finite_records, iter_batches, record_names, records_of,
                     validate_records)
from ._meta import default_leads, default_meta

__all__ = [
    "ECGRecords", "META_COLUMNS", "RecordsInput", "STANDARD_LEADS", "as_signals", "check_finite_records",
    "check_finite_signals", "concat_records", "default_leads", "default_meta", "iter_batches",
    "nonfinite_records", "normalize_lead_name", "record_index", "record_names", "records_of", "validate_records",
]
