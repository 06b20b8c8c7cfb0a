"""Label vocabularies and code mappings (SNOMED CT, TNMG, PTB-XL SCP-ECG, CPSC 2018)."""

from ._vocab import (
    CLASS_INFO,
    CPSC2018_TO_SNOMED,
    EQUIVALENT_CLASSES_2020,
    EQUIVALENT_CLASSES_2021_EXTRA,
    HEART_AXIS_TO_SNOMED,
    NORMAL_CLASS,
    SCORED_CLASSES_2020,
    SCP_TO_SNOMED,
    TNMG_TO_SNOMED,
    VOCABULARIES,
    LabelReport,
    Vocabulary,
    abbreviation,
    column_classes,
    equivalence_map,
    get_vocabulary,
    load_weights,
    merge_equivalent_codes,
    merge_equivalent_columns,
    vocabulary_of_width,
)

__all__ = [
    "CLASS_INFO", "CPSC2018_TO_SNOMED", "EQUIVALENT_CLASSES_2020", "EQUIVALENT_CLASSES_2021_EXTRA",
    "HEART_AXIS_TO_SNOMED", "NORMAL_CLASS", "SCORED_CLASSES_2020", "SCP_TO_SNOMED",
    "TNMG_TO_SNOMED", "VOCABULARIES", "LabelReport", "Vocabulary", "abbreviation", "column_classes",
    "equivalence_map", "get_vocabulary", "load_weights", "merge_equivalent_codes",
    "merge_equivalent_columns", "vocabulary_of_width",
]
