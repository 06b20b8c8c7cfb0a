"""CODE-15% / TNMG multi-part HDF5 files, read in place.

CODE-15% (Ribeiro et al.) ships ``exams_part0.hdf5`` ... ``exams_part17.hdf5``, each
with ``tracings`` of shape ``(N, 4096, 12)`` (400 Hz, leads DI, DII, DIII, aVR, aVL,
aVF, V1-V6) and ``exam_id`` of shape ``(N,)``, plus ``exams.csv`` (exam_id, age,
is_male, the six labels, patient_id, trace_file, ...).  Nothing is copied: each
record is read from its part when asked for, and transposed to leads first.  Each
file ends with an all-zero padding row of exam id 0, which is not a record.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..labels import TNMG_TO_SNOMED
from .._schema import STANDARD_LEADS
from ._base import SignalSource, SourceError, runs
from ._files import H5Array

LEADS = STANDARD_LEADS  # CODE-15%'s order is the standard one


def _part_number(p: Path) -> int:
    m = re.search(r"(\d+)$", p.stem)
    return int(m.group(1)) if m else -1


class Code15Source(SignalSource):
    """Records of a CODE-15%-layout folder, read on demand.

    Parameters
    ----------
    folder : str or Path
        Holds ``exams_part*.hdf5`` (or the files given by ``files``) and ``exams.csv``.
    files : list of str, optional
        HDF5 file names inside ``folder`` (default: every ``*.hdf5``, by part number).
    exams : str, default='exams.csv'
    dataset : str, default='tracings'
    locking, rdcc_nbytes : passed to ``h5py.File`` for chunked files.

    Attributes
    ----------
    meta : DataFrame
        record_id (``exam-<id>``), source, fs=400, age, sex, patient_id, leads, dx,
        exam_id, n_leads, length, and the part and row it lives at.
    skipped : list of (record, reason)
        Exams with tracings but no row in the exams table.
    """

    def __init__(self, folder, *, files=None, exams="exams.csv", dataset="tracings", source="CODE-15%",
                 locking=None, rdcc_nbytes=None):
        self.folder = str(Path(folder))
        self.name = f"CODE-15% folder {self.folder}"
        self.files_arg = None if files is None else [str(f) for f in files]
        self.exams = exams
        self.dataset = dataset
        self.source = source
        self.locking = locking
        self.rdcc_nbytes = rdcc_nbytes
        self._build()

    def __getstate__(self):
        return {k: getattr(self, k) for k in ("folder", "files_arg", "exams", "dataset", "source",
                                              "locking", "rdcc_nbytes")}

    def __setstate__(self, s):
        self.__init__(s["folder"], files=s["files_arg"], exams=s["exams"], dataset=s["dataset"],
                      source=s["source"], locking=s["locking"], rdcc_nbytes=s["rdcc_nbytes"])

    def _build(self):
        import h5py  # on first use: skecg.sources loads with `import skecg`, h5py need not

        folder = Path(self.folder)
        if not folder.is_dir():
            raise SourceError(self.name, "folder not found")
        paths = ([folder / f for f in self.files_arg] if self.files_arg is not None
                 else sorted(folder.glob("*.hdf5"), key=lambda p: (_part_number(p), p.name)))
        if not paths:
            raise SourceError(self.name, "holds no .hdf5 files")
        self._files, ids, part, row = [], [], [], []
        length = None
        for k, p in enumerate(paths):
            try:
                with h5py.File(p, "r") as f:
                    if self.dataset not in f or "exam_id" not in f:
                        raise SourceError(str(p), f"needs datasets {self.dataset!r} and 'exam_id', has {list(f)}")
                    tr, eid = f[self.dataset], np.asarray(f["exam_id"][()]).astype(np.int64).ravel()
                    if tr.ndim != 3 or tr.shape[2] != 12:
                        raise SourceError(str(p), f"{self.dataset} has shape {tr.shape}; expected (N, n_samples, 12)")
                    if len(eid) != tr.shape[0]:
                        raise SourceError(str(p), f"exam_id has {len(eid)} entries but {self.dataset} has "
                                          f"{tr.shape[0]} tracings")
                    if length is not None and tr.shape[1] != length:
                        raise SourceError(str(p), f"tracings have {tr.shape[1]} samples, earlier parts {length}")
                    length = tr.shape[1]
            except OSError as e:
                raise SourceError(str(p), f"not a readable HDF5 file ({e})") from None
            self._files.append(H5Array(p, self.dataset, locking=self.locking, rdcc_nbytes=self.rdcc_nbytes))
            keep = np.flatnonzero(eid != 0)  # the all-zero padding row of each part
            ids.append(eid[keep])
            part.append(np.full(keep.size, k))
            row.append(keep)
        ids, part, row = np.concatenate(ids), np.concatenate(part), np.concatenate(row)
        dup = pd.Index(ids).duplicated()
        if dup.any():
            raise SourceError(self.name, f"exam_id {int(ids[dup][0])} occurs in more than one tracing")
        csv = folder / self.exams
        try:
            table = pd.read_csv(csv)
        except FileNotFoundError:
            raise SourceError(self.name, f"{self.exams} is missing") from None
        if "exam_id" not in table:
            raise SourceError(self.name, f"{self.exams} has no exam_id column")
        table = table.drop_duplicates("exam_id").set_index("exam_id")
        known = np.isin(ids, table.index.to_numpy())
        self.skipped = [(f"exam-{int(e)}", f"exam_id {int(e)} ({paths[int(p)].name}, row {int(r)}) is not in "
                         f"{self.exams}") for e, p, r in zip(ids[~known], part[~known], row[~known])]
        ids, part, row = ids[known], part[known], row[known]
        t = table.loc[ids]
        n = len(ids)
        labels = [c for c in TNMG_TO_SNOMED if c in t]
        lab = t[labels].fillna(0).to_numpy().astype(bool) if labels else np.zeros((n, 0), bool)
        codes = [TNMG_TO_SNOMED[c] for c in labels]
        self.meta = pd.DataFrame({
            "record_id": [f"exam-{int(e)}" for e in ids],
            "source": self.source,
            "fs": 400.0,
            "age": t["age"].astype(float).to_numpy() if "age" in t else np.nan,
            "sex": (np.where(t["is_male"].astype(bool), "M", "F") if "is_male" in t else None),
            "patient_id": ([f"code-p{int(p)}" for p in t["patient_id"]] if "patient_id" in t
                           else [f"exam-{int(e)}" for e in ids]),
            "leads": pd.Series([LEADS] * n, dtype=object),
            "dx": pd.Series([tuple(c for c, on in zip(codes, r) if on) for r in lab], dtype=object),
            "exam_id": ids,
            "n_leads": 12,
            "length": int(length),
            "part": part,
            "row": row,
        })
        self._part, self._row = part, row

    def _read_runs(self, rows, out):
        part, start = self._part[rows], self._row[rows]
        for a, b in runs(part, start, start + 1):
            h5 = self._files[int(part[a])]
            try:
                block = h5.read_rows(int(start[a]), int(start[b - 1]) + 1)  # (n, T, 12), one read
            except SourceError as e:
                raise SourceError(self.name, e.reason, record=self.meta["record_id"].iat[int(rows[a])]) from None
            if isinstance(out, list):
                for i in range(a, b):
                    out[i] = np.ascontiguousarray(block[i - a].T, dtype=np.float32)
            else:
                out[a:b] = block.transpose(0, 2, 1)
