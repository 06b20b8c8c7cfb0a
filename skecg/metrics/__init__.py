"""Metrics: the official 2020 challenge numbers, per-class tables, scorers, bootstrap CIs, thresholds."""

import lazy_loader as _lazy

# submodules load on first use of one of their names
__getattr__, __dir__, _ = _lazy.attach(__name__, submod_attrs={
    "_challenge": ["challenge_metrics", "challenge_score"],
    "_compare": ["PairedDifference", "SeedSummary", "challenge_from_terms", "challenge_terms", "f1_terms",
        "grouped_bootstrap_ci", "macro_f1_from_terms", "paired_bootstrap", "paired_bootstrap_terms",
        "seed_mean_score", "seed_summary", "with_seed"],
    "_delineation": ["delineation_scores"],
    "_perclass": ["classification_table", "per_class_scores"],
    "_reference": ["REFERENCES", "REFERENCE_LABELS", "reference_predictions", "reference_table"],
    "_scorers": ["AUROCScorer", "BootstrapResult", "ChallengeScorer", "F1MacroScorer", "SCORING", "auroc_scorer",
        "bootstrap_ci", "challenge_scorer", "f1_macro_scorer", "labels_from_proba",
        "predict_with_proba", "proba_matrix", "read_challenge_outputs", "write_challenge_outputs"],
    "_thresholds": ["THRESHOLD_OBJECTIVES", "best_thresholds"],
})

__all__ = [
    "SCORING", "AUROCScorer", "BootstrapResult", "ChallengeScorer", "F1MacroScorer",
    "auroc_scorer", "best_thresholds", "bootstrap_ci", "challenge_metrics", "challenge_score", "challenge_scorer",
    "classification_table", "f1_macro_scorer", "labels_from_proba", "per_class_scores",
    "predict_with_proba", "proba_matrix", "read_challenge_outputs",
    "write_challenge_outputs", "THRESHOLD_OBJECTIVES", "delineation_scores",
    # reference classifiers, seeds and paired intervals
    "REFERENCES", "REFERENCE_LABELS", "reference_predictions", "reference_table",
    "PairedDifference", "SeedSummary", "grouped_bootstrap_ci", "paired_bootstrap", "seed_summary", "with_seed",
    # per-record terms of the challenge score and macro F1, for fast (paired) bootstraps
    "challenge_terms", "challenge_from_terms", "f1_terms", "macro_f1_from_terms", "seed_mean_score",
    "paired_bootstrap_terms",
]
