"""Label vocabularies and code mappings (SNOMED CT, TNMG, PTB-XL SCP-ECG, CPSC 2018), and
sample-wise wave labels (wave tables and masks)."""

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
from ._waves import LUDB_WAVES, UNANNOTATED, annotated_regions, clean_masks, masks_to_waves, waves_to_masks

__all__ = [
    "CLASS_INFO", "CPSC2018_TO_SNOMED", "EQUIVALENT_CLASSES_2020", "EQUIVALENT_CLASSES_2021_EXTRA",
    "HEART_AXIS_TO_SNOMED", "NORMAL_CLASS", "SCORED_CLASSES_2020", "SCP_TO_SNOMED",
    "TNMG_TO_SNOMED", "VOCABULARIES", "LabelReport", "Vocabulary", "abbreviation", "column_classes",
    "equivalence_map", "get_vocabulary", "load_weights", "merge_equivalent_codes",
    "merge_equivalent_columns", "vocabulary_of_width",
    # wave tables and masks
    "LUDB_WAVES", "UNANNOTATED", "annotated_regions", "clean_masks", "masks_to_waves", "waves_to_masks",
]
