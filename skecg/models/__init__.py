"""Deep classifiers: Ribeiro's ResNet-1d, Huang's attention ResNet, Zhu's SE-ResNet, losses."""

from ._classifier import ECGClassifier, tune_thresholds
from ._losses import CRITERIA, SignLoss, WeightedBCEWithLogitsLoss, sign_loss
from ._nets import MODULES, AttentionResNet1d, ResNet1d, SameConv1d, SEResNet1d
from ._split import multilabel_group_split

__all__ = [
    "CRITERIA", "MODULES", "AttentionResNet1d", "ECGClassifier", "ResNet1d", "SEResNet1d", "SameConv1d",
    "SignLoss", "WeightedBCEWithLogitsLoss", "multilabel_group_split", "sign_loss", "tune_thresholds",
]
