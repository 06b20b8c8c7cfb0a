"""Deep networks: classifiers (Ribeiro's ResNet-1d, Huang's attention ResNet, Zhu's
SE-ResNet), the wave segmenter (a 1D U-Net), losses, and the data path they share."""

from ._accelerate import AcceleratedECGClassifier
from ._classifier import ECGClassifier, tune_thresholds  # noqa: F401  (tune_thresholds: deprecated alias)
from ._data import BatchSampler, DevicePrefetcher, ECGDataset
from ._device import amp_dtype, cpu_has_native_bf16, determinism_settings
from ._losses import CRITERIA, SignLoss, WeightedBCEWithLogitsLoss, sign_loss
from ._nets import MODULES, AttentionResNet1d, ResNet1d, SameConv1d, SEResNet1d, keras_init_
from ._skorch_common import EpochLog, LoadTrainingState, TrainingCheckpoint, ValidationScores
from ._ribeiro import RIBEIRO_THRESHOLDS, KerasModelError, load_ribeiro_keras
from ._segmenter import WaveSegmenter
from ._split import PatientSplit, multilabel_group_split
from ._unet import UNet1d

__all__ = [
    "CRITERIA", "MODULES", "AttentionResNet1d", "BatchSampler", "DevicePrefetcher", "ECGClassifier", "ECGDataset",
    "PatientSplit", "ResNet1d", "SEResNet1d", "SameConv1d", "SignLoss", "UNet1d", "WeightedBCEWithLogitsLoss", "amp_dtype",
    "cpu_has_native_bf16", "multilabel_group_split", "sign_loss",
    "KerasModelError", "RIBEIRO_THRESHOLDS", "load_ribeiro_keras", "keras_init_",
    "EpochLog", "LoadTrainingState", "TrainingCheckpoint", "ValidationScores", "determinism_settings",
    "AcceleratedECGClassifier", "WaveSegmenter",
]
