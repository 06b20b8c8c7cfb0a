"""Sample-wise ECG wave segmentation: masks, wave tables, scores, and the segmenter.

The public face of what lives by role elsewhere:

- :func:`waves_to_masks` turns a wave table (``read_ludb``'s, or any table with
  ``record_id, wave, onset, offset``) into int masks, one label per sample;
  :func:`masks_to_waves` turns masks back into a wave table, :func:`clean_masks`
  cleans predicted masks, :func:`annotated_regions` gives each record's annotated
  span (all in :mod:`skecg.labels`);
- :func:`delineation_scores` compares predicted and annotated onsets and offsets
  (:mod:`skecg.metrics`);
- :class:`~skecg.models.WaveSegmenter` learns masks from signals (a 1D U-Net
  trained by skorch, in :mod:`skecg.models`); ``skecg.segmentation.WaveSegmenter``
  still names it, with a ``FutureWarning``.
"""

from __future__ import annotations

from ._moved import moved_names
from .labels import LUDB_WAVES, UNANNOTATED, annotated_regions, clean_masks, masks_to_waves, waves_to_masks
from .metrics import delineation_scores

__all__ = ["LUDB_WAVES", "UNANNOTATED", "annotated_regions", "clean_masks", "delineation_scores",
           "masks_to_waves", "waves_to_masks"]

#: names that moved: deprecated aliases, removed in the next release
__getattr__ = moved_names(__name__, {"WaveSegmenter": ("skecg.models", "WaveSegmenter")})
