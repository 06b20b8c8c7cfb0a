"""Folders of PhysioNet/CinC Challenge WFDB records (``.hea`` + ``.mat`` of 2020/2021,
``.hea`` + ``.dat`` of 2024), read whole or opened lazily.

The WFDB format (headers, one record's signal file) is :mod:`skecg._wfdb`; the lazy
source is :class:`skecg.sources.WFDBFolderSource`.
"""

from __future__ import annotations

from .._records import ECGRecords
from .._wfdb import list_headers, read_challenge_record
from ..labels import get_vocabulary
from ..sources import WFDBFolderSource
from ._common import assemble, check_fs, read_many
from ._store import _warn_skipped


def read_challenge_folder(
    path,
    vocabulary="cinc2020",
    *,
    fs: float | None = None,
    records=None,
    on_error: str = "raise",
    verify_checksum: bool = True,
    require_dx: bool = True,
    n_jobs: int | None = 1,
):
    """Read a folder of PhysioNet/CinC 2020 or 2021 WFDB records.

    Any sampling rate and length; age, sex and SNOMED CT labels from the header
    comments.  Codes outside ``vocabulary`` stay in ``meta['dx']`` and are counted by
    ``records.label_report()``.

    Parameters
    ----------
    path : str or Path
        Folder holding ``*.hea`` with ``*.mat`` or ``*.dat`` files (searched recursively).
        Two records of the same name in different sub-folders raise a ``ValueError``
        (their outputs would overwrite each other); read such sub-folders separately.
    vocabulary : str, Vocabulary or list of str, default='cinc2020'
        Columns of ``y``: ``'cinc2020'`` (24 merged scored classes), ``'cinc2020_27'``,
        ``'tnmg'`` or a list of SNOMED codes.
    fs : float, optional
        Resample every record to this rate on load (polyphase filtering).
    records : list of str, optional
        Only these record names.
    on_error : {'raise', 'skip'}, default='raise'
        ``'skip'`` skips unreadable records, lists them in ``records.skipped`` and
        warns with each name and reason.
    verify_checksum : bool, default=True
    require_dx : bool, default=True
        Raise on a header without a ``Dx``/``Labels`` line or with an empty one;
        ``False`` reads such records as unlabelled: ``meta['labelled']`` is False
        (their row of ``y`` is all zero but means "unknown", not "all negative"),
        e.g. for prediction.
    n_jobs : int, default=1
        Threads for reading.

    Returns
    -------
    records : ECGRecords
        3-D when all records share a shape, else ragged.
    y : ndarray of shape (n_records, n_classes), uint8

    Examples
    --------
    >>> X, y = read_challenge_folder("../shared/data/cinc2021", records=["A0001", "S0001"])  # doctest: +SKIP
    >>> X.shape, y.shape                                                                  # doctest: +SKIP
    ((2, 12, None), (2, 24))
    """
    fs = check_fs(fs)  # before reading anything
    heas = list_headers(path, records)
    signals, rows, skipped = read_many(
        heas, lambda h: read_challenge_record(h, require_dx=require_dx, verify_checksum=verify_checksum),
        on_error, n_jobs
    )
    return assemble(signals, rows, skipped, vocabulary, fs)


def open_wfdb_folder(path, vocabulary="cinc2020", *, records=None, require_dx=True, verify_checksum=True,
                     on_error="raise"):
    """A folder of challenge WFDB records as a lazy :class:`~skecg.ECGRecords`.

    Like :func:`read_challenge_folder`, but only the headers are read now; signals are
    read in batches when a transformer or estimator needs them, so a folder larger than
    memory can be evaluated or predicted on directly.  A header that cannot be parsed
    is skipped (``on_error='skip'``) and reported; a signal file that turns out to be
    unreadable at read time raises :class:`~skecg.sources.SourceError` naming the
    record (convert the folder with ``skecg convert`` to skip and report those up front).

    Returns
    -------
    records : ECGRecords (lazy)
    y : ndarray of shape (n_records, n_classes)

    Examples
    --------
    >>> X, y = open_wfdb_folder("tests/data/cinc2021")  # doctest: +SKIP
    """
    src = WFDBFolderSource(path, records, require_dx=require_dx, verify_checksum=verify_checksum,
                           on_error=on_error)
    vocab = get_vocabulary(vocabulary)
    X = ECGRecords.from_source(src, classes=vocab.classes, skipped=src.skipped)
    _warn_skipped(src.skipped, f"WFDB folder {path}")
    if len(X) == 0:
        raise ValueError(f"no readable record header under {path}" + (
            f"; skipped {len(src.skipped)}: " + "; ".join(f"{r}: {w}" for r, w in src.skipped[:5])
            if src.skipped else ""))
    return X, vocab.encode(X.meta["dx"])
