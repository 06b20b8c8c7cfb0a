"""skecg: the deep-learning systems of 12-lead ECG research as scikit-learn estimators."""

from ._records import ECGRecords, concat_records

__version__ = "0.1.0"
__all__ = ["ECGRecords", "concat_records", "__version__"]
