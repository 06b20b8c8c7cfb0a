"""Multilabel losses on logits: BCE, class-weighted BCE, and the Sign Loss of Zhu et al."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def sign_loss(logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """The Sign Loss of Zhu et al. for class imbalance.

    Binary cross-entropy where each label is weighted by ``y - 2py + p**2`` (that is
    ``(1-p)**2`` for a positive and ``p**2`` for a negative) when the prediction is on
    the right side, ``|y - p| < 0.5``, and by 1 otherwise: well-classified labels
    contribute little, wrong ones fully.  The weights are computed from the current
    prediction without gradient (they act as per-label weights).

    Examples
    --------
    >>> import torch
    >>> y = torch.tensor([[1.0, 0.0]])
    >>> bool(sign_loss(torch.tensor([[4.0, -4.0]]), y) < sign_loss(torch.tensor([[-4.0, 4.0]]), y))
    True
    """
    target = target.to(logits.dtype)
    with torch.no_grad():
        p = torch.sigmoid(logits)
        w = torch.where((target - p).abs() < 0.5, target - 2 * p * target + p * p, torch.ones_like(p))
    return F.binary_cross_entropy_with_logits(logits, target, weight=w, reduction=reduction)


class SignLoss(nn.Module):
    """Module form of :func:`sign_loss`."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, logits, target):
        return sign_loss(logits, target, self.reduction)


class WeightedBCEWithLogitsLoss(nn.BCEWithLogitsLoss):
    """BCE with per-class ``pos_weight`` (``n_negative / n_positive`` of the training
    labels, computed by :class:`ECGClassifier` in ``fit`` unless given)."""

    def __init__(self, pos_weight=None, reduction: str = "mean"):
        if pos_weight is not None and not isinstance(pos_weight, torch.Tensor):
            pos_weight = torch.as_tensor(pos_weight, dtype=torch.float32)
        super().__init__(pos_weight=pos_weight, reduction=reduction)


CRITERIA = {
    "bce": nn.BCEWithLogitsLoss,
    "weighted_bce": WeightedBCEWithLogitsLoss,
    "sign": SignLoss,
}
