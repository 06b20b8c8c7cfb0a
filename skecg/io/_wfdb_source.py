"""A folder of challenge WFDB records read on demand: headers now, signals when asked."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .._records import ECGRecords
from ..labels import get_vocabulary
from ..sources import SignalSource, SourceError
from ._challenge import header_meta, list_headers, parse_header, read_challenge_record
from ._common import RecordReadError, _check_on_error, read_text
from ._store import _warn_skipped


class WFDBFolderSource(SignalSource):
    """PhysioNet/CinC WFDB records (``.hea`` + ``.mat`` or ``.dat``), read when needed.

    Every header is parsed at construction (metadata, shapes); a record's signal file
    is read by :func:`~skecg.io.read_challenge_record` when a batch asks for it.
    Unpickling parses the headers again (about 10 s per 100k records), so for large
    archives used by many workers, ``skecg convert`` to a store is faster.
    """

    def __init__(self, folder, records=None, *, require_dx=True, verify_checksum=True, on_error="raise"):
        _check_on_error(on_error)
        self.folder = str(Path(folder))
        self.name = f"WFDB folder {self.folder}"
        self.records = None if records is None else [str(r) for r in records]
        self.require_dx, self.verify_checksum, self.on_error = require_dx, verify_checksum, on_error
        rows, paths, self.skipped = [], [], []
        for hea in list_headers(folder, records):
            name = hea.stem
            try:
                h = parse_header(read_text(hea), name)
                if require_dx and not (h.comments.get("dx", h.comments.get("labels")) or "").strip():
                    raise RecordReadError(name, "the header has no or an empty Dx/Labels line")
                if h.n_samples < 1:
                    raise RecordReadError(name, "the header does not declare a positive number of samples")
                row = header_meta(h, name)
            except RecordReadError as e:
                if on_error == "raise":
                    raise
                self.skipped.append((e.record, e.reason))
                continue
            row.update(n_leads=h.n_sig, length=h.n_samples)
            rows.append(row)
            paths.append(str(hea))
        self.meta = pd.DataFrame(rows, columns=None if rows else ["record_id", "n_leads", "length"])
        self._paths = paths

    def __getstate__(self):
        return {k: getattr(self, k) for k in ("folder", "records", "require_dx", "verify_checksum", "on_error")}

    def __setstate__(self, s):
        self.__init__(s["folder"], s["records"], require_dx=s["require_dx"], verify_checksum=s["verify_checksum"],
                      on_error=s["on_error"])

    def _read_runs(self, rows, out):
        for i, r in enumerate(rows):
            name = self.meta["record_id"].iat[int(r)]
            try:
                sig, _ = read_challenge_record(self._paths[int(r)], require_dx=False,
                                               verify_checksum=self.verify_checksum)
            except RecordReadError as e:
                raise SourceError(self.name, e.reason, record=name) from None
            want = (int(self._n_leads[r]), int(self._length[r]))
            if sig.shape != want:
                raise SourceError(self.name, f"signal has shape {sig.shape}, its header declares {want}",
                                  record=name)
            out[i] = sig


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


__all__ = ["WFDBFolderSource", "open_wfdb_folder"]
