"""Meta-estimators of Zhu et al.: bradycardia rule gate, sinus-rhythm fallback, two-length
ensemble, pseudo-label relabelling, the segment rule; and deep features for stacking.

Each takes ``fit``'s extra parameters on to the estimators it wraps: all of them, or,
with scikit-learn's metadata routing enabled (``sklearn.set_config(
enable_metadata_routing=True)``), those each estimator requested.
"""

from ._features import DeepFeatures
from ._gates import BradycardiaRuleGate, SinusRhythmFallback, bradycardia_rule
from ._length import LengthEnsemble
from ._relabel import PseudoLabelRelabeler
from ._segment_rule import SegmentRuleClassifier

__all__ = [
    "BradycardiaRuleGate", "DeepFeatures", "LengthEnsemble", "PseudoLabelRelabeler", "SegmentRuleClassifier",
    "SinusRhythmFallback", "bradycardia_rule",
]

# model files (skecg.persistence) and pickles name a class by its module: the public one,
# so files do not depend on how this package is split into private modules
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
