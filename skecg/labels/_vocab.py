"""Label vocabularies: SNOMED CT classes of the 2020 challenge, the TNMG six, PTB-XL SCP mapping.

A label matrix ``y`` in skecg is always a 0/1 indicator matrix whose columns follow an
explicit, named class list (a :class:`Vocabulary`).  Column order is never inferred
from the labels present in a fold.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from typing import Iterable, Sequence

import numpy as np

NORMAL_CLASS = "426783006"  # sinus rhythm, the challenge's "normal" class

#: The three pairs the 2020 challenge scores as one class (first code represents).
EQUIVALENT_CLASSES_2020: tuple[tuple[str, ...], ...] = (
    ("713427006", "59118001"),  # complete RBBB ~ RBBB
    ("284470004", "63593006"),  # PAC ~ SVPB
    ("427172004", "17338001"),  # PVC ~ VPB
)
#: The extra pair of the 2021 challenge.
EQUIVALENT_CLASSES_2021_EXTRA: tuple[tuple[str, ...], ...] = (
    ("733534002", "164909002"),  # complete LBBB ~ LBBB
)


def _read_csv(name: str) -> list[list[str]]:
    with resources.files("skecg.labels").joinpath("data", name).open("r", newline="") as fh:
        return list(csv.reader(fh))


def load_weights() -> tuple[list[str], np.ndarray]:
    """Return the 27 scored classes and the reward matrix of the 2020 ``weights.csv``.

    Returns
    -------
    classes : list of str
        SNOMED CT codes in ``weights.csv`` order (equivalent codes as separate columns).
    weights : ndarray of shape (27, 27)
        The reward matrix.

    Examples
    --------
    >>> classes, W = load_weights()
    >>> len(classes), W.shape
    (27, (27, 27))
    """
    rows = _read_csv("weights.csv")
    classes = [c.strip() for c in rows[0][1:]]
    weights = np.array([[float(v) for v in r[1:]] for r in rows[1:]], dtype=np.float64)
    return classes, weights


def _load_class_info() -> dict[str, tuple[str, str]]:
    info: dict[str, tuple[str, str]] = {}
    for name in ("dx_mapping_scored.csv", "dx_mapping_unscored.csv"):
        rows = _read_csv(name)
        for r in rows[1:]:
            if len(r) >= 3 and r[1].strip():
                info[r[1].strip()] = (r[0].strip(), r[2].strip())
    return info


#: SNOMED code -> (name, abbreviation), for every code of the challenge mapping tables.
CLASS_INFO: dict[str, tuple[str, str]] = _load_class_info()
# codes used by skecg that the 2020 tables do not name
CLASS_INFO.setdefault("733534002", ("complete left bundle branch block", "CLBBB"))

SCORED_CLASSES_2020: list[str] = load_weights()[0]


def abbreviation(code: str) -> str:
    """Return the short name of a SNOMED code (the code itself if unknown).

    Examples
    --------
    >>> abbreviation("164889003")
    'AF'
    """
    return CLASS_INFO.get(str(code), (str(code), str(code)))[1]


def equivalence_map(
    classes: Sequence[str] | None = None, include_2021: bool = False
) -> dict[str, str]:
    """Map every code of an equivalence group to its representative.

    The representative is the group member that appears in ``classes`` (so a
    vocabulary that names ``164909002`` for LBBB keeps it), else the first member.
    """
    groups = list(EQUIVALENT_CLASSES_2020)
    if include_2021:
        groups += list(EQUIVALENT_CLASSES_2021_EXTRA)
    out: dict[str, str] = {}
    for g in groups:
        rep = g[0]
        if classes is not None:
            present = [c for c in g if c in classes]
            if present:
                rep = present[0]
        for c in g:
            out[c] = rep
    return out


def merge_equivalent_codes(
    codes: Iterable[str], classes: Sequence[str] | None = None, include_2021: bool = False
) -> list[str]:
    """Replace equivalent SNOMED codes by one representative, keeping order, no duplicates.

    Parameters
    ----------
    codes : iterable of str
        SNOMED CT codes of one record.
    classes : sequence of str, optional
        Target vocabulary: a group is represented by its member in ``classes``.
    include_2021 : bool, default=False
        Also merge 2021's ``733534002 ~ 164909002`` (complete LBBB ~ LBBB).

    Examples
    --------
    >>> merge_equivalent_codes(["59118001", "426783006", "713427006"])
    ['713427006', '426783006']
    """
    m = equivalence_map(classes, include_2021)
    out: list[str] = []
    for c in codes:
        c = m.get(str(c).strip(), str(c).strip())
        if c not in out:
            out.append(c)
    return out


def merge_equivalent_columns(
    y: np.ndarray, classes: Sequence[str], how: str = "or", include_2021: bool = False
) -> tuple[np.ndarray, list[str]]:
    """Merge the columns of equivalent classes of a label/output/probability matrix.

    Parameters
    ----------
    y : array-like of shape (n_records, n_classes)
    classes : sequence of str
        The codes of the columns of ``y``.
    how : {'or', 'mean'}
        ``'or'`` for labels and binary outputs, ``'mean'`` for probabilities (as the
        official 2020 evaluation code does).

    Returns
    -------
    merged : ndarray of shape (n_records, n_merged)
    merged_classes : list of str
        Representative codes, in order of first appearance.
    """
    y = np.asarray(y)
    classes = [str(c) for c in classes]
    m = equivalence_map(None, include_2021)
    reps = [m.get(c, c) for c in classes]
    merged_classes = list(dict.fromkeys(reps))
    if len(merged_classes) == len(classes):
        return y, classes
    cols = []
    for rep in merged_classes:
        idx = [j for j, r in enumerate(reps) if r == rep]
        block = y[:, idx]
        if how == "or":
            cols.append(np.any(block != 0, axis=1).astype(y.dtype))
        elif how == "mean":
            cols.append(np.nanmean(block.astype(np.float64), axis=1))
        else:
            raise ValueError(f"how must be 'or' or 'mean', got {how!r}")
    return np.stack(cols, axis=1), merged_classes


@dataclass(frozen=True)
class Vocabulary:
    """An ordered, named set of SNOMED CT classes: the columns of ``y``.

    Parameters
    ----------
    name : str
    classes : tuple of str
        SNOMED CT codes, the column order of ``y``.
    include_2021 : bool
        Whether 2021's extra equivalence (complete LBBB ~ LBBB) applies when mapping.

    Examples
    --------
    >>> v = get_vocabulary("tnmg")
    >>> v.abbreviations
    ['1dAVb', 'RBBB', 'LBBB', 'SB', 'AF', 'ST']
    >>> v.encode([["426177001"], ["59118001", "164889003"]]).tolist()
    [[0, 0, 0, 1, 0, 0], [0, 1, 0, 0, 1, 0]]
    """

    name: str
    classes: tuple[str, ...]
    include_2021: bool = False
    abbrev: tuple[str, ...] | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def abbreviations(self) -> list[str]:
        if self.abbrev is not None:
            return list(self.abbrev)
        return [abbreviation(c) for c in self.classes]

    @property
    def names(self) -> list[str]:
        return [CLASS_INFO.get(c, (c, c))[0] for c in self.classes]

    def map_codes(self, codes: Iterable[str]) -> tuple[list[str], list[str]]:
        """Split one record's codes into (in vocabulary, outside vocabulary)."""
        merged = merge_equivalent_codes(codes, self.classes, self.include_2021)
        inside = [c for c in merged if c in self.classes]
        outside = [c for c in merged if c not in self.classes]
        return inside, outside

    def encode(self, code_lists: Iterable[Iterable[str]]) -> np.ndarray:
        """Turn per-record code lists into a 0/1 indicator matrix (uint8)."""
        index = {c: j for j, c in enumerate(self.classes)}
        rows = list(code_lists)
        y = np.zeros((len(rows), len(self.classes)), dtype=np.uint8)
        for i, codes in enumerate(rows):
            for c in self.map_codes(codes)[0]:
                y[i, index[c]] = 1
        return y

    def report(self, code_lists: Iterable[Iterable[str]]) -> "LabelReport":
        """Count the codes that fall outside this vocabulary (never dropped silently)."""
        inside: Counter = Counter()
        outside: Counter = Counter()
        n_without = 0
        n = 0
        for codes in code_lists:
            n += 1
            ins, outs = self.map_codes(codes)
            inside.update(ins)
            outside.update(outs)
            n_without += not ins
        return LabelReport(self.name, n, dict(inside), dict(outside), n_without)


@dataclass
class LabelReport:
    """How a set of records' codes fell into a vocabulary.

    Attributes
    ----------
    vocabulary : str
    n_records : int
    in_vocabulary : dict
        code -> number of records labelled with it.
    outside_vocabulary : dict
        code -> number of records carrying a code the vocabulary does not score.
    n_records_without_class : int
        records whose y row is all zero.
    """

    vocabulary: str
    n_records: int
    in_vocabulary: dict
    outside_vocabulary: dict
    n_records_without_class: int

    def __str__(self) -> str:
        lines = [
            f"{self.n_records} records, vocabulary {self.vocabulary!r}: "
            f"{len(self.in_vocabulary)} classes present, "
            f"{self.n_records_without_class} records with no class of the vocabulary"
        ]
        if self.outside_vocabulary:
            top = sorted(self.outside_vocabulary.items(), key=lambda kv: -kv[1])
            lines.append(
                f"{sum(self.outside_vocabulary.values())} labels outside the vocabulary, kept in "
                "metadata['dx']: "
                + ", ".join(f"{c} ({abbreviation(c)}) x{k}" for c, k in top)
            )
        return "\n".join(lines)


_MERGED_2020 = tuple(merge_equivalent_codes(SCORED_CLASSES_2020))

VOCABULARIES: dict[str, Vocabulary] = {
    # the 27 columns of weights.csv, equivalent codes as separate columns
    "cinc2020_27": Vocabulary("cinc2020_27", tuple(SCORED_CLASSES_2020)),
    # the 24 classes the challenge actually scores after merging equivalents
    "cinc2020": Vocabulary("cinc2020", _MERGED_2020),
    # the six TNMG classes of Ribeiro et al. 2020
    "tnmg": Vocabulary(
        "tnmg",
        ("270492004", "713427006", "164909002", "426177001", "164889003", "427084000"),
        include_2021=True,
        abbrev=("1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"),
    ),
}


def get_vocabulary(vocabulary: "str | Vocabulary | Sequence[str]") -> Vocabulary:
    """Resolve a vocabulary given by name (``'cinc2020'``, ``'cinc2020_27'``, ``'tnmg'``),
    as a :class:`Vocabulary`, or as a list of SNOMED codes."""
    if isinstance(vocabulary, Vocabulary):
        return vocabulary
    if isinstance(vocabulary, str):
        try:
            return VOCABULARIES[vocabulary]
        except KeyError:
            raise ValueError(
                f"unknown vocabulary {vocabulary!r}; choose one of {sorted(VOCABULARIES)} "
                "or pass a list of SNOMED CT codes"
            ) from None
    codes = tuple(str(c) for c in vocabulary)
    for v in VOCABULARIES.values():
        if v.classes == codes:
            return v
    if not codes:
        raise ValueError("a vocabulary needs at least one class")
    if len(set(codes)) != len(codes):
        raise ValueError(f"duplicate codes in vocabulary: {codes}")
    return Vocabulary("custom", codes)


def vocabulary_of_width(k: int) -> "Vocabulary | None":
    """The named vocabulary with ``k`` classes (24: 'cinc2020', 27: 'cinc2020_27',
    6: 'tnmg'), or None."""
    for v in VOCABULARIES.values():
        if len(v) == k:
            return v
    return None


def column_classes(k: int, classes=None, fallback=None) -> list[str]:
    """The class codes of the ``k`` columns of a label matrix.

    ``classes`` (a vocabulary name, Vocabulary or list) when given; else ``fallback``
    (e.g. the records' own classes) when it has ``k`` codes; else the named vocabulary
    of that width; else the column indices as strings.  Never inferred from labels.

    Examples
    --------
    >>> column_classes(6)[:2], column_classes(3)
    (['270492004', '713427006'], ['0', '1', '2'])
    """
    if classes is not None:
        codes = list(get_vocabulary(classes).classes)
        if len(codes) != k:
            raise ValueError(f"y has {k} columns but the vocabulary has {len(codes)} classes")
        return codes
    if fallback is not None and len(fallback) == k:
        return [str(c) for c in fallback]
    named = vocabulary_of_width(k)
    return list(named.classes) if named is not None else [str(j) for j in range(k)]


# --- PTB-XL ------------------------------------------------------------------------
#: SCP-ECG statement -> SNOMED CT code.  Follows the conversion the 2020 challenge used
#: for PTB-XL (checked against the counts in ``dx_mapping_*.csv``), except that ``PVC``
#: maps to the scored class 427172004 (the 2020 conversion used 164884008, "ventricular
#: ectopics", which is unscored).  Statements not listed here (e.g. DIG, EL, INJ*)
#: stay in the metadata and are counted in the label report.
SCP_TO_SNOMED: dict[str, str] = {
    "NORM": "426783006", "SR": "426783006",
    "AFIB": "164889003", "AFLT": "164890007",
    "1AVB": "270492004", "2AVB": "195042002", "3AVB": "27885002",
    "CRBBB": "713427006", "IRBBB": "713426002",
    "CLBBB": "164909002", "ILBBB": "251120003",
    "LAFB": "445118002", "LPFB": "445211001", "IVCD": "698252002", "WPW": "74390002",
    "PAC": "284470004", "PVC": "427172004", "BIGU": "11157007", "TRIGU": "251180001",
    "SBRAD": "426177001", "STACH": "427084000", "SARRH": "427393009",
    "SVTAC": "426761007", "PSVT": "67198005", "PACE": "10370003",
    "LNGQT": "111975006", "LPR": "164947007", "LVOLT": "251146004",
    "QWAVE": "164917005", "ABQRS": "164951009",
    "LVH": "164873001", "RVH": "89792004", "LAO/LAE": "67741000119109", "RAO/RAE": "446358003",
    "IMI": "164865005", "ASMI": "164865005", "ILMI": "164865005", "AMI": "164865005",
    "ALMI": "164865005", "LMI": "164865005", "IPLMI": "164865005", "IPMI": "164865005",
    "PMI": "164865005",
    "ISC_": "164861001", "ISCAL": "164861001", "ISCAS": "164861001", "ISCIL": "164861001",
    "ISCAN": "426434006", "ISCIN": "425419005", "ISCLA": "425623009",
    "NDT": "164934002", "LOWT": "164934002", "TAB_": "164934002", "INVT": "59931005",
    "NST_": "55930002", "NT_": "428750005", "STD_": "429622005", "STE_": "164931005",
}
#: PTB-XL ``heart_axis`` value -> SNOMED CT code.
HEART_AXIS_TO_SNOMED: dict[str, str] = {
    "LAD": "39732003", "ALAD": "39732003", "RAD": "47665007", "ARAD": "47665007",
}
#: Original CPSC 2018 ``REFERENCE.csv`` label (1-9) -> SNOMED CT code.
CPSC2018_TO_SNOMED: dict[int, str] = {
    1: "426783006", 2: "164889003", 3: "270492004", 4: "164909002", 5: "59118001",
    6: "284470004", 7: "164884008", 8: "429622005", 9: "164931005",
}
#: TNMG/CODE ``exams.csv`` column -> SNOMED CT code.
TNMG_TO_SNOMED: dict[str, str] = {
    "1dAVb": "270492004", "RBBB": "713427006", "LBBB": "164909002",
    "SB": "426177001", "AF": "164889003", "ST": "427084000",
}
