"""A folder of challenge WFDB records read on demand: headers now, signals when asked.

The WFDB format itself (headers, one record's signal file) is :mod:`skecg._wfdb`;
:func:`skecg.io.open_wfdb_folder` wraps this source in an :class:`~skecg.ECGRecords`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .._reading import RecordReadError, check_on_error, read_text
from .._wfdb import header_meta, list_headers, parse_header, read_challenge_record
from ._base import SignalSource, SourceError


class WFDBFolderSource(SignalSource):
    """PhysioNet/CinC WFDB records (``.hea`` + ``.mat`` or ``.dat``), read when needed.

    Every header is parsed at construction (metadata, shapes); a record's signal file
    is read by :func:`~skecg.io.read_challenge_record` when a batch asks for it.
    Unpickling parses the headers again (about 10 s per 100k records), so for large
    archives used by many workers, ``skecg convert`` to a store is faster.

    Parameters
    ----------
    folder : str or Path
        Searched recursively for ``*.hea``.
    records : list of str, optional
        Only these record names.
    require_dx : bool, default=True
        Refuse a header without a ``Dx``/``Labels`` line or with an empty one.
    verify_checksum : bool, default=True
        Check each signal against its header's WFDB checksums when it is read.
    on_error : {'raise', 'skip'}, default='raise'
        ``'skip'`` leaves out records whose header cannot be used and lists them in
        ``skipped`` as ``(record, reason)``.
    """

    def __init__(self, folder, records=None, *, require_dx=True, verify_checksum=True, on_error="raise"):
        check_on_error(on_error)
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
