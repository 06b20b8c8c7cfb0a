"""Deep networks: classifiers (Ribeiro's ResNet-1d, Huang's attention ResNet, Zhu's
SE-ResNet), the wave segmenter (a 1D U-Net), losses, and the data path they share."""

import lazy_loader as _lazy

# submodules load on first use of one of their names
__getattr__, __dir__, _ = _lazy.attach(__name__, submod_attrs={
    "_accelerate": ["AcceleratedECGClassifier"],
    "_classifier": ["ECGClassifier", "tune_thresholds"],
    "_data": ["BatchSampler", "DevicePrefetcher", "ECGDataset"],
    "_device": ["amp_dtype", "cpu_has_native_bf16", "determinism_settings"],
    "_losses": ["CRITERIA", "SignLoss", "WeightedBCEWithLogitsLoss", "sign_loss"],
    "_nets": ["AttentionResNet1d", "MODULES", "ResNet1d", "SEResNet1d", "SameConv1d", "keras_init_"],
    "_skorch_common": ["EpochLog", "LoadTrainingState", "TrainingCheckpoint", "ValidationScores"],
    "_ribeiro": ["KerasModelError", "RIBEIRO_THRESHOLDS", "load_ribeiro_keras"],
    "_segmenter": ["WaveSegmenter"],
    "_split": ["PatientSplit", "multilabel_group_split"],
    "_unet": ["UNet1d"],
})

__all__ = [
    "CRITERIA", "MODULES", "AttentionResNet1d", "BatchSampler", "DevicePrefetcher", "ECGClassifier", "ECGDataset",
    "PatientSplit", "ResNet1d", "SEResNet1d", "SameConv1d", "SignLoss", "UNet1d", "WeightedBCEWithLogitsLoss", "amp_dtype",
    "cpu_has_native_bf16", "multilabel_group_split", "sign_loss",
    "KerasModelError", "RIBEIRO_THRESHOLDS", "load_ribeiro_keras", "keras_init_",
    "EpochLog", "LoadTrainingState", "TrainingCheckpoint", "ValidationScores", "determinism_settings",
    "AcceleratedECGClassifier", "WaveSegmenter",
]
