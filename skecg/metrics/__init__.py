"""Metrics: the official 2020 challenge numbers, per-class tables, scorers, bootstrap CIs."""

from ._challenge import challenge_metrics, challenge_score
from ._perclass import classification_table, per_class_scores
from ._scorers import (
    SCORING,
    AUROCScorer,
    BootstrapResult,
    ChallengeScorer,
    F1MacroScorer,
    auroc_scorer,
    bootstrap_ci,
    challenge_scorer,
    f1_macro_scorer,
    proba_matrix,
    read_challenge_outputs,
    write_challenge_outputs,
)

__all__ = [
    "SCORING", "AUROCScorer", "BootstrapResult", "ChallengeScorer", "F1MacroScorer",
    "auroc_scorer", "bootstrap_ci", "challenge_metrics", "challenge_score", "challenge_scorer",
    "classification_table", "f1_macro_scorer", "per_class_scores", "proba_matrix", "read_challenge_outputs",
    "write_challenge_outputs",
]
