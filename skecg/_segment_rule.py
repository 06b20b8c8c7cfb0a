"""Deprecated module: :class:`~skecg.ensemble.SegmentRuleClassifier` lives in :mod:`skecg.ensemble`.

Kept for one release so that code, pickles and model files naming
``skecg._segment_rule.SegmentRuleClassifier`` still find the class.
"""

import warnings

from .ensemble import SegmentRuleClassifier as _SegmentRuleClassifier


def __getattr__(name):
    if name == "SegmentRuleClassifier":
        warnings.warn("skecg._segment_rule is deprecated and will be removed in the next release; import "
                      "SegmentRuleClassifier from skecg.ensemble", FutureWarning, stacklevel=2)
        return _SegmentRuleClassifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
